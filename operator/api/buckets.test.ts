import test from 'ava';
import { BucketRangeError, formatBuckets, parseBuckets } from './buckets.js';

test('formats sorted ranges, merging runs and ignoring order and duplicates', (t) => {
  t.is(formatBuckets([]), '');
  t.is(formatBuckets([7]), '7');
  t.is(formatBuckets([32, ...Array.from({ length: 16 }, (_, i) => 15 - i), 3]), '0-15,32');
  t.is(formatBuckets([1, 2, 4, 5, 6, 9]), '1-2,4-6,9');
});

test('parse inverts format', (t) => {
  for (const ids of [[], [0], [0, 1, 2, 3, 10, 12, 13, 4095], Array.from({ length: 64 }, (_, i) => i * 2)]) {
    t.deepEqual(parseBuckets(formatBuckets(ids)), ids);
  }
  t.deepEqual(parseBuckets('3,0-2'), [0, 1, 2, 3]);
});

test('refuses malformed text and ids', (t) => {
  for (const bad of ['0-', ',1', '1,,2', 'a', '5-3', '-1', '1 ,2']) {
    t.throws(() => parseBuckets(bad), { instanceOf: BucketRangeError }, bad);
  }
  t.throws(() => formatBuckets([-1]), { instanceOf: BucketRangeError });
  t.throws(() => formatBuckets([1.5]), { instanceOf: BucketRangeError });
});
