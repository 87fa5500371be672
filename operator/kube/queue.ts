/**
 * A work queue of object keys, in the manner of client-go's: a key is queued at most once, is
 * handed to one worker at a time (a key re-added while it is being processed is queued again
 * when that worker is done), and failed keys come back after an exponential, per-key backoff.
 * Time comes from an injected clock, so tests run without sleeping.
 */
import { ExponentialBackoff, type BackoffOptions } from '../../shims/protocol/backoff.js';

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 200, maxMs: 60_000 };

export class WorkQueue<K = string> {
  private readonly queue: K[] = [];
  /** Keys waiting to be processed (queued, or re-added while being processed). */
  private readonly dirty = new Set<K>();
  private readonly processing = new Set<K>();
  /** Delayed adds, earliest wins. */
  private readonly delayed = new Map<K, { at: number; handle: unknown }>();
  private readonly waiters: ((k: K | undefined) => void)[] = [];
  private shuttingDown = false;
  readonly backoff: ExponentialBackoff<K>;

  constructor(private readonly clock: Clock = systemClock, backoff: BackoffOptions = DEFAULT_BACKOFF) {
    this.backoff = new ExponentialBackoff<K>(backoff);
  }

  get length(): number {
    return this.queue.length;
  }

  get closed(): boolean {
    return this.shuttingDown;
  }

  add(key: K): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return; // queued again by done()
    const waiter = this.waiters.shift();
    if (waiter) {
      this.dirty.delete(key);
      this.processing.add(key);
      waiter(key);
    } else {
      this.queue.push(key);
    }
  }

  /** Adds the key after `ms`; an earlier pending delayed add of the same key wins. */
  addAfter(key: K, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const at = this.clock.now() + ms;
    const pending = this.delayed.get(key);
    if (pending && pending.at <= at) return;
    if (pending) this.clock.clearTimeout(pending.handle);
    const handle = this.clock.setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    this.delayed.set(key, { at, handle });
  }

  /** Adds the key after its backoff delay, which doubles with each failure until `forget`. */
  addRateLimited(key: K): number {
    const ms = this.backoff.next(key);
    this.addAfter(key, ms);
    return ms;
  }

  /** The key succeeded: its next failure starts from the base delay again. */
  forget(key: K): void {
    this.backoff.forget(key);
  }

  /** The next key to process, or undefined once the queue is shut down. Call done(key) after. */
  get(): Promise<K | undefined> {
    const key = this.queue.shift();
    if (key !== undefined) {
      this.dirty.delete(key);
      this.processing.add(key);
      return Promise.resolve(key);
    }
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  done(key: K): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) {
      this.dirty.delete(key);
      this.add(key);
    }
  }

  isProcessing(key: K): boolean {
    return this.processing.has(key);
  }

  shutDown(): void {
    this.shuttingDown = true;
    for (const { handle } of this.delayed.values()) this.clock.clearTimeout(handle);
    this.delayed.clear();
    for (const w of this.waiters.splice(0)) w(undefined);
  }
}

/** What a reconcile asks of the queue when it returns normally. */
export interface Result {
  /** Reconcile again after this many ms (e.g. a periodic resync, or "not yet"). */
  requeueAfter?: number;
  /** Reconcile again right away (e.g. more steps to do after a spec change). */
  requeue?: boolean;
}

/**
 * Runs `workers` loops taking keys from the queue. A reconcile that throws is retried with
 * backoff; one that returns forgets the key's failures and may ask to be requeued.
 */
export async function runWorkers<K>(queue: WorkQueue<K>, workers: number, reconcile: (key: K) => Promise<Result | void>,
  onError: (key: K, err: Error, retryInMs: number) => void): Promise<void> {
  const loop = async () => {
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      try {
        const r = await reconcile(key);
        queue.forget(key);
        if (r?.requeue) queue.addAfter(key, 0);
        else if (r?.requeueAfter !== undefined) queue.addAfter(key, r.requeueAfter);
      } catch (e) {
        onError(key, e as Error, queue.addRateLimited(key));
      } finally {
        queue.done(key);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, workers) }, loop));
}
