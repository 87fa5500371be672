/** How error messages show values, whatever they are: never a throw. */
import test from 'ava';
import { shown } from './shown.js';

test('numbers as written, strings and objects as JSON', (t) => {
  t.is(shown(NaN), 'NaN');
  t.is(shown(-Infinity), '-Infinity');
  t.is(shown(undefined), 'undefined');
  t.is(shown('per-host'), '"per-host"');
  t.is(shown({ a: [1, null] }), '{"a":[1,null]}');
  t.is(shown(12n), '"12n"');
});

test('values a template string or JSON cannot take are shown, not thrown', (t) => {
  t.is(shown({ toString: false }), '{"toString":false}');
  t.is(shown(Object.create(null)), '{}');
  const cycle: Record<string, unknown> = {};
  cycle.self = cycle;
  t.is(shown(cycle), 'a value that is not JSON');
  t.is(shown(Object(1n)), 'a value that is not JSON');
});
