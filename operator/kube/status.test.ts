import test from 'ava';
import type { MiddleboxPool } from '../api/types.js';
import type { OperationStatus } from '../engine/operation.js';
import { confirm, desiredState, diff, emptyActual, recordedActual, stepGroups, withPlacement, type ActualState, type InstanceLoad } from './snapshot.js';
import { operationStatus, poolStatus, sameStatus, type PoolStatusInput } from './status.js';

const T0 = new Date('2030-01-02T03:04:05.678Z');
const T1 = new Date('2030-01-02T03:09:00.000Z');

function actual(owner: string[], load: Record<string, InstanceLoad> = {}): ActualState {
  const instances = [...new Set(owner)];
  const l = Object.fromEntries(instances.map((i) => [i, load[i] ?? { ready: true, packets: 10, flows: 2 }]));
  return { placement: { buckets: owner.length, instances, owner }, load: l, lostFlows: 0 };
}

const input = (over: Partial<PoolStatusInput>): PoolStatusInput => ({
  name: 'web', generation: 4, desiredReplicas: 2, key: 'flow', actual: actual(['a', 'a', 'b', 'b']), pendingSteps: 0,
  operationsInFlight: 0, deleting: false, now: T0, ...over,
});

const cond = (s: ReturnType<typeof poolStatus>, type: string) => s.conditions!.find((c) => c.type === type)!;

test('a converged pool is Ready, not Progressing, not Degraded, every condition at its generation', (t) => {
  const s = poolStatus(input({}));
  t.is(s.phase, 'Ready');
  t.is(s.replicas, 2);
  t.is(s.readyReplicas, 2);
  t.is(s.selector, 'openmb.io/pool=web,openmb.io/role=instance');
  t.is(s.observedGeneration, 4);
  t.deepEqual(s.instances, [
    { name: 'a', buckets: '0-1', ready: true, packets: 10, flows: 2 },
    { name: 'b', buckets: '2-3', ready: true, packets: 10, flows: 2 },
  ]);
  t.deepEqual(s.placement, { buckets: 4, key: 'flow', owners: ['a', 'a', 'b', 'b'] });
  t.is(cond(s, 'Ready').status, 'True');
  t.is(cond(s, 'Progressing').status, 'False');
  t.is(cond(s, 'Degraded').status, 'False');
  for (const c of s.conditions!) {
    t.is(c.observedGeneration, 4);
    t.is(c.lastTransitionTime, '2030-01-02T03:04:05Z');
    t.regex(c.reason, /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/);
  }
});

test('steps left: Scaling, Progressing=True, Ready=False', (t) => {
  const s = poolStatus(input({ desiredReplicas: 3, pendingSteps: 4, operationsInFlight: 1 }));
  t.is(s.phase, 'Scaling');
  t.is(cond(s, 'Ready').status, 'False');
  t.is(cond(s, 'Ready').reason, 'Scaling');
  t.is(cond(s, 'Progressing').status, 'True');
  t.regex(cond(s, 'Progressing').message, /4 steps left, 1 operation in flight/);
  t.is(s.operationsInFlight, 1);
});

test('fewer instances than desired is not Ready even with no step left', (t) => {
  const s = poolStatus(input({ desiredReplicas: 3 }));
  t.is(cond(s, 'Ready').status, 'False');
});

test('a new pool with no instance yet is Pending', (t) => {
  const s = poolStatus(input({ actual: emptyActual(4), desiredReplicas: 1, pendingSteps: 1 }));
  t.is(s.phase, 'Pending');
  t.is(s.replicas, 0);
  t.deepEqual(s.placement!.owners, ['', '', '', '']);
});

test('a pool scaled to zero with nothing left is Ready', (t) => {
  const s = poolStatus(input({ actual: emptyActual(4), desiredReplicas: 0 }));
  t.is(s.phase, 'Ready');
  t.is(cond(s, 'Ready').status, 'True');
});

test('a failed reconcile is Degraded with the cause; an instance not connected too', (t) => {
  const s = poolStatus(input({ error: 'move of buckets 0,1 from a to b failed: boom' }));
  t.is(s.phase, 'Degraded');
  t.is(cond(s, 'Degraded').status, 'True');
  t.is(cond(s, 'Degraded').reason, 'ReconcileFailed');
  t.regex(cond(s, 'Degraded').message, /boom/);
  t.is(cond(s, 'Ready').status, 'False');
  const n = poolStatus(input({ actual: actual(['a', 'b'], { b: { ready: false, packets: 0, flows: 0 } }) }));
  t.is(n.readyReplicas, 1);
  t.is(cond(n, 'Degraded').reason, 'InstancesNotReady');
  t.regex(cond(n, 'Degraded').message, /b/);
});

