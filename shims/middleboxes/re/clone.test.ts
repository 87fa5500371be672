/**
 * Clone and merge of the all-flows cache between instances, through the southbound get/put: a
 * cloned instance starts warm and both keep encoding for one decoder without a failure; merging
 * caches gives the same state whatever order the puts come in.
 */
import test from 'ava';
import type { Chunk } from '../../protocol/messages.js';
import { flowBucket, getChunks, putChunks, reDecoder, reInstance, tracePackets } from './testing.js';

interface Out {
  bytesSaved: number;
  hits: number;
  cache: { entries: number; bytes: number; limit: number };
}

/** As the state would travel between processes. */
function overTheWire(chunks: Chunk[]): Chunk[] {
  return JSON.parse(JSON.stringify(chunks)) as Chunk[];
}

const packets = tracePackets('tryzeek_sumstat.pcap');
const half = Math.floor(packets.length / 2);

function secondHalfSavings(warm: boolean): { a: Out; b: Out; failures: number } {
  const decoder = reDecoder();
  const a = reInstance(decoder);
  const b = reInstance(decoder);
  for (const p of packets.slice(0, half)) a.receive(p);
  if (warm) putChunks(b, 'all-flows', overTheWire(getChunks(a, 'all-flows')));
  for (const p of packets.slice(half)) (flowBucket(p, 2) === 0 ? a : b).receive(p);
  const failures = (decoder.report() as { decodeFailures: number }).decodeFailures;
  return { a: a.outputs() as unknown as Out, b: b.outputs() as unknown as Out, failures };
}

test('a clone of the cache starts warm, and both instances keep decoding with no failure', (t) => {
  const cold = secondHalfSavings(false);
  const warm = secondHalfSavings(true);
  t.log(`second instance saved ${cold.b.bytesSaved} bytes cold, ${warm.b.bytesSaved} with the cloned cache`);
  t.is(cold.failures, 0);
  t.is(warm.failures, 0);
  t.true(warm.b.bytesSaved > cold.b.bytesSaved);
  t.deepEqual(warm.a, cold.a, 'the source is not changed by being cloned');
});

test('a cloned cache equals its source, and cloning copies no counters', (t) => {
  const decoder = reDecoder();
  const a = reInstance(decoder);
  for (const p of packets.slice(0, half)) a.receive(p);
  const b = reInstance(decoder);
  const state = getChunks(a, 'all-flows');
  putChunks(b, 'all-flows', overTheWire(state));
  t.deepEqual(getChunks(b, 'all-flows'), state);
  const out = b.outputs() as unknown as Out & { bytesIn: number };
  t.is(out.bytesIn, 0);
  t.deepEqual(out.cache, (a.outputs() as unknown as Out).cache);
});

/** Two instances with disjoint halves of the flows, small caches (so merging must drop some). */
function twoCaches(limit: number) {
  const decoder = reDecoder({ cacheBytes: limit });
  const a = reInstance(decoder, { cacheBytes: limit });
  const b = reInstance(decoder, { cacheBytes: limit });
  const cut = Math.floor(packets.length * 0.6);
  for (const p of packets.slice(0, cut)) (flowBucket(p, 2) === 0 ? a : b).receive(p);
  return { decoder, a, b, rest: packets.slice(cut) };
}

test('merging two caches gives the same state whatever order the puts come in', (t) => {
  const limit = 64 * 1024;
  const { a, b } = twoCaches(limit);
  const fromA = overTheWire(getChunks(a, 'all-flows'));
  const fromB = overTheWire(getChunks(b, 'all-flows'));
  const ab = reInstance(reDecoder());
  putChunks(ab, 'all-flows', fromA);
  putChunks(ab, 'all-flows', fromB);
  const ba = reInstance(reDecoder());
  putChunks(ba, 'all-flows', fromB);
  putChunks(ba, 'all-flows', fromA);
  const both = reInstance(reDecoder());
  putChunks(both, 'all-flows', [...fromB, ...fromA]);
  const merged = getChunks(ab, 'all-flows');
  t.deepEqual(getChunks(ba, 'all-flows'), merged);
  t.deepEqual(getChunks(both, 'all-flows'), merged);
  const again = reInstance(reDecoder());
  putChunks(again, 'all-flows', overTheWire(merged));
  t.deepEqual(getChunks(again, 'all-flows'), merged, 'a merged cache travels on unchanged');
  const sizes = [a, b, ab].map((mb) => (mb.outputs() as unknown as Out).cache);
  t.log(`caches of ${sizes[0].bytes} and ${sizes[1].bytes} bytes merge into ${sizes[2].bytes} (bound ${limit})`);
  t.true(sizes[0].bytes + sizes[1].bytes > limit, 'the union does not fit, so the merge had to choose');
  t.true(sizes[2].bytes <= limit);
  t.true(sizes[2].bytes > limit - 1024);
});

test('an instance holding the merged caches keeps encoding for the same decoder with no failure', (t) => {
  const limit = 64 * 1024;
  const { decoder, a, b, rest } = twoCaches(limit);
  const c = reInstance(decoder, { cacheBytes: limit });
  putChunks(c, 'all-flows', overTheWire(getChunks(a, 'all-flows')));
  putChunks(c, 'all-flows', overTheWire(getChunks(b, 'all-flows')));
  for (const p of rest) c.receive(p);
  const out = c.outputs() as unknown as Out;
  const report = decoder.report() as { decodeFailures: number; decoded: number };
  t.log(`merged instance: ${out.hits} hits, ${out.bytesSaved} bytes saved on the last 40%; decoder: ${report.decoded} decoded`);
  t.true(out.hits > 0);
  t.is(report.decodeFailures, 0);
});

test('all-flows state of another instance that is not a cache is refused, and nothing changes', (t) => {
  const decoder = reDecoder();
  const a = reInstance(decoder);
  for (const p of packets.slice(0, 200)) a.receive(p);
  const before = getChunks(a, 'all-flows');
  t.throws(() => putChunks(a, 'all-flows', [{ scope: 'all-flows', key: null, state: { limit: 10, clock: 1, entries: [[1, 1, 'AA==']] } }]),
    { message: 'chunks[0]: entries[0]: id 1 is not the id of its bytes' });
  t.deepEqual(getChunks(a, 'all-flows'), before);
});
