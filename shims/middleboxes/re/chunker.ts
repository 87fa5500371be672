/**
 * Content-defined chunking (as in LBFS, EndRE): a Rabin-Karp fingerprint over a sliding window of
 * the last `window` bytes marks a chunk boundary where it falls below a threshold, so boundaries
 * follow the content and an insertion early in a payload does not shift every later chunk.
 * Chunks are at least `minChunk` bytes (except a payload's last) and at most `maxChunk`.
 *
 * Also the chunk identity: a 53-bit content hash (a safe integer, so it keys a Map without
 * allocation). Identities may collide; the cache compares bytes before it trusts one.
 */

export interface ChunkParams {
  window: number;
  minChunk: number;
  averageChunk: number;
  maxChunk: number;
}

/** The polynomial base of the fingerprint (odd, so multiplication by it is invertible mod 2^32). */
const BASE = 0x5bd1e995;

/** splitmix32: a fixed seed gives the same byte table in every process (encoder and decoder). */
function byteTable(seed: number): Int32Array {
  const t = new Int32Array(256);
  let s = seed | 0;
  for (let i = 0; i < 256; i++) {
    s = (s + 0x9e3779b9) | 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    t[i] = z ^ (z >>> 16);
  }
  return t;
}

/** Random values per byte: the fingerprint sums them, so every bit depends on the window's bytes. */
const ROLL = byteTable(0x52450001);
const MIX = byteTable(0x52450002);

/**
 * A position past the minimum is a boundary when its fingerprint (unsigned) is below this: with
 * probability 1 / (average - min) per byte, so chunks average about `averageChunk` (a bit less,
 * as `maxChunk` cuts the longest).
 */
export function boundaryThreshold(p: ChunkParams): number {
  return Math.floor(2 ** 32 / Math.max(1, p.averageChunk - p.minChunk));
}

/** The Rabin-Karp fingerprint of data[from, to): sum of ROLL[byte] × BASE^(bytes after it), mod 2^32. */
export function fingerprint(data: Uint8Array, from: number, to: number): number {
  let fp = 0;
  for (let i = from; i < to; i++) fp = (Math.imul(fp, BASE) + ROLL[data[i]]) | 0;
  return fp;
}

/** b^e mod 2^32 by squaring (a window may be large). */
function powMod32(b: number, e: number): number {
  let r = 1;
  for (; e > 0; e = Math.floor(e / 2)) {
    if (e % 2 === 1) r = Math.imul(r, b);
    b = Math.imul(b, b);
  }
  return r;
}

export class Chunker {
  private readonly threshold: number;
  /** BASE^window mod 2^32: the weight of the byte that leaves the window. */
  private readonly outWeight: number;
  /** End offsets (exclusive) of the chunks of the last split; grown, never shrunk. */
  ends = new Int32Array(64);

  constructor(readonly params: ChunkParams) {
    this.threshold = boundaryThreshold(params);
    this.outWeight = powMod32(BASE, params.window);
  }

  /**
   * Splits data[start, end) and returns the number of chunks; chunk i ends at `ends[i]`. The
   * fingerprint at position p covers the window of bytes ending at p (fewer at the payload's
   * start); it is only tested from `minChunk` bytes into a chunk, so the first bytes of a chunk are
   * skipped and the window is primed just before the first position tested.
   */
  split(data: Uint8Array, start: number, end: number): number {
    const { window, minChunk, maxChunk } = this.params;
    const most = Math.ceil((end - start) / minChunk) + 1;
    if (this.ends.length < most) this.ends = new Int32Array(most * 2);
    const ends = this.ends;
    const threshold = this.threshold;
    const outWeight = this.outWeight;
    const full = start + window;
    let n = 0;
    let s = start;
    while (end - s > minChunk) {
      const stop = Math.min(s + maxChunk, end);
      const test = s + minChunk - 1;
      let fp = fingerprint(data, Math.max(start, test + 1 - window), test + 1);
      let i = test + 1;
      if (fp >>> 0 < threshold) {
        i = test;
      } else if (test + 1 >= full) {
        // The common case: the window is full from here on, so a byte leaves at every step.
        for (; i < stop; i++) {
          fp = (Math.imul(fp, BASE) + ROLL[data[i]] - Math.imul(ROLL[data[i - window]], outWeight)) | 0;
          if (fp >>> 0 < threshold) break;
        }
      } else {
        for (; i < stop; i++) {
          fp = (Math.imul(fp, BASE) + ROLL[data[i]]) | 0;
          if (i >= full) fp = (fp - Math.imul(ROLL[data[i - window]], outWeight)) | 0;
          if (fp >>> 0 < threshold) break;
        }
      }
      s = i < stop ? i + 1 : stop;
      ends[n++] = s;
    }
    if (s < end) ends[n++] = end;
    return n;
  }
}

function fmix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * The identity of data[start, end): two 32-bit lanes over little-endian 4-byte words (murmur3's
 * word mix, then a different state update per lane), 21 + 32 bits of them kept.
 */
export function chunkId(data: Uint8Array, start: number, end: number): number {
  const len = end - start;
  let h1 = 0x811c9dc5 ^ len;
  let h2 = 0x27d4eb2f ^ Math.imul(len, 0x9e3779b1);
  let i = start;
  for (const words = end - 3; i < words; i += 4) {
    let k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
    h1 ^= k;
    h1 = (Math.imul((h1 << 13) | (h1 >>> 19), 5) + 0xe6546b64) | 0;
    h2 = Math.imul(h2 ^ k, 0x2545f491);
    h2 = (h2 << 11) | (h2 >>> 21);
  }
  for (; i < end; i++) {
    const b = data[i];
    h1 = Math.imul(h1 ^ b, 0x01000193);
    h2 = Math.imul(h2 ^ MIX[b], 0x2545f491);
  }
  return (fmix32(h1) >>> 11) * 0x100000000 + fmix32(h2 ^ h1);
}

/** Largest chunk id + 1: ids are safe integers below 2^53. */
export const CHUNK_ID_LIMIT = 2 ** 53;
