/**
 * Balancing arithmetic for the planner: the final bucket count of each instance, and the
 * donor → receiver transfers that reach those counts.
 */

/** Buckets to hand out, in the order they are handed out. */
export interface Supply {
  from: string;
  buckets: number[];
}

/** A receiver and how many buckets it must receive. */
export interface Demand {
  to: string;
  count: number;
}

export interface Transfer {
  from: string;
  to: string;
  buckets: number[];
}

/**
 * Final counts for instances currently holding `counts` buckets (same order): they total
 * `buckets` and differ by at most one. The instances holding the most (ties: the earlier) get
 * the larger quotas, which keeps the most buckets in place: a larger quota keeps one bucket
 * more exactly where the instance holds more than the smaller quota.
 */
export function quotas(counts: readonly number[], buckets: number): number[] {
  const small = Math.floor(buckets / counts.length);
  const byCount = counts.map((_, i) => i).sort((a, b) => counts[b] - counts[a] || a - b);
  const out = counts.map(() => small);
  for (const i of byCount.slice(0, buckets % counts.length)) out[i] += 1;
  return out;
}

/**
 * Hands the supplies out, in order, to the demands, in order: one transfer per (from, to) pair,
 * each a slice of its supply. Total supply must equal total demand.
 */
export function transfers(supplies: readonly Supply[], demands: readonly Demand[]): Transfer[] {
  const out: Transfer[] = [];
  let d = 0;
  let received = 0; // by demands[d] so far
  for (const { from, buckets } of supplies) {
    for (let i = 0; i < buckets.length; ) {
      while (received === demands[d].count) {
        d += 1;
        received = 0;
      }
      const n = Math.min(buckets.length - i, demands[d].count - received);
      out.push({ from, to: demands[d].to, buckets: buckets.slice(i, i + n) });
      i += n;
      received += n;
    }
  }
  return out;
}
