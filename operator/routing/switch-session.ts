/** The route controller's side of one steering switch's connection. */
import { EventEmitter } from 'node:events';
import type { Peer } from '../../shims/protocol/connection.js';
import type { FlowFilter } from '../../shims/flow/filter.js';
import { describeIssues, type EndedHold, type HoldInfo, type Rule, type RuleChange, switchReply, type SwitchStats } from '../../shims/protocol/messages.js';
import { RpcClient } from '../../shims/protocol/rpc.js';

export interface SwitchSessionEvents {
  close: [reason: string];
}

export class SwitchSession extends EventEmitter<SwitchSessionEvents> {
  private readonly rpc: RpcClient;

  constructor(readonly peer: Peer, readonly name: string) {
    super();
    this.rpc = new RpcClient(peer, new Set(), (msg) => {
      const parsed = switchReply.safeParse(msg);
      peer.log.warn({ name, msg: parsed.success ? parsed.data.type : describeIssues(parsed.error) }, 'unexpected message from switch');
    });
    peer.on('close', (reason) => this.emit('close', reason));
  }

  get closed(): boolean {
    return this.peer.isClosed;
  }

  /** Applies the changes atomically; resolves with the table version once they are in effect. */
  async flowMod(changes: RuleChange[]): Promise<number> {
    return (await this.rpc.request<{ version: number }>({ type: 'flow-mod', changes })).version;
  }

  /** Holds the filter's packets (or renews the hold); with `leaseMs` it lapses unless renewed; `renew` refuses to make a new one. */
  async hold(holdId: string, filter: FlowFilter, o: { leaseMs?: number; renew?: boolean } = {}): Promise<number> {
    return (await this.rpc.request<{ packets?: number }>({ type: 'hold', holdId, filter, ...o })).packets ?? 0;
  }

  /** Ends a hold, applying `changes` first in the same step; resolves with the packets it held and the table's version. */
  async release(holdId: string, changes?: RuleChange[]): Promise<{ count: number; version: number; dropped: number }> {
    const r = await this.rpc.request<{ count: number; version?: number; dropped?: number }>({ type: 'release', holdId, ...(changes ? { changes } : {}) });
    return { count: r.count, version: r.version ?? 0, dropped: r.dropped ?? 0 };
  }

  /** The holds in place, and how recent ones ended. */
  async holds(): Promise<{ holds: HoldInfo[]; ended: EndedHold[] }> {
    return this.rpc.request<{ holds: HoldInfo[]; ended: EndedHold[] }>({ type: 'get-holds' });
  }

  async barrier(): Promise<void> {
    await this.rpc.request({ type: 'barrier' });
  }

  async stats(): Promise<SwitchStats> {
    return (await this.rpc.request<{ stats: SwitchStats }>({ type: 'get-stats' })).stats;
  }

  /** Points the switch's egress at `address` (null: nowhere). */
  async setEgress(address: string | null): Promise<void> {
    await this.rpc.request({ type: 'set-egress', address });
  }

  async rules(): Promise<Rule[]> {
    return (await this.rpc.request<{ rules: Rule[] }>({ type: 'get-rules' })).rules;
  }
}
