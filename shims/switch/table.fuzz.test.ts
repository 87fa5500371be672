import test from 'ava';
import fc from 'fast-check';
import { PROPERTIES } from './table.fuzz.js';

for (const [name, property] of Object.entries(PROPERTIES)) {
  test(name, (t) => {
    fc.assert(property, { numRuns: 2000 });
    t.pass();
  });
}
