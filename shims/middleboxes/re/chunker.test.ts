import test from 'ava';
import { boundaryThreshold, CHUNK_ID_LIMIT, chunkId, Chunker, type ChunkParams, fingerprint } from './chunker.js';

/** Deterministic bytes (xorshift32), so every assertion below is exact. */
function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    b[i] = s & 0xff;
  }
  return b;
}

/**
 * The definition, written plainly: a fingerprint over the last `window` bytes (fewer at the
 * start), recomputed from scratch at every position, tested from minChunk bytes into a chunk.
 */
function referenceSplit(p: ChunkParams, data: Uint8Array, start: number, end: number): number[] {
  const threshold = boundaryThreshold(p);
  const ends: number[] = [];
  let s = start;
  for (let i = start; i < end; i++) {
    const len = i + 1 - s;
    if (len < p.minChunk) continue;
    const from = Math.max(start, i + 1 - p.window);
    if (len >= p.maxChunk || fingerprint(data, from, i + 1) >>> 0 < threshold) {
      ends.push(i + 1);
      s = i + 1;
    }
  }
  if (s < end) ends.push(end);
  return ends;
}

function split(c: Chunker, data: Uint8Array, start: number, end: number): number[] {
  const n = c.split(data, start, end); // may grow `ends`: read it after
  return Array.from(c.ends.subarray(0, n));
}

const PARAMS: ChunkParams[] = [
  { window: 16, minChunk: 32, averageChunk: 128, maxChunk: 1024 },
  { window: 48, minChunk: 12, averageChunk: 16, maxChunk: 64 },
  { window: 1, minChunk: 1, averageChunk: 8, maxChunk: 40 },
  { window: 300, minChunk: 64, averageChunk: 64, maxChunk: 64 },
  { window: 8, minChunk: 20, averageChunk: 20, maxChunk: 100 },
];

for (const p of PARAMS) {
  test(`split follows the definition (window ${p.window}, min ${p.minChunk}, average ${p.averageChunk}, max ${p.maxChunk})`, (t) => {
    const c = new Chunker(p);
    const data = bytes(20000, 0x1234567);
    for (const [start, end] of [[0, 20000], [7, 1500], [100, 101], [3000, 3000 + p.minChunk], [5000, 5000 + p.minChunk + 1]]) {
      t.deepEqual(split(c, data, start, end), referenceSplit(p, data, start, end), `[${start}, ${end})`);
    }
  });
}

test('chunks keep within min and max, and average about the configured size', (t) => {
  const p = PARAMS[0];
  const c = new Chunker(p);
  const data = bytes(1 << 20, 99);
  const ends = split(c, data, 0, data.length);
  let s = 0;
  for (const [i, e] of ends.entries()) {
    const len = e - s;
    t.true(len <= p.maxChunk);
    if (i < ends.length - 1) t.true(len >= p.minChunk);
    s = e;
  }
  t.is(ends.length, 8259);
  t.is(Math.round(data.length / ends.length), 127);
});

test('boundaries follow the content: bytes inserted in front shift no later chunk', (t) => {
  const c = new Chunker(PARAMS[0]);
  const data = bytes(8000, 7);
  const shifted = Buffer.concat([bytes(77, 8), data]);
  const chunksOf = (b: Buffer) => {
    const ends = split(c, b, 0, b.length);
    return ends.map((e, i) => b.subarray(i === 0 ? 0 : ends[i - 1], e).toString('hex'));
  };
  const a = chunksOf(data);
  const b = chunksOf(shifted);
  // After the first chunk or two, both cut at the same content.
  t.deepEqual(b.slice(b.length - (a.length - 1)), a.slice(1));
});

test('the boundary threshold makes a boundary once per (average - min) bytes', (t) => {
  t.is(boundaryThreshold(PARAMS[0]), 44739242);
  t.is(boundaryThreshold({ window: 16, minChunk: 32, averageChunk: 32, maxChunk: 64 }), 2 ** 32);
  t.is(boundaryThreshold({ window: 16, minChunk: 1, averageChunk: 65535, maxChunk: 65535 }), 65538);
});

test('a chunk id depends on the bytes only, and is a safe integer', (t) => {
  const data = bytes(4096, 5);
  const copy = Buffer.concat([Buffer.from('xyz'), data]);
  t.is(chunkId(data, 100, 300), chunkId(copy, 103, 303));
  t.not(chunkId(data, 100, 300), chunkId(data, 100, 299));
  const changed = Buffer.from(data);
  changed[250] ^= 1;
  t.not(chunkId(data, 100, 300), chunkId(changed, 100, 300));
  const ids = new Set<number>();
  for (let s = 0; s + 64 <= data.length; s++) ids.add(chunkId(data, s, s + 64));
  t.is(ids.size, data.length - 63);
  for (const id of ids) t.true(Number.isSafeInteger(id) && id >= 0 && id < CHUNK_ID_LIMIT);
});

test('chunk ids are pinned: encoder and decoder may run different builds', (t) => {
  const hello = Buffer.from('GET / HTTP/1.1\r\nHost: example.org\r\n\r\n');
  t.is(chunkId(hello, 0, hello.length), 4815298153432850);
  t.is(chunkId(hello, 0, 13), 6546528766968438);
});
