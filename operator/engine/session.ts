/**
 * The controller's side of one middlebox's southbound connection: typed calls, with `get`
 * streaming binary state batches to a callback, and `transfer` following a direct transfer.
 */
import { EventEmitter } from 'node:events';
import type { Peer } from '../../shims/protocol/connection.js';
import type { FlowFilter } from '../../shims/flow/filter.js';
import type { Chunk, MbCounters, Scope } from '../../shims/protocol/messages.js';
import type { MiddleboxDescriptor } from '../../shims/protocol/descriptor.js';
import { mbReply, describeIssues } from '../../shims/protocol/messages.js';
import { RpcClient } from '../../shims/protocol/rpc.js';
import { decodeChunks, encodeChunks, type StateBatch, stateFrame, type StateFrame } from '../../shims/protocol/state-frames.js';

export interface MbSessionEvents {
  close: [reason: string];
}

const PARTIALS = new Set(['state', 'transfer-progress']);

/** What a transfer's destination acked: chunks (of them, skipped as already taken under the op) and body bytes. */
export interface TransferProgress {
  count: number;
  bytes: number;
  skipped: number;
}

export class MbSession extends EventEmitter<MbSessionEvents> {
  private readonly rpc: RpcClient;
  /** Per-flow entries at the last stats reply: what is lost, at most, if this instance dies. */
  lastEntries: number | null = null;

  /**
   * `descriptor`: what the instance said of its middlebox in its hello (older instances say
   * nothing); `peerAddress`: where its peers put state into it, when it listens for them.
   */
  constructor(readonly peer: Peer, readonly pool: string, readonly instance: string, readonly mbType: string, readonly descriptor?: MiddleboxDescriptor,
    readonly peerAddress?: string) {
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

  /** Streams the matching state as the instance encoded it; resolves with the chunks and body bytes sent. */
  async getBatches(scope: Scope, filter: FlowFilter, onBatch: (batch: StateBatch) => void): Promise<{ count: number; bytes: number }> {
    const ack = await this.rpc.request<{ count: number; bytes?: number }>({ type: 'get', scope, filter }, (m) => onBatch((m as { frame: StateFrame }).frame));
    return { count: ack.count, bytes: ack.bytes ?? 0 };
  }

  /** The matching state with each chunk's state parsed: for whoever looks inside (tests, dumps). */
  async get(scope: Scope, filter: FlowFilter, onChunks: (chunks: Chunk[]) => void): Promise<number> {
    return (await this.getBatches(scope, filter, (b) => onChunks(decodeChunks(b)))).count;
  }

  /** Puts a batch as another instance encoded it. `op`: the operation it belongs to; the instance skips chunks it already took under it. */
  async putBatch(batch: StateBatch, op?: string): Promise<{ count: number; skipped: number }> {
    const ack = await this.rpc.requestFrame<{ count: number; skipped?: number }>('put', (id) => stateFrame('put', id, batch, op));
    return { count: ack.count, skipped: ack.skipped ?? 0 };
  }

  async put(scope: Scope, chunks: Chunk[], op?: string): Promise<number> {
    return (await this.putBatch(encodeChunks(scope, chunks), op)).count;
  }

  /**
   * Has this instance put the matching state straight into `to` under `op` (a direct transfer);
   * `onProgress` hears each batch `to` acked. Rejects when `to` has no peer listener.
   */
  async transfer(scope: Scope, filter: FlowFilter, op: string, to: MbSession, onProgress: (p: TransferProgress) => void): Promise<TransferProgress> {
    if (!to.peerAddress) throw new Error(`instance ${to.instance} has no peer listener`);
    const ack = await this.rpc.request<TransferProgress & Record<string, unknown>>({ type: 'transfer', scope, filter, op, to: { instance: to.instance, address: to.peerAddress } },
      (m) => onProgress(m as unknown as TransferProgress));
    return { count: ack.count, bytes: ack.bytes, skipped: ack.skipped };
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
