import test from 'ava';
import fc from 'fast-check';
import { compileFilter, FilterError } from './filter.js';
import { PROPERTIES } from './filter.fuzz.js';

for (const [name, property] of Object.entries(PROPERTIES)) {
  test(name, (t) => {
    fc.assert(property, { numRuns: 3000 });
    t.pass();
  });
}

test('regression: values JSON.stringify throws on are refused with a FilterError, not a TypeError', (t) => {
  // Found by the property above: the error messages quoted the value with JSON.stringify.
  const cycle: Record<string, unknown> = {};
  cycle.self = cycle;
  const cases: [unknown, string][] = [
    [{ nwSrc: [0n] }, 'filter.nwSrc: expected an address or prefix string, got ["0n"]'],
    [{ tpSrc: 80n }, 'filter.tpSrc: port must be an integer, got "80n"'],
    [{ vlan: Object(1n) }, 'filter.vlan: VLAN id must be an integer, got a value that is not JSON'],
    [{ bidirectional: cycle }, 'filter.bidirectional: must be true or false, got a value that is not JSON'],
  ];
  for (const [raw, message] of cases) t.throws(() => compileFilter(raw), { instanceOf: FilterError, message });
});

test('regression: excepts nested past the bound are a FilterError, not a stack overflow', (t) => {
  let f: Record<string, unknown> = {};
  for (let i = 0; i < 5000; i++) f = { except: [f] };
  t.throws(() => compileFilter(f), { instanceOf: FilterError, message: /^filter(\.except\[0\]){9}: except nested more than 8 deep$/ });
  let ok: Record<string, unknown> = {};
  for (let i = 0; i < 8; i++) ok = { except: [ok] };
  t.notThrows(() => compileFilter(ok));
});
