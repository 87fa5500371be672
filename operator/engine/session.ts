/**
 * The controller's side of one middlebox's southbound connection: typed calls, with `get`
 * streaming chunks to a callback.
 */
import { EventEmitter } from 'node:events';
import type { Peer } from '../../shims/protocol/connection.js';
import type { FlowFilter } from '../../shims/flow/filter.js';
import type { Chunk, MbCounters, Scope } from '../../shims/protocol/messages.js';
import type { MiddleboxDescriptor } from '../../shims/protocol/descriptor.js';
import { mbReply, describeIssues } from '../../shims/protocol/messages.js';
import { RpcClient } from '../../shims/protocol/rpc.js';

export interface MbSessionEvents {
  close: [reason: string];
}

const PARTIALS = new Set(['state']);

export class MbSession extends EventEmitter<MbSessionEvents> {
  private readonly rpc: RpcClient;
  /** Per-flow entries at the last stats reply: what is lost, at most, if this instance dies. */
  lastEntries: number | null = null;

  /** `descriptor`: what the instance said of its middlebox in its hello (older instances say nothing). */
  constructor(readonly peer: Peer, readonly pool: string, readonly instance: string, readonly mbType: string, readonly descriptor?: MiddleboxDescriptor) {
    super();
    this.rpc = new RpcClient(peer, PARTIALS, (msg) => {
      const parsed = mbReply.safeParse(msg);
      peer.log.warn({ instance, msg: parsed.success ? parsed.data.type : describeIssues(parsed.error) }, 'unexpected message from middlebox');
    });
    peer.on('close', (reason) => this.emit('close', reason));
  }

  get closed(): boolean {
    return this.peer.isClosed;
  }

  async get(scope: Scope, filter: FlowFilter, onChunks: (chunks: Chunk[]) => void): Promise<number> {
    const ack = await this.rpc.request<{ count: number }>({ type: 'get', scope, filter }, (m) => onChunks((m as { chunks: Chunk[] }).chunks));
    return ack.count;
  }

  /** `op`: the operation the chunks belong to; the instance skips any it already took under it. */
  async put(scope: Scope, chunks: Chunk[], op?: string): Promise<number> {
    return (await this.rpc.request<{ count: number }>({ type: 'put', scope, chunks, ...(op ? { op } : {}) })).count;
  }

  async del(scope: Scope, filter: FlowFilter): Promise<number> {
    return (await this.rpc.request<{ count: number }>({ type: 'del', scope, filter })).count;
  }

  /** The configuration the instance runs, and its generation (0: never numbered by a put-config). */
  async getConfig(): Promise<{ values: Record<string, unknown>; generation: number }> {
    const r = await this.rpc.request<{ values: Record<string, unknown>; generation?: number }>({ type: 'get-config' });
    return { values: r.values, generation: r.generation ?? 0 };
  }

  /** Reconfigures the instance (it refuses a configuration its middlebox does not accept, and keeps its own). */
  async putConfig(values: Record<string, unknown>, generation?: number): Promise<void> {
    await this.rpc.request({ type: 'put-config', values, ...(generation !== undefined ? { generation } : {}) });
  }

  async stats(withBytes = false): Promise<MbCounters> {
    const counters = (await this.rpc.request<{ counters: MbCounters }>({ type: 'get-stats', bytes: withBytes })).counters;
    this.lastEntries = counters.entries['per-flow'];
    return counters;
  }

  async outputs(): Promise<Record<string, unknown>> {
    return (await this.rpc.request<{ outputs: Record<string, unknown> }>({ type: 'get-outputs' })).outputs;
  }

  close(): void {
    this.peer.close('closed locally');
  }
}
