import test from 'ava';
import fc from 'fast-check';
import { FLOWS_PER_PART, moveParts, partFilter, partHoldId, unmovedFilter } from './parts.js';

const buckets = (ids: number[], key: 'flow' | 'host' = 'flow') => ({ buckets: { key, of: 64, ids } });

test('a move goes in one part per FLOWS_PER_PART flows, at most one per bucket, and in one when its state does not split by bucket', (t) => {
  const ids = Array.from({ length: 32 }, (_, i) => i);
  t.is(moveParts(buckets(ids), ['per-flow'], 50_000), Math.ceil(50_000 / FLOWS_PER_PART));
  t.is(moveParts(buckets(ids), ['per-flow'], 10), 1);
  t.is(moveParts(buckets([1, 2, 3]), ['per-flow'], 1_000_000), 3);
  t.is(moveParts(buckets([5]), ['per-flow'], 1_000_000), 1);
  t.is(moveParts({ nwSrc: '10.0.0.0/8' }, ['per-flow'], 1_000_000), 1, 'not a bucket set');
  t.is(moveParts(buckets(ids), ['per-flow', 'multi-flow'], 1_000_000), 1, "a host's state spans the buckets of a flow key");
  t.is(moveParts(buckets(ids, 'host'), ['per-flow', 'multi-flow'], 1_000_000), 32);
  t.is(moveParts(buckets(ids), ['all-flows'], 1_000_000), 1);
});

test('the parts cover the move\'s buckets exactly once, in order, each with its own hold; the unmoved ones are the part under way and those after it', (t) => {
  fc.assert(fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 63 }), { minLength: 1, maxLength: 64 }), fc.integer({ min: 1, max: 64 }), (raw, wanted) => {
    const ids = [...raw].sort((a, b) => a - b);
    const parts = Math.min(wanted, ids.length);
    const filter = { ...buckets(ids), except: [{ tpDst: 22 }] };
    const seen: number[] = [];
    const holds = new Set<string>();
    for (let part = 0; part < parts; part++) {
      const s = { id: 'move-1.abc', filter, parts, part };
      const f = partFilter(s);
      t.deepEqual(f.except, filter.except);
      seen.push(...f.buckets!.ids);
      t.deepEqual(unmovedFilter(s).buckets!.ids, ids.slice(seen.length - f.buckets!.ids.length));
      holds.add(partHoldId(s));
    }
    t.deepEqual(seen, ids);
    t.is(holds.size, parts);
  }));
  t.is(partHoldId({ id: 'move-1.abc' }), 'move-1.abc', 'a move in one part holds under its own id');
  t.deepEqual(partFilter({ filter: buckets([1, 2]) }), buckets([1, 2]));
});
