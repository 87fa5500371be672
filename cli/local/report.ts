/** The report `openmb local` writes: what was sent and processed, and the middleboxes' outputs. */

export interface InstanceReport {
  name: string;
  packets: number;
}

export interface Report {
  middlebox: string;
  trace: string;
  packets: { sent: number; processed: number; dropped: number };
  instances: InstanceReport[];
  outputs: Record<string, unknown>;
  durationMs: number;
}

/**
 * Merges the outputs of several instances: list outputs concatenate (and are re-sorted by their
 * natural key), numeric totals add. With correct moves, every flow appears on one instance only.
 */
export function mergeOutputs(all: Record<string, unknown>[]): Record<string, unknown> {
  if (all.length === 1) return all[0];
  const out: Record<string, unknown> = {};
  for (const o of all) {
    for (const [k, v] of Object.entries(o)) {
      if (Array.isArray(v)) out[k] = [...((out[k] as unknown[]) ?? []), ...v];
      else if (typeof v === 'number') out[k] = ((out[k] as number) ?? 0) + v;
      else if (v && typeof v === 'object') out[k] = mergeOutputs(out[k] ? [out[k] as Record<string, unknown>, v as Record<string, unknown>] : [v as Record<string, unknown>]);
      else out[k] = v;
    }
  }
  return out;
}