test('a pool being deleted is Deleting and Draining', (t) => {
  const s = poolStatus(input({ deleting: true, desiredReplicas: 0, pendingSteps: 3 }));
  t.is(s.phase, 'Deleting');
  t.is(cond(s, 'Ready').reason, 'Deleting');
  t.is(cond(s, 'Progressing').reason, 'Draining');
});

test('lastTransitionTime moves only when a condition changes status', (t) => {
  const first = poolStatus(input({ pendingSteps: 2, desiredReplicas: 3 }));
  const later = poolStatus(input({ previous: first, now: T1, generation: 5 }));
  t.is(cond(later, 'Ready').lastTransitionTime, '2030-01-02T03:09:00Z', 'Ready went False -> True');
  t.is(cond(later, 'Degraded').lastTransitionTime, '2030-01-02T03:04:05Z', 'Degraded stayed False');
  t.is(cond(later, 'Degraded').observedGeneration, 5);
  t.true(sameStatus(later, poolStatus(input({ previous: later, now: new Date('2031-01-01T00:00:00Z'), generation: 5 }))));
});

test('sameStatus ignores key order and undefined fields, not values', (t) => {
  t.true(sameStatus({ a: 1, b: { c: [1, 2], d: undefined } }, { b: { c: [1, 2] }, a: 1 }));
  t.false(sameStatus({ a: 1, b: { c: [1, 2] } }, { a: 1, b: { c: [2, 1] } }));
});

const engineOp = (over: Partial<OperationStatus> = {}): OperationStatus => ({
  id: 'move-1', kind: 'move', guarantee: 'loss-free', from: ['a'], to: 'b', filter: {}, scopes: ['per-flow'], phase: 'Running',
  flows: 40, bytes: 4000, eventsHeld: 5, eventsReleased: 3, eventsDropped: 0, timeline: { start: T0.getTime() }, ...over,
});

test('operation status: running progress against an estimate, then final numbers', (t) => {
  const running = operationStatus(engineOp(), { phase: 'Running', startedAt: 0, flowsTotal: 100, generation: 1, now: T0 });
  t.is(running.phase, 'Running');
  t.deepEqual(running.progress, { flowsTotal: 100, flowsDone: 40, bytes: 4000, eventsHeld: 5, eventsReleased: 3, eventsDropped: 0 });
  t.is(running.startTime, '2030-01-02T03:04:05Z');
  t.is(running.completionTime, undefined);
  const done = operationStatus(engineOp({ phase: 'Succeeded', flows: 93, eventsReleased: 5, timeline: { start: T0.getTime(), end: T1.getTime() } }),
    { phase: 'Succeeded', startedAt: 0, flowsTotal: 100, generation: 1, previous: running, now: T1 });
  t.deepEqual(done.progress, { flowsTotal: 93, flowsDone: 93, bytes: 4000, eventsHeld: 5, eventsReleased: 5, eventsDropped: 0 }, 'the total is what was moved');
  t.is(done.completionTime, '2030-01-02T03:09:00Z');
  t.is(done.conditions!.find((c) => c.type === 'Complete')!.status, 'True');
});

test('operation status: a failure carries its cause and lost flows', (t) => {
  const s = operationStatus(engineOp({ phase: 'Failed', error: 'source a failed: closed', lostFlows: 7 }),
    { phase: 'Failed', startedAt: 0, flowsTotal: 50, generation: 2, now: T1 });
  t.is(s.message, 'source a failed: closed');
  t.is(s.lostFlows, 7);
  t.is(s.progress!.flowsTotal, 50);
  t.is(s.conditions!.find((c) => c.type === 'Failed')!.status, 'True');
  t.truthy(s.completionTime);
});

// ---- snapshots (immer) ------------------------------------------------------------------------

const pool = (over: Partial<MiddleboxPool['spec']> = {}, meta: Partial<MiddleboxPool['metadata']> = {}): MiddleboxPool => ({
  apiVersion: 'openmb.io/v1alpha1', kind: 'MiddleboxPool', metadata: { name: 'web', namespace: 'ns', generation: 3, ...meta },
  spec: { middlebox: { type: 'ids' }, ...over },
});

