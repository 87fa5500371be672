import test from 'ava';
import { ChunkCache } from './cache.js';
import { chunkId } from './chunker.js';
import { cacheCodec, flowCodec, hostCodec } from './state.js';

const flow = { payloadPackets: 3, bytesIn: 3000, encodedBytes: 1200, bytesSaved: 1700, chunks: 20, hits: 12 };

test('flow counters travel as a six-number array and come back equal', (t) => {
  t.deepEqual(flowCodec.encode(flow), [3, 3000, 1200, 1700, 20, 12]);
  t.deepEqual(flowCodec.decode(flowCodec.encode(flow)), flow);
});

const badFlows: [unknown, string][] = [
  [{ packets: 1 }, 'flow state must be [payloadPackets, bytesIn, encodedBytes, bytesSaved, chunks, hits]'],
  [[1, 2, 3, 4, 5], 'flow state must be [payloadPackets, bytesIn, encodedBytes, bytesSaved, chunks, hits]'],
  [[1, 2, 3, -4, 5, 6], 'flow counters must be non-negative integers'],
  [[1, 2, 3, 0, 5, 6], 'hits 6 exceed chunks looked up 5'],
  [[1, 2, 3, 4, 5, 5], 'bytesSaved 4 exceeds bytesIn 2'],
];
for (const [state, message] of badFlows) {
  test(`flow state ${JSON.stringify(state)} is refused`, (t) => {
    t.is(t.throws(() => flowCodec.decode(state))!.message, message);
  });
}

test('multi-flow state is an empty object', (t) => {
  t.deepEqual(hostCodec.decode({}), {});
  t.is(t.throws(() => hostCodec.decode({ hosts: 1 }))!.message, 're keeps no multi-flow state: it must be {}');
  t.is(t.throws(() => hostCodec.decode(null))!.message, 're keeps no multi-flow state: it must be {}');
});

function sample(): ChunkCache {
  const c = new ChunkCache(1000);
  for (const s of ['first chunk of bytes', 'second chunk of bytes', 'third chunk of bytes']) {
    const b = Buffer.from(s);
    c.store(chunkId(b, 0, b.length), b, 0, b.length);
  }
  const again = Buffer.from('first chunk of bytes');
  const id = chunkId(again, 0, again.length);
  c.touch(id, c.get(id)!);
  return c;
}

test('the cache travels with its order and clock and comes back equal', (t) => {
  const c = sample();
  const j = cacheCodec.encode(c) as { limit: number; clock: number; entries: [number, number, string][] };
  t.is(j.limit, 1000);
  t.is(j.clock, 4);
  t.deepEqual(j.entries.map(([, stamp, text]) => [stamp, Buffer.from(text, 'base64').toString()]),
    [[2, 'second chunk of bytes'], [3, 'third chunk of bytes'], [4, 'first chunk of bytes']]);
  const back = cacheCodec.decode(JSON.parse(JSON.stringify(j)));
  t.deepEqual(cacheCodec.encode(back), j);
  t.is(back.bytes, c.bytes);
});

function withEntries(edit: (entries: [number, number, string][]) => unknown[]): unknown {
  const j = cacheCodec.encode(sample()) as { entries: [number, number, string][] };
  return { ...j, entries: edit(j.entries.map((e) => [...e] as [number, number, string])) };
}

const badCaches: [string, unknown, string][] = [
  ['not an object', [], 'cache state must be {limit, clock, entries}'],
  ['an unknown field', { limit: 10, clock: 0, entries: [], order: 'lru' }, 'unknown cache field(s): order'],
  ['a negative limit', { limit: -1, clock: 0, entries: [] }, 'limit and clock must be non-negative integers'],
  // Found by the state fuzz: at 2^53 the clock no longer counts, new stamps repeat old ones, and a get then gave a cache no put takes.
  ['a clock past 2^52', { limit: 10, clock: 2 ** 53, entries: [] }, 'clock must be at most 2^52, leaving it room to count, got 9007199254740992'],
  ['entries not an array', { limit: 10, clock: 0, entries: {} }, 'entries must be an array of [id, stamp, base64 bytes]'],
  ['a short entry', withEntries((e) => [e[0].slice(0, 2)]), 'entries[0] must be [id, stamp, base64 bytes]'],
  ['an id past 2^53', withEntries((e) => [[2 ** 53, e[0][1], e[0][2]]]), 'entries[0]: id must be an integer in [0, 2^53)'],
  ['stamps out of order', withEntries((e) => [e[1], e[0], e[2]]), 'entries[1]: entries must go by (stamp, id), least recently used first, with stamps from 1 to the clock 4'],
  ['a stamp past the clock', withEntries((e) => [[e[0][0], 9, e[0][2]]]), 'entries[0]: entries must go by (stamp, id), least recently used first, with stamps from 1 to the clock 4'],
  ['a zero stamp', withEntries((e) => [[e[0][0], 0, e[0][2]]]), 'entries[0]: entries must go by (stamp, id), least recently used first, with stamps from 1 to the clock 4'],
  ['bytes not base64', withEntries((e) => [[e[0][0], e[0][1], 'not base64!']]), 'entries[0]: bytes must be base64'],
  ['empty bytes', withEntries((e) => [[e[0][0], e[0][1], '']]), 'entries[0]: a chunk has 1 to 65535 bytes, got 0'],
  ['an id that is not of its bytes', withEntries((e) => [[e[0][0], e[0][1], e[1][2]]]), `entries[0]: id ${(cacheCodec.encode(sample()) as { entries: [number][] }).entries[0][0]} is not the id of its bytes`],
  ['equal stamps out of id order', withEntries((e) => (e[0][0] < e[1][0] ? [[e[1][0], 2, e[1][2]], [e[0][0], 2, e[0][2]]] : [[e[0][0], 2, e[0][2]], [e[1][0], 2, e[1][2]]])),
    'entries[1]: entries must go by (stamp, id), least recently used first, with stamps from 1 to the clock 4'],
  ['the same id twice', withEntries((e) => [e[0], [e[0][0], 4, e[0][2]]]), `entries[1]: id ${(cacheCodec.encode(sample()) as { entries: [number][] }).entries[0][0]} appears twice`],
  ['more bytes than the limit', { ...(withEntries((e) => e) as object), limit: 50 }, 'entries[2]: the entries hold more than the limit of 50 bytes'],
];
for (const [name, state, message] of badCaches) {
  test(`cache state with ${name} is refused`, (t) => {
    t.is(t.throws(() => cacheCodec.decode(state))!.message, message);
  });
}
