import test from 'ava';
import fc from 'fast-check';
import { PROPERTIES } from './snapshot.fuzz.js';

for (const [name, property] of Object.entries(PROPERTIES)) {
  test(name, (t) => {
    fc.assert(property, { numRuns: 3000 });
    t.pass();
  });
}
