/**
 * A bounded set of recently contacted keys with the time of their latest contact, for windowed
 * distinct counts: "more than T distinct keys within W seconds" holds exactly when the T+1 most
 * recent keys all fall in the window, so keeping only those T+1 loses nothing. Keys are ordered by
 * time, then key, so contacts at the same time give the same set in any order. The union of two
 * sets (latest time per key, the most recent N kept) is the same in any merge order.
 */

export class RecentSet {
  /** key → time of its latest contact, oldest first (ties in key order). */
  readonly map = new Map<string, number>();
  private newest = -Infinity;
  /** The keys contacted at `newest` (the end of `map`), in key order. */
  private tail: string[] = [];

  /** From [key, time] pairs (a set's own `encode` gives them in order). */
  constructor(pairs: Iterable<readonly [string, number]> = []) {
    let sorted = true;
    let prev: readonly [string, number] | null = null;
    for (const p of pairs) {
      if (prev && comparePairs(prev, p) > 0) sorted = false;
      this.map.set(p[0], p[1]);
      prev = p;
    }
    if (sorted) this.findTail();
    else this.resort();
  }

  get size(): number {
    return this.map.size;
  }

  /** Records a contact with `key` at `ts`, keeping the `cap` most recent keys. */
  touch(key: string, ts: number, cap: number): void {
    const had = this.map.get(key);
    if (had !== undefined) {
      if (had >= ts) return;
      this.map.delete(key);
    }
    if (ts > this.newest) {
      this.map.set(key, ts);
      this.newest = ts;
      this.tail.length = 0;
      this.tail.push(key);
    } else if (ts === this.newest) {
      // Into the keys of the same time, in key order: those after it are moved behind it.
      const tail = this.tail;
      let i = tail.length;
      while (i > 0 && tail[i - 1] > key) i--;
      if (i === tail.length) {
        this.map.set(key, ts);
        tail.push(key);
      } else {
        const after = tail.slice(i);
        for (const k of after) this.map.delete(k);
        this.map.set(key, ts);
        for (const k of after) this.map.set(k, ts);
        tail.splice(i, 0, key);
      }
    } else {
      this.map.set(key, ts);
      this.resort(); // a contact earlier than one already seen: rare, so a full sort is fine
    }
    while (this.map.size > cap) {
      const oldest = this.map.keys().next().value!;
      this.map.delete(oldest);
      if (this.tail[0] === oldest) this.tail.shift();
    }
  }

  /** True when `count` keys are held and the oldest of them was contacted after `since`. */
  allAfter(count: number, since: number): boolean {
    return this.map.size >= count && this.map.values().next().value! > since;
  }

  keys(): IterableIterator<string> {
    return this.map.keys();
  }

  clone(): RecentSet {
    return new RecentSet(this.map);
  }

  encode(): [string, number][] {
    return [...this.map];
  }

  private findTail(): void {
    this.newest = -Infinity;
    this.tail = [];
    for (const [k, t] of this.map) {
      if (t > this.newest) {
        this.newest = t;
        this.tail = [k];
      } else {
        this.tail.push(k);
      }
    }
  }

  private resort(): void {
    const sorted = sortPairs([...this.map]);
    this.map.clear();
    for (const [k, t] of sorted) this.map.set(k, t);
    this.findTail();
  }

  /** Checks a value `encode` gave: pairs of a string and a time, oldest first, keys distinct, at most `max`. */
  static decode(j: unknown, what: string, max: number): RecentSet {
    if (!Array.isArray(j)) throw new Error(`${what} must be an array of [key, time] pairs`);
    if (j.length > max) throw new Error(`${what} holds ${j.length} keys, more than ${max}`);
    const seen = new Set<string>();
    let prev = -Infinity;
    for (const p of j) {
      if (!Array.isArray(p) || p.length !== 2 || typeof p[0] !== 'string' || typeof p[1] !== 'number' || !Number.isFinite(p[1])) {
        throw new Error(`${what}: ${JSON.stringify(p)} is not a [key, time] pair`);
      }
      if (p[1] < prev) throw new Error(`${what}: times must not decrease, ${p[1]} follows ${prev}`);
      if (seen.has(p[0])) throw new Error(`${what}: key ${JSON.stringify(p[0])} appears twice`);
      seen.add(p[0]);
      prev = p[1];
    }
    return new RecentSet(j as [string, number][]);
  }

  /** The union with the latest time per key, the `cap` most recent kept. */
  static merge(a: RecentSet, b: RecentSet, cap: number): RecentSet {
    const union = new Map(a.map);
    for (const [k, t] of b.map) {
      const had = union.get(k);
      if (had === undefined || t > had) union.set(k, t);
    }
    return new RecentSet(sortPairs([...union]).slice(-cap));
  }
}

function comparePairs(x: readonly [string, number], y: readonly [string, number]): number {
  return x[1] - y[1] || (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0);
}

function sortPairs(pairs: [string, number][]): [string, number][] {
  return pairs.sort(comparePairs);
}
