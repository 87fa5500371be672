import test from 'ava';
import { backoffDelay } from './backoff.js';

test('backoff doubles from the base to the cap, and jitter spreads each delay within its fraction', (t) => {
  const o = { baseMs: 50, maxMs: 3000 };
  t.deepEqual([1, 2, 3, 4, 5, 6, 7, 8, 100, 10_000].map((n) => backoffDelay(o, n)), [50, 100, 200, 400, 800, 1600, 3000, 3000, 3000, 3000]);
  t.is(backoffDelay(o, 0), 50, 'no failure yet counts as the first');
  const j = { ...o, jitter: 0.25 };
  t.is(backoffDelay(j, 3, () => 0), 150);
  t.is(backoffDelay(j, 3, () => 1), 250);
  t.is(backoffDelay(j, 3, () => 0.5), 200);
});
