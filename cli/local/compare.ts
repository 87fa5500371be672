/** Differences between two runs' outputs: each list output compared as a multiset of records. */

export interface Comparison {
  equal: boolean;
  /** Per output name: records only in the scaled run, and records only in the reference. */
  differences: Record<string, { onlyScaled: number; onlyReference: number; examples: unknown[] }>;
}

export function compareOutputs(scaled: Record<string, unknown>, reference: Record<string, unknown>): Comparison {
  const differences: Comparison['differences'] = {};
  for (const name of new Set([...Object.keys(scaled), ...Object.keys(reference)])) {
    const a = scaled[name];
    const b = reference[name];
    if (!Array.isArray(a) || !Array.isArray(b)) {
      if (JSON.stringify(a) !== JSON.stringify(b)) differences[name] = { onlyScaled: 1, onlyReference: 1, examples: [{ scaled: a, reference: b }] };
      continue;
    }
    const counts = new Map<string, number>();
    for (const r of b) { const k = JSON.stringify(r); counts.set(k, (counts.get(k) ?? 0) + 1); }
    const onlyScaled: unknown[] = [];
    for (const r of a) {
      const k = JSON.stringify(r);
      const n = counts.get(k) ?? 0;
      if (n > 0) counts.set(k, n - 1);
      else onlyScaled.push(r);
    }
    const onlyReference = [...counts.values()].reduce((x, y) => x + y, 0);
    if (onlyScaled.length > 0 || onlyReference > 0) differences[name] = { onlyScaled: onlyScaled.length, onlyReference, examples: onlyScaled.slice(0, 3) };
  }
  return { equal: Object.keys(differences).length === 0, differences };
}
