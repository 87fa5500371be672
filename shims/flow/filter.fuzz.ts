/** Fuzz properties of flow filter compilation: run briefly by filter.fuzz.test.ts, at length by bench/fuzz.ts. */
import fc from 'fast-check';
import type { Properties } from '../../bench/fuzz-properties.js';
import { compileFilter, FilterError } from './filter.js';

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

export const PROPERTIES: Properties = {
  'arbitrary values either compile or throw a FilterError naming the field': fc.property(anyValue, compileOrRefuse),
  'arbitrary objects of filter fields either compile or throw a FilterError naming the field': fc.property(filter, compileOrRefuse),
};
