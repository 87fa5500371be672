/**
 * Feeds a pool's timeline by polling it: every interval, the packets each instance has processed,
 * where every bucket is routed, and every operation that changed. Polling rather than hooks into
 * the reconcilers, so that every operation the pool's controller runs shows, whoever ran it.
 */
import type { OperationStatus } from '../engine/operation.js';
import type { TimelineFeed } from './feed.js';

/** What the sampler reads of a pool. */
export interface PoolProbe {
  instances(): readonly string[];
  /** Packets the instance has processed, or null when it is not connected. */
  processed(instance: string): Promise<number | null>;
  owner(): readonly (string | null)[];
  /** The operations running now and those that ended, in any order. */
  operations(): Iterable<OperationStatus>;
}

/** An instance that takes longer than this to say its count is left out of that sample. */
const READ_TIMEOUT_MS = 2000;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<null>((resolve) => { timer = setTimeout(() => resolve(null), ms).unref(); });
  return Promise.race([p.catch(() => null), late]).finally(() => clearTimeout(timer));
}

export class PoolSampler {
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;

  constructor(private readonly feed: TimelineFeed, private readonly probe: PoolProbe, private readonly intervalMs: number) {}

  get running(): boolean {
    return this.timer !== null;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      // A slow poll (an instance slow to answer) is not stacked on: the next tick waits for it.
      this.ticking ??= this.tick().finally(() => { this.ticking = null; });
    }, this.intervalMs);
    this.timer.unref();
  }

  /** Stops polling; resolves once a poll under way has ended. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.ticking;
  }

  /** One poll. */
  async tick(): Promise<void> {
    const names = [...this.probe.instances()];
    const counts = await Promise.all(names.map((n) => withTimeout(this.probe.processed(n), READ_TIMEOUT_MS)));
    const processed: Record<string, number> = {};
    names.forEach((n, i) => { if (counts[i] !== null) processed[n] = counts[i]!; });
    if (names.length > 0) this.feed.sample(processed);
    this.feed.placement(names, this.probe.owner());
    for (const s of this.probe.operations()) if (!this.feed.finished(s.id)) this.feed.operation(s);
  }
}
