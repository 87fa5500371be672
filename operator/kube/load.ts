/**
 * The load of every instance the operator runs, as it polls their sessions' stats: packets
 * processed over a sliding window (packets per second), flows and state bytes. The /metrics
 * endpoint and the custom metrics API (for an HPA) both read it, so neither polls on its own and
 * both agree. Serializing an instance's state to size it walks every table, so state bytes are
 * read less often than the counters.
 */
import type { MbCounters } from '../../shims/protocol/messages.js';
import type { PoolRegistry } from './pool-registry.js';

/** What the sampler needs of one pool the operator runs. */
export interface SampledPool {
  /** "namespace/name" */
  key: string;
  instances: readonly string[];
  /** The instance's counters, or null when it is not connected; `withBytes` sizes its state too. */
  stats(instance: string, withBytes: boolean): Promise<MbCounters | null>;
}

export interface InstanceLoad {
  /** null while there is one reading only (a new instance): no rate yet, rather than a 0. */
  packetsPerSecond: number | null;
  /** The span the rate was measured over. */
  windowSeconds: number;
  /** When the latest reading was taken (ms since the epoch). */
  at: number;
  packetsProcessed: number;
  flows: number;
  /** Serialized state, every scope (null until first sized). */
  stateBytes: number | null;
}

export interface LoadSamplerOptions {
  intervalMs?: number;
  windowMs?: number;
  /** Size the state every this many readings. */
  bytesEvery?: number;
  now?: () => number;
}

interface Reading {
  at: number;
  packets: number;
  flows: number;
}

interface History {
  readings: Reading[];
  stateBytes: number | null;
  taken: number;
}

export class LoadSampler {
  private readonly history = new Map<string, Map<string, History>>();
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private readonly intervalMs: number;
  private readonly windowMs: number;
  private readonly bytesEvery: number;
  private readonly now: () => number;

  constructor(private readonly pools: () => Iterable<SampledPool>, o: LoadSamplerOptions = {}) {
    this.intervalMs = o.intervalMs ?? 5000;
    this.windowMs = o.windowMs ?? 30_000;
    this.bytesEvery = o.bytesEvery ?? 6;
    this.now = o.now ?? Date.now;
  }

  start(): void {
    const tick = () => {
      this.timer = null;
      void this.sample().finally(() => {
        if (this.timer === null && this.running) this.timer = setTimeout(tick, this.intervalMs).unref();
      });
    };
    this.running = true;
    tick();
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** One reading of every instance; forgets pools and instances that are gone. */
  async sample(): Promise<void> {
    const seen = new Map<string, Set<string>>();
    const reads: Promise<void>[] = [];
    for (const pool of this.pools()) {
      seen.set(pool.key, new Set(pool.instances));
      const byInstance = this.history.get(pool.key) ?? new Map<string, History>();
      this.history.set(pool.key, byInstance);
      for (const name of pool.instances) {
        const h = byInstance.get(name) ?? { readings: [], stateBytes: null, taken: 0 };
        byInstance.set(name, h);
        const withBytes = h.taken % this.bytesEvery === 0;
        reads.push(pool.stats(name, withBytes).catch(() => null).then((c) => { if (c) this.record(h, c); }));
      }
    }
    await Promise.all(reads);
    for (const [key, byInstance] of this.history) {
      const live = seen.get(key);
      if (!live) this.history.delete(key);
      else for (const name of byInstance.keys()) if (!live.has(name)) byInstance.delete(name);
    }
  }

  private record(h: History, c: MbCounters): void {
    const at = this.now();
    h.taken++;
    // A new process under the same name (a replaced Pod) starts from 0: measure from it alone.
    if (h.readings.length > 0 && c.packetsProcessed < h.readings[h.readings.length - 1].packets) h.readings = [];
    h.readings.push({ at, packets: c.packetsProcessed, flows: c.entries['per-flow'] });
    while (h.readings.length > 2 && h.readings[1].at <= at - this.windowMs) h.readings.shift();
    if (c.bytes) h.stateBytes = Object.values(c.bytes).reduce((a, b) => a + b, 0);
  }

  /** The instance's load, or undefined when it has no reading recent enough to stand for it. */
  instance(pool: string, instance: string): InstanceLoad | undefined {
    const h = this.history.get(pool)?.get(instance);
    const last = h?.readings[h.readings.length - 1];
    if (!h || !last || last.at < this.now() - 3 * this.intervalMs) return undefined;
    const first = h.readings[0];
    const span = last.at - first.at;
    return {
      packetsPerSecond: span > 0 ? (last.packets - first.packets) / (span / 1000) : null,
      windowSeconds: Math.round(span / 1000), at: last.at, packetsProcessed: last.packets, flows: last.flows, stateBytes: h.stateBytes,
    };
  }

  /** Every instance with a load, by pool. */
  *instances(): Generator<{ pool: string; instance: string; load: InstanceLoad }> {
    for (const [pool, byInstance] of this.history) {
      for (const instance of byInstance.keys()) {
        const load = this.instance(pool, instance);
        if (load) yield { pool, instance, load };
      }
    }
  }

  /** The pools sampled, with the instances each has now. */
  poolKeys(): string[] {
    return [...this.history.keys()];
  }

  /**
   * A pool's load: the sum of its instances' (an instance without a recent reading or a rate yet
   * counts none); no rate while none of its instances has one. A pool of no instances has 0.
   */
  pool(pool: string): InstanceLoad | undefined {
    const byInstance = this.history.get(pool);
    if (!byInstance) return undefined;
    const loads = [...byInstance.keys()].map((i) => this.instance(pool, i)).filter((l) => l !== undefined);
    const rated = loads.filter((l) => l.packetsPerSecond !== null);
    return {
      packetsPerSecond: byInstance.size > 0 && rated.length === 0 ? null : rated.reduce((a, l) => a + l.packetsPerSecond!, 0),
      windowSeconds: Math.max(0, ...rated.map((l) => l.windowSeconds)),
      at: Math.max(0, ...loads.map((l) => l.at)) || this.now(),
      packetsProcessed: loads.reduce((a, l) => a + l.packetsProcessed, 0),
      flows: loads.reduce((a, l) => a + l.flows, 0),
      stateBytes: loads.some((l) => l.stateBytes !== null) ? loads.reduce((a, l) => a + (l.stateBytes ?? 0), 0) : null,
    };
  }
}

/** The pools a registry runs, as the sampler reads them. */
export function registryPools(registry: PoolRegistry): () => Iterable<SampledPool> {
  return () => [...registry.states.values()].map((st) => ({
    key: st.key,
    instances: st.actual.placement.instances,
    stats: async (instance: string, withBytes: boolean) => (await st.engine.session(instance)?.stats(withBytes)) ?? null,
  }));
}
