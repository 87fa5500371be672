/** The feed: what it records, what a watcher gets, and its bound; the sampler's poll. */
import test from 'ava';
import { newOperationStatus } from '../engine/operation.js';
import { TimelineFeed } from './feed.js';
import type { TimelineMessage } from './messages.js';
import { PoolSampler } from './sampler.js';

const HELLO = { pool: 'ns/p', middlebox: 'monitor', buckets: 4 };

test('an operation is recorded once per change, as a copy; a placement only when it changes', (t) => {
  const feed = new TimelineFeed(HELLO);
  const got: TimelineMessage[] = [];
  feed.subscribe((m) => got.push(m));
  const s = newOperationStatus('move', ['a'], 'b', {}, ['per-flow'], 'loss-free');
  s.phase = 'Running';
  t.true(feed.operation(s));
  t.false(feed.operation(s), 'unchanged');
  s.timeline.getStart = s.timeline.start + 1;
  t.true(feed.operation(s), 'a step began');
  t.false(feed.finished(s.id));
  s.phase = 'Succeeded';
  feed.operation(s);
  t.true(feed.finished(s.id));
  feed.placement(['a'], ['a', 'a', 'a', 'a']);
  feed.placement(['a'], ['a', 'a', 'a', 'a']);
  feed.placement(['a', 'b'], ['a', 'a', 'b', 'b']);
  t.deepEqual(got.map((m) => m.type), ['operation', 'operation', 'operation', 'placement', 'placement']);
  const first = got[0];
  t.true(first.type === 'operation' && first.op.phase === 'Running' && first.op.timeline.getStart === undefined, 'the message kept the status as it was');
  t.is(feed.history()[0].type, 'hello');
  t.is(feed.history().length, 6);
});

test('the history is bounded, the hello kept; nothing is recorded after the end', (t) => {
  const feed = new TimelineFeed(HELLO, 100);
  for (let i = 0; i < 250; i++) feed.sample({ a: i });
  const h = feed.history();
  t.true(h.length <= 100);
  t.is(h[0].type, 'hello');
  t.deepEqual(h[h.length - 1], { type: 'sample', t: h[h.length - 1].t, processed: { a: 249 } });
  feed.end(null);
  feed.sample({ a: 1000 });
  feed.end(null);
  const after = feed.history();
  t.is(after[after.length - 1].type, 'end');
  t.is(after.filter((m) => m.type === 'end').length, 1);
  t.true(feed.isEnded);
});

test('a poll records each connected instance\'s count, the placement and every operation not yet recorded as finished', async (t) => {
  const feed = new TimelineFeed(HELLO);
  const done = newOperationStatus('merge', ['c'], 'a', {}, ['multi-flow'], 'none');
  done.phase = 'Succeeded';
  const running = newOperationStatus('move', ['a'], 'b', {}, ['per-flow'], 'loss-free');
  running.phase = 'Running';
  const sampler = new PoolSampler(feed, {
    instances: () => ['a', 'b'],
    processed: async (n) => (n === 'a' ? 42 : null),
    owner: () => ['a', 'a', 'b', 'b'],
    operations: () => [done, running],
  }, 10_000);
  await sampler.tick();
  await sampler.tick();
  const types = feed.history().map((m) => m.type);
  t.deepEqual(types, ['hello', 'sample', 'placement', 'operation', 'operation', 'sample']);
  t.deepEqual(feed.history()[1], { type: 'sample', t: feed.history()[1].t, processed: { a: 42 } }, 'b is not connected');
});
