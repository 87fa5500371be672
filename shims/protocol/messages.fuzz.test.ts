import test from 'ava';
import fc from 'fast-check';
import { PROPERTIES } from './messages.fuzz.js';
import { describeIssues, mbRequest } from './messages.js';

for (const [name, property] of Object.entries(PROPERTIES)) {
  test(name, (t) => {
    fc.assert(property, { numRuns: 3000 });
    t.pass();
  });
}

test('regression: a filter nested too deep is refused with an issue, not a throw', (t) => {
  // Found while fuzzing: compiling 5000 nested excepts overflowed the stack, and the schema's
  // refinement read the RangeError as a FilterError and threw a TypeError out of safeParse.
  const depth = 5000;
  const text = `{"type":"get","id":1,"scope":"per-flow","filter":${'{"except":['.repeat(depth)}{}${']}'.repeat(depth)}}`;
  const r = mbRequest.safeParse(JSON.parse(text));
  t.false(r.success);
  if (!r.success) t.regex(describeIssues(r.error), /^filter\.except\[0\]\.except\[0\].*: except nested more than 8 deep$/);
});
