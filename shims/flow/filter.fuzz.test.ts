import test from 'ava';
import fc from 'fast-check';
import { compileFilter, FilterError } from './filter.js';

const RUNS = 3000;

function compileOrRefuse(raw: unknown): void {
  try {
    compileFilter(raw);
  } catch (e) {
    if (!(e instanceof FilterError)) throw e;
    if (!e.field.startsWith('filter') || e.detail.length === 0) throw new Error(`FilterError names no field: ${e.message}`);
  }
}

// Every kind of value, bigints, boxed values and null-prototype objects included: a filter comes from JSON, but compileFilter is also called on objects built in code.
const anyValue = fc.anything({ withBigInt: true, withBoxedValues: true, withNullPrototype: true, withMap: true, withSet: true, withTypedArray: true, withDate: true, withSparseArray: true });

// Values near what each field accepts, so compilation gets past the first check.
const fieldValue = fc.oneof(
  anyValue,
  fc.integer({ min: -2, max: 70000 }),
  fc.constantFrom('tcp', 'UDP', 'icmpv6', 'bogus', '10.0.0.0/8', '10.1.2.3', '::1', 'fe80::/10', '10.0.0.0/33', '1.2.3.4/x', ''),
  fc.boolean(),
);
const buckets = fc.record({
  key: fc.oneof(fc.constantFrom('flow', 'host', 'hostPair', 'nope'), anyValue),
  of: fc.oneof(fc.integer({ min: 0, max: 64 }), anyValue),
  ids: fc.oneof(fc.array(fc.oneof(fc.integer({ min: -1, max: 64 }), anyValue), { maxLength: 4 }), anyValue),
  inside: fc.oneof(fc.array(fieldValue, { maxLength: 3 }), anyValue),
}, { requiredKeys: [] });
const filter = fc.letrec((tie) => ({
  filter: fc.record({
    nwSrc: fieldValue, nwDst: fieldValue, tpSrc: fieldValue, tpDst: fieldValue, nwProto: fieldValue,
    dlType: fieldValue, vlan: fieldValue, inPort: fieldValue, bidirectional: fieldValue,
    buckets: fc.oneof(buckets, anyValue),
    except: fc.oneof({ depthSize: 'small' }, fc.array(tie('filter'), { maxLength: 2 }), anyValue),
  }, { requiredKeys: [] }),
})).filter;

test('arbitrary values either compile or throw a FilterError naming the field', (t) => {
  fc.assert(fc.property(anyValue, compileOrRefuse), { numRuns: RUNS });
  t.pass();
});

test('arbitrary objects of filter fields either compile or throw a FilterError naming the field', (t) => {
  fc.assert(fc.property(filter, compileOrRefuse), { numRuns: RUNS });
  t.pass();
});

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
