import test from 'ava';
import { canonicalJson } from './canonical-json.js';

test('canonical JSON sorts keys at every depth, leaves out undefined members, and is JSON', (t) => {
  const a = { b: 1, a: { d: [1, { z: true, y: null }], c: 'x' }, u: undefined };
  const b = { a: { c: 'x', d: [1, { y: null, z: true }] }, b: 1 };
  t.is(canonicalJson(a), canonicalJson(b));
  t.is(canonicalJson(a), '{"a":{"c":"x","d":[1,{"y":null,"z":true}]},"b":1}');
  t.deepEqual(JSON.parse(canonicalJson(a)), JSON.parse(JSON.stringify(a)));
  t.is(canonicalJson([undefined, 1]), JSON.stringify([undefined, 1]));
  t.not(canonicalJson({ a: [1, 2] }), canonicalJson({ a: [2, 1] }), 'array order counts');
});
