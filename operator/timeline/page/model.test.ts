/** The page's model: messages folded in, packet rates, an operation's window and steps, bucket ranges. */
import test from 'ava';
import type { OperationStatus } from '../../engine/operation.js';
import type { SampleMessage } from '../messages.js';
import { apply, bucketRanges, bucketsOf, emptyModel, movingBuckets, operationWindow, origin, rates, steps } from './model.js';

const T = 1_800_000_000_000;

function move(over: Partial<OperationStatus> = {}): OperationStatus {
  return {
    id: 'move-1', kind: 'move', guarantee: 'loss-free', from: ['a'], to: 'b', filter: { buckets: { key: 'flow', of: 8, ids: [4, 5, 6, 7] } }, scopes: ['per-flow'],
    phase: 'Running', flows: 0, bytes: 0, eventsHeld: 0, eventsReleased: 0, timeline: { start: T }, ...over,
  } as OperationStatus;
}

const sample = (t: number, processed: Record<string, number>): SampleMessage => ({ type: 'sample', t: T + t, processed });

test('rates are packets per second over the window before each sample; none across a gap or a restart', (t) => {
  const samples = [sample(0, { a: 0 }), sample(100, { a: 10, b: 0 }), sample(200, { a: 30, b: 5 }), sample(300, { a: 40, b: 2 })];
  const r = rates(samples, ['a', 'b'], 100);
  t.deepEqual(r.t, [T + 100, T + 200, T + 300]);
  t.deepEqual(r.byInstance.a, [100, 200, 100]);
  // b was not connected at the first sample, and its count went down at the last (a new process).
  t.deepEqual(r.byInstance.b, [null, 50, null]);
  // A wider window spans more samples.
  t.deepEqual(rates(samples, ['a'], 200).byInstance.a, [100, 150, 150]);
  t.deepEqual(rates(samples, ['a'], 100, T + 150, T + 250).t, [T + 200]);
});

test('messages fold into the model; a sample no later than the last is dropped', (t) => {
  const m = emptyModel();
  apply(m, { type: 'hello', t: T - 50, pool: 'ns/p', middlebox: 'monitor', buckets: 8 });
  t.is(origin(m), T - 50, 'the hello, while nothing else is there');
  apply(m, sample(0, { a: 1 }));
  apply(m, sample(0, { a: 2 }));
  t.is(m.samples.length, 1);
  apply(m, { type: 'placement', t: T, instances: ['a', 'b'], owner: ['a', 'a', 'a', 'a', 'b', 'b', 'b', 'b'] });
  apply(m, { type: 'operation', t: T + 10, op: move({ eventsHeld: 2, timeline: { start: T - 20 } }) });
  apply(m, { type: 'operation', t: T + 30, op: move({ phase: 'Succeeded', eventsHeld: 5, eventsReleased: 5, timeline: { start: T - 20, end: T + 30 } }) });
  t.deepEqual(m.instances, ['a', 'b']);
  const track = m.operations.get('move-1')!;
  t.is(track.status.phase, 'Succeeded');
  t.deepEqual(track.points, [{ t: T + 10, held: 2, released: 0 }, { t: T + 30, held: 5, released: 5 }]);
  t.is(origin(m), T - 20, 'the first operation started before the first sample');
  t.is(movingBuckets(m).size, 0, 'nothing moves once the move is done');
  apply(m, { type: 'end', t: T + 40, summary: null });
  t.true(m.ended);
});

test('a running move\'s buckets are moving; its steps are those begun, in order, a route change an instant', (t) => {
  const m = emptyModel();
  const s = move({ timeline: { start: T, getStart: T + 1, getEnd: T + 5, putStart: T + 2, route: T + 7, releaseStart: T + 8 } });
  apply(m, { type: 'operation', t: T + 9, op: s });
  t.deepEqual([...movingBuckets(m)], [4, 5, 6, 7]);
  t.deepEqual(steps(s, T + 10), [
    { name: 'get', from: T + 1, to: T + 5 },
    { name: 'put', from: T + 2, to: T + 10 },
    { name: 'route', from: T + 7, to: T + 7 },
    { name: 'release', from: T + 8, to: T + 10 },
  ]);
  const done = move({ phase: 'Succeeded', timeline: { ...s.timeline, putEnd: T + 6, releaseEnd: T + 9, deleteStart: T + 9, end: T + 11 } });
  t.deepEqual(steps(done, T + 99).map((x) => [x.name, x.to - T]), [['get', 5], ['put', 6], ['route', 7], ['release', 9], ['delete', 11]]);
});

test('an operation\'s window is it and a few seconds either side, more for a long one', (t) => {
  t.deepEqual(operationWindow(move({ timeline: { start: T, end: T + 12 } }), T), { from: T - 2000, to: T + 2012 });
  t.deepEqual(operationWindow(move({ timeline: { start: T, end: T + 5000 } }), T), { from: T - 5000, to: T + 10_000 });
  t.deepEqual(operationWindow(move(), T + 300), { from: T - 2000, to: T + 2300 }, 'a running one ends now');
});

test('bucket ranges', (t) => {
  t.is(bucketRanges([7, 1, 2, 3, 9, 10]), '1–3, 7, 9–10');
  t.is(bucketRanges([]), '');
  t.deepEqual(bucketsOf(move()), [4, 5, 6, 7]);
  t.is(bucketsOf(move({ filter: { nwDst: '10.0.0.1', bidirectional: true } })), null);
});