test('desired state: defaults filled, the middlebox key when the spec has none, frozen', (t) => {
  const d = desiredState(pool({ replicas: 3, partitioning: { pins: [{ name: 'dns', filter: { tpDst: 53 }, instance: 'web-0' }] } }), 'host');
  t.is(d.replicas, 3);
  t.is(d.key, 'host');
  t.is(d.buckets, 64);
  t.is(d.guarantee, 'loss-free');
  t.is(d.transfer, 'direct');
  t.deepEqual(d.optimizations, { parallelPuts: true });
  t.deepEqual(d.pins, [{ name: 'dns', filter: { tpDst: 53 }, instance: 'web-0' }]);
  t.is(d.namePrefix, 'web');
  t.false(d.deleting);
  t.true(Object.isFrozen(d));
  t.true(desiredState(pool({}, { deletionTimestamp: '2030-01-01T00:00:00Z' }), 'flow').deleting);
});

test('desired state: spec.migration.transfer is read as written, direct when absent', (t) => {
  t.is(desiredState(pool({ migration: { transfer: 'brokered' } }), 'flow').transfer, 'brokered');
  t.is(desiredState(pool({ migration: { transfer: 'direct', guarantee: 'none' } }), 'flow').transfer, 'direct');
  t.is(desiredState(pool({ migration: { guarantee: 'none' } }), 'flow').transfer, 'direct');
});

test('diff plans from actual to desired; a deleting pool shrinks to one instance', (t) => {
  const d = desiredState(pool({ replicas: 2, partitioning: { buckets: 4 } }), 'flow');
  const steps = diff(d, emptyActual(4));
  t.deepEqual(steps.map((s) => s.kind), ['create', 'create', 'clone', 'move']);
  t.deepEqual(stepGroups(steps).map((g) => g.map((s) => s.kind)), [['create'], ['create', 'clone'], ['move']]);
  const del = desiredState(pool({ replicas: 2, partitioning: { buckets: 4 } }, { deletionTimestamp: 'x' }), 'flow');
  t.deepEqual(diff(del, actual(['web-0', 'web-0', 'web-1', 'web-1'])).map((s) => s.kind), ['move', 'merge', 'remove']);
  t.deepEqual(diff(d, actual(['web-0', 'web-0', 'web-1', 'web-1'])), [], 'converged');
});

test('stepGroups: moves to different destinations in a row form one group, up to spec.migration.concurrency', (t) => {
  const d = desiredState(pool({ replicas: 3, partitioning: { buckets: 6 }, migration: { concurrency: 2 } }), 'flow');
  t.is(d.concurrency, 2);
  const steps = diff(d, actual(['web-0', 'web-0', 'web-0', 'web-0', 'web-0', 'web-0']));
  t.deepEqual(stepGroups(steps, d.concurrency).map((g) => g.map((s) => (s.kind === 'move' ? `${s.from}>${s.to}` : s.kind))),
    [['create', 'clone'], ['create', 'clone'], ['web-0>web-1', 'web-0>web-2']]);
  t.deepEqual(stepGroups(steps).map((g) => g.length), [2, 2, 1, 1], 'one at a time by default');
});

test('diff: a pin on an instance the plan would not create does not block the plan', (t) => {
  const d = desiredState(pool({ replicas: 1, partitioning: { buckets: 4, pins: [{ name: 'p', filter: { tpDst: 1 }, instance: 'elsewhere' }] } }), 'flow');
  t.deepEqual(diff(d, actual(['web-0', 'web-0', 'web-0', 'web-0'])), []);
});

test('confirm: a vanished instance loses its flows and its buckets go to the survivor with the fewest, as in a failover; the old snapshot is untouched', (t) => {
  const before = actual(['a', 'b', 'c', 'c']);
  const { actual: after, lost } = confirm(before, new Map([['a', { ready: true, packets: 1, flows: 1 }], ['b', { ready: true, packets: 2, flows: 2 }]]), () => 17);
  t.deepEqual(lost, ['c']);
  t.deepEqual(after.placement.instances, ['a', 'b']);
  t.deepEqual(after.placement.owner, ['a', 'b', 'a', 'a']);
  t.is(after.lostFlows, 17);
  t.deepEqual(before.placement.owner, ['a', 'b', 'c', 'c']);
  const p = withPlacement(after, { ...after.placement, instances: ['a'], owner: ['a', 'a', 'a', 'a'] });
  t.deepEqual(Object.keys(p.load), ['a']);
});

