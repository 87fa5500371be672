/**
 * Request/reply over a Peer: ids are assigned here; streamed partial replies (binary state
 * batches, progress messages) go to the caller's callback; the terminal reply resolves, an `error` reply rejects, and no
 * reply within the timeout (counted from the request or its latest partial reply) rejects too,
 * so a peer that hangs never stalls its caller.
 */
import type { Peer } from './connection.js';
import { readStateFrame, type StateFrame } from './state-frames.js';

export class RemoteError extends Error {
  constructor(readonly code: string, message: string) {
    super(`${code}: ${message}`);
    this.name = 'RemoteError';
  }
}

interface Pending {
  resolve: (reply: Record<string, unknown>) => void;
  reject: (err: Error) => void;
  onPartial?: (reply: Record<string, unknown>) => void;
  timer: NodeJS.Timeout;
}

/** How long a request waits for its reply (or its next partial reply) by default. */
export const RPC_TIMEOUT_MS = 30_000;

export class RpcTimeoutError extends Error {}

export class RpcClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  /** `partialTypes` are reply types that stream before the terminal one. */
  constructor(private readonly peer: Peer, private readonly partialTypes: ReadonlySet<string>,
    private readonly onUnsolicited: (msg: Record<string, unknown>) => void, private readonly timeoutMs = RPC_TIMEOUT_MS) {
    peer.on('json', (msg) => this.onMessage(msg));
    peer.on('state', (payload) => this.onState(payload));
    peer.on('close', (reason) => {
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(new Error(`connection closed: ${reason}`));
      }
      this.pending.clear();
    });
  }

  private onMessage(msg: unknown): void {
    if (msg === null || typeof msg !== 'object' || msg instanceof Error) {
      this.peer.close(`unparseable reply: ${msg instanceof Error ? msg.message : typeof msg}`);
      return;
    }
    const m = msg as Record<string, unknown>;
    const id = typeof m.id === 'number' ? m.id : null;
    const p = id === null ? undefined : this.pending.get(id);
    if (!p) {
      this.onUnsolicited(m);
      return;
    }
    if (this.partialTypes.has(m.type as string)) {
      p.timer.refresh();
      p.onPartial?.(m);
      return;
    }
    clearTimeout(p.timer);
    this.pending.delete(id!);
    if (m.type === 'error') p.reject(new RemoteError(String(m.cause), String(m.message)));
    else p.resolve(m);
  }

  /** A binary state batch: a partial reply of the request it names (a get's). */
  private onState(payload: Buffer): void {
    let frame: StateFrame;
    try {
      frame = readStateFrame(payload);
    } catch (e) {
      this.peer.close(`broken state frame: ${(e as Error).message}`);
      return;
    }
    const p = frame.kind === 'state' ? this.pending.get(frame.id) : undefined;
    if (!p) {
      this.onUnsolicited({ type: `${frame.kind} frame`, id: frame.id });
      return;
    }
    p.timer.refresh();
    p.onPartial?.({ type: 'state', id: frame.id, frame });
  }

  request<T extends Record<string, unknown>>(message: Record<string, unknown>, onPartial?: (reply: Record<string, unknown>) => void): Promise<T> {
    return this.start(String(message.type), (id) => this.peer.send({ ...message, id }), onPartial);
  }

  /** A request that is one binary frame, built for its id (a put of a state batch). */
  requestFrame<T extends Record<string, unknown>>(what: string, frame: (id: number) => readonly Buffer[]): Promise<T> {
    return this.start(what, (id) => this.peer.sendParts(frame(id)));
  }

  private start<T>(what: string, send: (id: number) => void, onPartial?: (reply: Record<string, unknown>) => void): Promise<T> {
    const id = this.nextId++;
    if (this.peer.isClosed) return Promise.reject(new Error(`connection closed: ${this.peer.closeReason}`));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        // A reply after this is unsolicited: the caller has moved on.
        this.pending.delete(id);
        reject(new RpcTimeoutError(`no reply to ${what} within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      timer.unref();
      this.pending.set(id, { resolve: resolve as Pending['resolve'], reject, onPartial, timer });
      send(id);
    });
  }

  get inFlight(): number {
    return this.pending.size;
  }
}
