/**
 * The compact form of a bucket set in MiddleboxPool status (`status.instances[].buckets`):
 * sorted, comma-separated ranges, e.g. "0-15,32". The empty string is the empty set. The CRD's
 * `pattern` accepts exactly what formatBuckets produces (and parseBuckets reads).
 */

export class BucketRangeError extends Error {
  override readonly name = 'BucketRangeError';
}

/** "0-15,32" for {0..15, 32}; duplicates are ignored. */
export function formatBuckets(ids: Iterable<number>): string {
  const sorted = [...new Set(ids)].sort((a, b) => a - b);
  for (const id of sorted) {
    if (!Number.isSafeInteger(id) || id < 0) throw new BucketRangeError(`bucket ids must be non-negative integers, got ${id}`);
  }
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(j === i ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** The sorted ids of a compact range string; throws BucketRangeError on malformed input. */
export function parseBuckets(text: string): number[] {
  if (text === '') return [];
  const ids = new Set<number>();
  for (const part of text.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new BucketRangeError(`malformed bucket range ${JSON.stringify(part)} in ${JSON.stringify(text)}`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) throw new BucketRangeError(`bucket range ${part} is reversed`);
    if (hi - lo > 1 << 20) throw new BucketRangeError(`bucket range ${part} is too large`);
    for (let id = lo; id <= hi; id++) ids.add(id);
  }
  return [...ids].sort((a, b) => a - b);
}
