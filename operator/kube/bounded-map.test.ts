import test from 'ava';
import { BoundedMap } from './bounded-map.js';

test('a BoundedMap keeps the most recently set keys, a re-set key counting as new', (t) => {
  const m = new BoundedMap<string, number>(3);
  for (const k of ['a', 'b', 'c']) m.set(k, 1);
  m.set('a', 2);
  m.set('d', 1);
  t.deepEqual([...m.keys()], ['c', 'a', 'd']);
  t.is(m.get('a'), 2);
  for (let i = 0; i < 1000; i++) m.set(`k${i}`, i);
  t.is(m.size, 3);
  t.deepEqual([...m.keys()], ['k997', 'k998', 'k999']);
});
