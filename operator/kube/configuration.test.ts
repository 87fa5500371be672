import test from 'ava';
import { configDigest, poolConfiguration, staleInstances } from './configuration.js';

test('the digest does not depend on key order, and changes with any value', (t) => {
  t.is(configDigest({ a: 1, b: { c: [1, 2], d: 'x' } }), configDigest({ b: { d: 'x', c: [1, 2] }, a: 1 }));
  t.not(configDigest({ a: 1 }), configDigest({ a: 2 }));
  t.not(configDigest({ a: [1, 2] }), configDigest({ a: [2, 1] }));
  t.regex(configDigest({}), /^[0-9a-f]{16}$/);
});

test('the spec\'s values, numbered by the generation that changed them', (t) => {
  const first = poolConfiguration({ scanWindow: 5 }, 1);
  t.deepEqual(first, { values: { scanWindow: 5 }, generation: 1, digest: configDigest({ scanWindow: 5 }) });
  t.is(poolConfiguration({ scanWindow: 5 }, 3, first), first, 'a spec change elsewhere keeps the configuration and its generation');
  t.deepEqual(poolConfiguration({}, 4, first), { values: {}, generation: 4, digest: configDigest({}) }, 'a field dropped from the spec is a change');
});

test('after a restart, the generation in status stands only while the spec still has the values it was written for', (t) => {
  const status = { configuration: { generation: 2, digest: configDigest({ scanWindow: 5 }) } };
  t.is(poolConfiguration({ scanWindow: 5 }, 7, undefined, status).generation, 2);
  t.is(poolConfiguration({ scanWindow: 9 }, 7, undefined, status).generation, 7, 'changed while no operator ran');
  t.is(poolConfiguration({ scanWindow: 5 }, 7, undefined, {}).generation, 7);
});

test('stale instances: another generation, or none known', (t) => {
  t.deepEqual(staleInstances(['a', 'b', 'c'], new Map([['a', 3], ['b', 2]]), { values: {}, generation: 3 }), ['b', 'c']);
});
