/**
 * Capped exponential backoff, the one definition for everything that retries: a redial
 * (reconnect.ts), a failed reconcile (the operator's work queue), a broken watch (the informer).
 * The n-th consecutive failure waits base·2^(n-1), capped at max, optionally spread by ±jitter so
 * many clients that failed together do not retry together.
 */
export interface BackoffOptions {
  /** Delay after the first failure (ms). */
  baseMs: number;
  /** Longest delay (ms). */
  maxMs: number;
  /** Spread of each delay as a fraction of it (0.25: ±25%); none by default. */
  jitter?: number;
}

/** How long to wait after the `failures`-th consecutive failure (1 for the first). */
export function backoffDelay(o: BackoffOptions, failures: number, random: () => number = Math.random): number {
  const delay = Math.min(o.maxMs, o.baseMs * 2 ** Math.min(Math.max(failures, 1) - 1, 40));
  return o.jitter ? delay * (1 - o.jitter + 2 * o.jitter * random()) : delay;
}

/** Consecutive failures per key, and the delay each one earns. */
export class ExponentialBackoff<K> {
  private readonly failures = new Map<K, number>();

  constructor(private readonly o: BackoffOptions) {}

  /** Counts a failure of `key` and returns how long to wait before its next try. */
  next(key: K): number {
    const n = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, n);
    return backoffDelay(this.o, n);
  }

  failuresOf(key: K): number {
    return this.failures.get(key) ?? 0;
  }

  forget(key: K): void {
    this.failures.delete(key);
  }
}
