import test from 'ava';
import type { MiddleboxPool, MiddleboxPoolStatus } from '../api/types.js';
import type { EgressLinkStats } from '../../shims/protocol/messages.js';
import { EGRESS_CONDITION, egressEvents, withEgress } from './pool-egress.js';

const pool = (address?: string): MiddleboxPool => ({
  apiVersion: 'openmb.io/v1alpha1', kind: 'MiddleboxPool', metadata: { name: 'nat', namespace: 'edge', generation: 2 },
  spec: { middlebox: { type: 'nat' }, ...(address ? { egress: { address } } : {}) },
});
const base: MiddleboxPoolStatus = { replicas: 1, observedGeneration: 2, conditions: [] };
const link = (l: Partial<EgressLinkStats>): EgressLinkStats => ({
  address: '10.250.0.1:7300', connected: true, sent: 1000, delivered: 1000, inFlight: 0, queued: 0, resent: 0,
  undeliverable: { queueFull: 0, egressRemoved: 0 }, connects: 1, sinceMs: Date.UTC(2026, 0, 1), ...l,
});
const now = new Date(Date.UTC(2026, 0, 1, 0, 1));
const condition = (s: MiddleboxPoolStatus) => s.conditions?.find((c) => c.type === EGRESS_CONDITION);

test('a pool without spec.egress gets no egress status or condition', (t) => {
  t.deepEqual(withEgress(base, pool(), { link: null }, undefined, now), base);
});

test('a connected egress: its counters and EgressReachable=True', (t) => {
  const s = withEgress(base, pool('10.250.0.1:7300'), { link: link({}) }, undefined, now);
  t.deepEqual(s.egress, {
    address: '10.250.0.1:7300', connected: true, sent: 1000, delivered: 1000, queued: 0,
    undeliverable: { queueFull: 0, egressRemoved: 0 }, since: '2026-01-01T00:00:00Z',
  });
  t.like(condition(s), { status: 'True', reason: 'Connected', observedGeneration: 2 });
  t.deepEqual(egressEvents(undefined, s), [], 'no event for a first status that is fine');
});

test('an unreachable egress: False with the reason, the waiting packets, and an Event; reached again, another', (t) => {
  const up = withEgress(base, pool('10.250.0.1:7300'), { link: link({}) }, undefined, now);
  const down = withEgress(base, pool('10.250.0.1:7300'), { link: link({ connected: false, queued: 40, inFlight: 2, lastError: 'connect ECONNREFUSED 10.250.0.1:7300' }) }, up, now);
  t.like(condition(down), { status: 'False', reason: 'Unreachable' });
  t.regex(condition(down)!.message, /ECONNREFUSED.*42 packets wait for it, 0 were undeliverable/);
  t.like(down.egress, { connected: false, queued: 42, lastError: 'connect ECONNREFUSED 10.250.0.1:7300' });
  t.deepEqual(egressEvents(up, down).map((e) => [e.type, e.reason]), [['Warning', 'EgressUnreachable']]);
  const again = withEgress(base, pool('10.250.0.1:7300'), { link: link({ sent: 1042, delivered: 1042 }) }, down, now);
  t.deepEqual(egressEvents(down, again).map((e) => [e.type, e.reason]), [['Normal', 'EgressReachable']]);
});

test('undeliverable packets are shown exactly and each increase is an Event', (t) => {
  const before = withEgress(base, pool('10.250.0.1:7300'), { link: link({}) }, undefined, now);
  const after = withEgress(base, pool('10.250.0.1:7300'), { link: link({ connected: false, undeliverable: { queueFull: 3, egressRemoved: 0 }, lastError: 'x' }) }, before, now);
  t.deepEqual(after.egress?.undeliverable, { queueFull: 3, egressRemoved: 0 });
  const events = egressEvents(before, after);
  t.deepEqual(events.map((e) => e.reason), ['EgressUnreachable', 'EgressPacketsUndeliverable']);
  t.regex(events[1].message, /^3 emitted packets could not be delivered to 10\.250\.0\.1:7300/);
});

test('packet counts that grew by less than a tenth keep the figure shown', (t) => {
  const first = withEgress(base, pool('10.250.0.1:7300'), { link: link({}) }, undefined, now);
  t.is(withEgress(base, pool('10.250.0.1:7300'), { link: link({ sent: 1050, delivered: 1050 }) }, first, now).egress?.sent, 1000);
  t.is(withEgress(base, pool('10.250.0.1:7300'), { link: link({ sent: 1100, delivered: 1100 }) }, first, now).egress?.sent, 1100);
});

test('no switch to ask: not reachable, with why', (t) => {
  const s = withEgress(base, pool('10.250.0.1:7300'), { link: null, error: 'the pool\'s switch is not connected' }, undefined, now);
  t.like(s.egress, { connected: false, lastError: 'the pool\'s switch is not connected' });
  t.like(condition(s), { status: 'False', reason: 'Unreachable' });
});
