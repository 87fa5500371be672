/**
 * Request/reply over a Peer: ids are assigned here; streamed partial replies (`state` chunks)
 * go to the caller's callback; the terminal reply resolves, an `error` reply rejects, and no
 * reply within the timeout (counted from the request or its latest partial reply) rejects too,
 * so a peer that hangs never stalls its caller.
 */
import type { Peer } from './connection.js';

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

  request<T extends Record<string, unknown>>(message: Record<string, unknown>, onPartial?: (reply: Record<string, unknown>) => void): Promise<T> {
    const id = this.nextId++;
    if (this.peer.isClosed) return Promise.reject(new Error(`connection closed: ${this.peer.closeReason}`));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        // A reply after this is unsolicited: the caller has moved on.
        this.pending.delete(id);
        reject(new RpcTimeoutError(`no reply to ${String(message.type)} within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      timer.unref();
      this.pending.set(id, { resolve: resolve as Pending['resolve'], reject, onPartial, timer });
      this.peer.send({ ...message, id });
    });
  }

  get inFlight(): number {
    return this.pending.size;
  }
}