test('recordedActual reads the placement a previous operator wrote, and refuses an inconsistent one', (t) => {
  const s = poolStatus(input({ actual: actual(['a', 'a', 'b', 'b'], { a: { ready: true, packets: 5, flows: 3 } }) }));
  const r = recordedActual(s, 4);
  t.deepEqual(r.placement, { buckets: 4, instances: ['a', 'b'], owner: ['a', 'a', 'b', 'b'] });
  t.is(r.load.a.flows, 3);
  t.deepEqual(recordedActual(s, 8).placement.instances, [], 'bucket count changed');
  t.deepEqual(recordedActual({ ...s, instances: [{ name: 'a' }] }, 4).placement.instances, [], 'owner not among instances');
  t.deepEqual(recordedActual(undefined, 4), emptyActual(4));
  const { actual: after, lost } = confirm(r, new Map(), (n) => r.load[n]?.flows ?? 0);
  t.deepEqual(lost, ['a', 'b']);
  t.deepEqual(after.placement.owner, [null, null, null, null]);
  t.is(after.lostFlows, 5);
});

test('recordedActual counts a status it cannot read as no record (found by snapshot.fuzz.ts: instances that were not a list threw a TypeError)', (t) => {
  const s = poolStatus(input({ actual: actual(['a', 'a', 'b', 'b'], { a: { ready: true, packets: 5, flows: 3 } }) }));
  const odd = (status: unknown) => recordedActual(status as typeof s, 4);
  t.deepEqual(odd({ ...s, instances: {} }), emptyActual(4));
  t.deepEqual(odd({ ...s, instances: [null, { name: 'a' }] }), emptyActual(4));
  t.deepEqual(odd({ ...s, instances: [{ name: 'a' }, { name: 'a' }, { name: 'b' }] }), emptyActual(4), 'an instance named twice');
  t.deepEqual(odd({ ...s, placement: { buckets: 4, owners: 'aabb' } }), emptyActual(4));
  t.deepEqual(odd({ ...s, placement: { buckets: 4, owners: ['a', 'a', 7, 'b'] } }), emptyActual(4));
  t.deepEqual(odd({ ...s, lostFlows: -3, instances: [{ name: 'a', flows: 'many' }, { name: 'b' }] }).load.a, { ready: false, packets: 0, flows: 0 });
});

test('instance load changes in status only when it moved by a tenth or more, so a steady pool is not rewritten', (t) => {
  const load = (packets: number, flows: number) => actual(['a', 'a', 'b', 'b'], { a: { ready: true, packets, flows }, b: { ready: true, packets: 0, flows: 0 } });
  const first = poolStatus(input({ actual: load(10_000, 100) }));
  const steady = poolStatus(input({ actual: load(10_900, 105), previous: first, now: T1 }));
  t.true(sameStatus(steady, first), 'under a tenth: the status already written stands');
  const moved = poolStatus(input({ actual: load(11_000, 80), previous: first, now: T1 }));
  t.like(moved.instances![0], { packets: 11_000, flows: 80 });
  t.like(poolStatus(input({ actual: load(10_500, 0), previous: first })).instances![0], { packets: 10_000, flows: 0 }, 'any change to 0 shows');
  const fromZero = poolStatus(input({ actual: load(1, 1), previous: poolStatus(input({ actual: load(0, 0) })) }));
  t.like(fromZero.instances![0], { packets: 1, flows: 1 }, 'and any change from 0');
});

test('an instance on another configuration: Reconfiguring, Progressing=True, Ready=False, until every one runs the pool\'s', (t) => {
  const configuration = { generation: 4, digest: '0123456789abcdef' };
  const s = poolStatus(input({ configuration, configured: { a: 4, b: 2 } }));
  t.is(s.phase, 'Reconfiguring');
  t.deepEqual(s.instances!.map((i) => [i.name, i.configGeneration]), [['a', 4], ['b', 2]]);
  t.deepEqual(s.configuration, configuration);
  t.like(cond(s, 'Progressing'), { status: 'True', reason: 'Reconfiguring', message: 'b not yet on configuration generation 4' });
  t.like(cond(s, 'Ready'), { status: 'False', reason: 'Reconfiguring' });
  t.is(cond(s, 'Degraded').status, 'False');
  const unknown = poolStatus(input({ configuration, configured: { a: 4 } }));
  t.is(unknown.instances![1].configGeneration, undefined, 'an instance that has not said is not on it either');
  t.is(cond(unknown, 'Progressing').reason, 'Reconfiguring');
  const done = poolStatus(input({ configuration, configured: { a: 4, b: 4 }, previous: s, now: T1 }));
  t.is(done.phase, 'Ready');
  t.like(cond(done, 'Progressing'), { status: 'False', reason: 'Converged' });
  t.is(cond(done, 'Ready').status, 'True');
});
