import test from 'ava';
import { ChunkCache, mergeCaches } from './cache.js';
import { chunkId } from './chunker.js';
import { cacheCodec } from './state.js';

/** A chunk of `len` bytes all equal to `fill`. */
function chunk(fill: number, len = 100): Buffer {
  return Buffer.alloc(len, fill);
}

function put(c: ChunkCache, b: Buffer): number {
  const id = chunkId(b, 0, b.length);
  const hit = c.find(id, b, 0, b.length);
  if (hit) c.touch(id, hit);
  else c.store(id, b, 0, b.length);
  return id;
}

/** The fills of the cached chunks, least recently used first. */
function fills(c: ChunkCache): number[] {
  return [...c.entries.values()].map((e) => c.view(e)[0]);
}

test('evicts the least recently used chunk first', (t) => {
  const c = new ChunkCache(300);
  put(c, chunk(1));
  put(c, chunk(2));
  put(c, chunk(3));
  t.deepEqual(fills(c), [1, 2, 3]);
  put(c, chunk(1)); // a hit: 1 becomes the most recent
  put(c, chunk(4));
  t.deepEqual(fills(c), [3, 1, 4]);
  t.is(c.bytes, 300);
  t.is(c.clock, 5);
  t.deepEqual([...c.entries.values()].map((e) => e.stamp), [3, 4, 5]);
});

test('a chunk evicts as many old ones as it needs', (t) => {
  const c = new ChunkCache(300);
  put(c, chunk(1));
  put(c, chunk(2));
  put(c, chunk(3));
  put(c, chunk(4, 250));
  t.deepEqual(fills(c), [4]);
  t.is(c.bytes, 250);
});

test('find compares bytes, not only the id; a colliding chunk replaces the cached one', (t) => {
  const c = new ChunkCache(1000);
  const a = chunk(1);
  const b = chunk(2);
  c.store(7, a, 0, a.length);
  t.truthy(c.find(7, a, 0, a.length));
  t.is(c.find(7, b, 0, b.length), undefined);
  t.is(c.find(7, a, 0, 99), undefined);
  c.store(7, b, 0, b.length);
  t.is(c.entries.size, 1);
  t.is(c.bytes, 100);
  t.truthy(c.find(7, b, 0, b.length));
});

test('chunks keep their bytes across arena compactions', (t) => {
  const c = new ChunkCache(1000);
  for (let i = 0; i < 500; i++) put(c, chunk(i % 256, 10 + (i % 90)));
  t.true(c.bytes <= 1000);
  for (const [id, e] of c.entries) {
    const v = c.view(e);
    t.is(chunkId(v, 0, v.length), id);
    t.deepEqual(v, chunk(v[0], e.len));
  }
  t.deepEqual(fills(c), [224, 225, 226, 227, 228, 229, 230, 231, 232, 233, 234, 235, 236, 237, 238, 239, 240, 241, 242, 243]);
});

test('fit shrinks to a smaller bound by evicting the oldest', (t) => {
  const c = new ChunkCache(1000);
  for (let i = 1; i <= 8; i++) put(c, chunk(i));
  c.fit(350);
  t.deepEqual(fills(c), [6, 7, 8]);
  t.is(c.limit, 350);
  put(c, chunk(9));
  t.deepEqual(fills(c), [7, 8, 9]);
});

function cacheOf(limit: number, fillsInOrder: number[], lens: number[] = []): ChunkCache {
  const c = new ChunkCache(limit);
  fillsInOrder.forEach((f, i) => put(c, chunk(f, lens[i] ?? 100)));
  return c;
}

const json = (c: ChunkCache) => cacheCodec.encode(c);

test('merging keeps the most recent chunks of the union that fit, by logical time', (t) => {
  const a = cacheOf(400, [1, 2, 3, 4]); // stamps 1..4
  const b = cacheOf(400, [5, 6, 2]); // stamps 1..3
  const m = mergeCaches(a, b);
  // By (stamp, id): 1@1, 5@1, 6@2, 2@3 (b's), 3@3, 4@4 — the last four fit.
  t.deepEqual(new Set(fills(m)), new Set([6, 2, 3, 4]));
  t.is(m.bytes, 400);
  t.is(m.clock, 4);
  t.deepEqual(json(m), json(mergeCaches(b, a)));
  // Stamps from two clocks tie (2 and 3 both at 3): the state still travels, ties ordered by id.
  t.deepEqual(json(cacheCodec.decode(JSON.parse(JSON.stringify(json(m))))), json(m));
});

test('merging into a fresh cache gives the same cache back', (t) => {
  const a = cacheOf(450, [1, 2, 3, 1, 4, 5, 6], [100, 90, 80, 100, 70, 60, 120]);
  t.deepEqual(json(mergeCaches(cacheCodec.init(), a)), json(a));
  t.deepEqual(json(mergeCaches(a, cacheCodec.init())), json(a));
});

test('merges of several caches are the same in any order', (t) => {
  const caches = [cacheOf(500, [1, 2, 3, 4, 5]), cacheOf(500, [3, 6, 7, 1]), cacheOf(500, [8, 2, 9, 10, 11, 12]), cacheOf(300, [13, 1])];
  const orders = [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1], [1, 3, 0, 2]];
  const results = orders.map((o) => json(o.reduce((acc, i) => mergeCaches(acc, caches[i]), cacheCodec.init())));
  for (const r of results) t.deepEqual(r, results[0]);
  const tree = json(mergeCaches(mergeCaches(caches[0], caches[1]), mergeCaches(caches[2], caches[3])));
  t.deepEqual(tree, results[0]);
});

test('for an id in both caches the more recent entry wins', (t) => {
  const a = cacheOf(1000, [1, 2]); // 1@1
  const b = cacheOf(1000, [3, 4, 1]); // 1@3
  const m = mergeCaches(a, b);
  t.is(m.get(chunkId(chunk(1), 0, 100))!.stamp, 3);
  t.is(m.entries.size, 4);
});

test('a chunk larger than the whole cache is not kept', (t) => {
  const c = cacheOf(150, [1]);
  put(c, chunk(2, 200));
  t.deepEqual(fills(c), [1]);
  t.is(c.bytes, 100);
});
