/**
 * The chunk cache: chunk id → bytes, bounded by the bytes it holds, evicting the least recently
 * used chunk first. Recency is a logical clock kept in the state (each lookup that hits and each
 * insertion takes the next tick), so the cache serializes with its order and two caches merge by
 * one rule: keep the most recent chunks of their union that fit.
 *
 * Both sides use this class: the encoder's all-flows state, and the decoder's mirror, which sees
 * the same hits and insertions in the same order (references and literal chunks in packets).
 *
 * Chunk bytes live in one arena of twice the bound, appended at its top; when the top reaches the
 * end, the live chunks are copied to a fresh arena in LRU order. A copy per chunk byte inserted at
 * most, and no allocation per chunk (which, at a few chunks per packet, dominated the time).
 */

export interface CacheEntry {
  /** Where the chunk's bytes are in the arena. */
  off: number;
  readonly len: number;
  /** Logical time of the last lookup that hit or of the insertion. */
  stamp: number;
}

export class ChunkCache {
  /** Least recently used first: Map order is stamp order, since every touch re-inserts. */
  readonly entries = new Map<number, CacheEntry>();
  /** Chunk bytes held (entry overhead is not counted). */
  bytes = 0;
  clock = 0;
  private arena: Buffer;
  private top = 0;

  /** `limit` 0 is a cache that has not been configured yet (a fresh instance's initial state). */
  constructor(public limit: number) {
    this.arena = Buffer.allocUnsafeSlow(2 * limit);
  }

  /** The entry for `id` if it holds exactly data[start, end). */
  find(id: number, data: Buffer, start: number, end: number): CacheEntry | undefined {
    const e = this.entries.get(id);
    if (!e || e.len !== end - start) return undefined;
    const a = this.arena;
    const d = start - e.off;
    for (let i = e.off, stop = e.off + e.len; i < stop; i++) if (a[i] !== data[i + d]) return undefined;
    return e;
  }

  get(id: number): CacheEntry | undefined {
    return this.entries.get(id);
  }

  /** The bytes of an entry, as a view that is valid until the next insertion. */
  view(e: CacheEntry): Buffer {
    return this.arena.subarray(e.off, e.off + e.len);
  }

  /** Copies an entry's bytes into `to` at `at`. */
  copyOut(e: CacheEntry, to: Buffer, at: number): void {
    this.arena.copy(to, at, e.off, e.off + e.len);
  }

  /** Marks a hit: the entry becomes the most recently used. */
  touch(id: number, e: CacheEntry): void {
    this.entries.delete(id);
    e.stamp = ++this.clock;
    this.entries.set(id, e);
  }

  /**
   * Inserts a copy of data[start, end) under `id` as the most recent entry, replacing a colliding
   * one. A chunk larger than the whole cache is not kept (only a decoder configured smaller than
   * its encoders meets one, and then counts the reference to it as missing).
   */
  store(id: number, data: Buffer, start: number, end: number): void {
    const len = end - start;
    if (len > this.limit) return;
    const old = this.entries.get(id);
    if (old) {
      this.bytes -= old.len;
      this.entries.delete(id);
    }
    while (this.bytes + len > this.limit) this.evictOldest();
    this.append(id, data, start, end, ++this.clock);
  }

  /** Adds an entry newer than every other one; the caller keeps `bytes` within `limit`. */
  append(id: number, data: Buffer, start: number, end: number, stamp: number): void {
    const len = end - start;
    if (this.top + len > this.arena.length) this.compact(this.arena.length);
    data.copy(this.arena, this.top, start, end);
    this.entries.set(id, { off: this.top, len, stamp });
    this.top += len;
    this.bytes += len;
  }

  /** Adopts a new bound (a configuration change), evicting to fit it. */
  fit(limit: number): void {
    this.limit = limit;
    while (this.bytes > limit) this.evictOldest();
    this.compact(2 * limit);
  }

  private evictOldest(): void {
    const oldest = this.entries.keys().next().value as number;
    this.bytes -= this.entries.get(oldest)!.len;
    this.entries.delete(oldest);
  }

  /** Moves the live chunks, in LRU order, to the start of a fresh arena of `size` bytes. */
  private compact(size: number): void {
    const from = this.arena;
    const to = Buffer.allocUnsafeSlow(size);
    let top = 0;
    for (const e of this.entries.values()) {
      from.copy(to, top, e.off, e.off + e.len);
      e.off = top;
      top += e.len;
    }
    this.arena = to;
    this.top = top;
  }
}

/** For the same id in two caches, `x` is kept over `y`: the more recent, then (a collision) the larger bytes. */
function preferred(xc: ChunkCache, x: CacheEntry, yc: ChunkCache, y: CacheEntry): boolean {
  return x.stamp > y.stamp || (x.stamp === y.stamp && Buffer.compare(xc.view(x), yc.view(y)) > 0);
}

/**
 * The union of two caches within the larger bound: for an id in both, the more recent entry; then
 * the most recent entries that fit, stopping at the first that does not (what LRU eviction of the
 * union would leave). Symmetric, and the same whatever order several caches merge in.
 */
export function mergeCaches(a: ChunkCache, b: ChunkCache): ChunkCache {
  const union = new Map<number, { from: ChunkCache; e: CacheEntry }>();
  for (const [id, e] of a.entries) union.set(id, { from: a, e });
  for (const [id, e] of b.entries) {
    const have = union.get(id);
    if (!have || preferred(b, e, have.from, have.e)) union.set(id, { from: b, e });
  }
  const byAge = [...union].sort((x, y) => x[1].e.stamp - y[1].e.stamp || x[0] - y[0]);
  const limit = Math.max(a.limit, b.limit);
  let first = byAge.length;
  let bytes = 0;
  while (first > 0 && bytes + byAge[first - 1][1].e.len <= limit) bytes += byAge[--first][1].e.len;
  const out = new ChunkCache(limit);
  for (let i = first; i < byAge.length; i++) {
    const [id, { from, e }] = byAge[i];
    out.append(id, from.view(e), 0, e.len, e.stamp);
  }
  out.clock = Math.max(a.clock, b.clock);
  return out;
}
