/** The merge of instances' outputs by a descriptor's rules, rule by rule, and what it refuses. */
import test from 'ava';
import { middleboxDescriptor, type OutputMerge } from '../../shims/protocol/descriptor.js';
import { hello } from '../../shims/protocol/messages.js';
import { MergeError, mergeOutputs } from './merged-outputs.js';

const RULES: OutputMerge = {
  flows: { merge: 'concat', orderBy: ['proto', 'port'] },
  hosts: { merge: 'keyed', key: 'ip', fields: { packets: { merge: 'sum' }, first: { merge: 'min' }, last: { merge: 'max' }, tags: { merge: 'union', max: 3 } } },
  totals: { merge: 'record', fields: { hits: { merge: 'sum' }, chunks: { merge: 'sum' }, ratio: { merge: 'ratio', numerator: 'hits', denominator: 'chunks' } } },
  byRule: { merge: 'map', values: { merge: 'sum' } },
};

test('each rule merges its field across instances, keys in the order the instances have them', (t) => {
  const a = {
    flows: [{ proto: 'tcp', port: 80 }, { proto: 'udp', port: 53 }],
    hosts: [{ ip: '10.0.0.2', packets: 3, first: 5, last: 9, tags: ['b', 'd'] }],
    totals: { hits: 1, chunks: 4, ratio: 0.25 },
    byRule: { web: 1 },
  };
  const b = {
    flows: [{ proto: 'tcp', port: 443 }, { proto: 'tcp', port: 8080 }],
    hosts: [{ ip: '10.0.0.2', packets: 4, first: 2, last: 7, tags: ['a', 'c', 'd'] }, { ip: '10.0.0.1', packets: 1, first: 1, last: 1, tags: [] }],
    totals: { hits: 2, chunks: 0, ratio: 0 },
    byRule: { scan: 2, web: 3 },
  };
  const merged = mergeOutputs(RULES, [a, b]);
  t.deepEqual(merged, {
    flows: [{ proto: 'tcp', port: 80 }, { proto: 'tcp', port: 443 }, { proto: 'tcp', port: 8080 }, { proto: 'udp', port: 53 }],
    hosts: [{ ip: '10.0.0.1', packets: 1, first: 1, last: 1, tags: [] }, { ip: '10.0.0.2', packets: 7, first: 2, last: 9, tags: ['a', 'b', 'c'] }],
    totals: { hits: 3, chunks: 4, ratio: 0.75 },
    byRule: { scan: 2, web: 4 },
  });
  t.deepEqual(Object.keys(merged.totals as object), ['hits', 'chunks', 'ratio']);
  t.deepEqual(Object.keys(merged.byRule as object), ['scan', 'web']);
});

test('no instance, no outputs; one instance merges to itself', (t) => {
  t.deepEqual(mergeOutputs(RULES, []), {});
  const one = { flows: [{ proto: 'tcp', port: 1 }], totals: { hits: 0, chunks: 0, ratio: 0 } };
  t.deepEqual(mergeOutputs(RULES, [one]), one);
});

test('concat orders absent values first, numbers by value, false before true, text by code units', (t) => {
  const rules: OutputMerge = { xs: { merge: 'concat', orderBy: ['done', 'n', 's'] } };
  const merged = mergeOutputs(rules, [{ xs: [{ done: true, n: 1 }, { done: false, n: 10 }] }, { xs: [{ done: false, n: 9, s: 'b' }, { done: false, n: 9, s: 'B' }, { done: false, n: 9 }] }]);
  t.deepEqual(merged.xs, [{ done: false, n: 9 }, { done: false, n: 9, s: 'B' }, { done: false, n: 9, s: 'b' }, { done: false, n: 10 }, { done: true, n: 1 }]);
});

test('outputs the rules do not fit are refused, naming the field', (t) => {
  t.is(t.throws(() => mergeOutputs(RULES, [{ extra: 1 }]), { instanceOf: MergeError })?.message, 'outputs.extra: the middlebox declares no merge rule for it');
  t.is(t.throws(() => mergeOutputs(RULES, [{ totals: { hits: 'x' } }]), { instanceOf: MergeError })?.message, 'outputs.totals.hits: expected a number, got "x"');
  t.regex(t.throws(() => mergeOutputs(RULES, [{ flows: 3 }]), { instanceOf: MergeError })?.message ?? '', /^outputs\.flows: expected a list/);
  t.regex(t.throws(() => mergeOutputs(RULES, [{ hosts: [{ ip: 'x', tags: [1] }] }]), { instanceOf: MergeError })?.message ?? '', /^outputs\.hosts\[\]\.tags: expected a list of strings/);
  t.regex(t.throws(() => mergeOutputs({ r: { merge: 'ratio', numerator: 'a', denominator: 'b' } }, [{ r: 1 }]), { instanceOf: MergeError })?.message ?? '', /^outputs\.r: expected a number/);
});

test('a descriptor is validated: unknown rules and fields are refused, with their path', (t) => {
  const base = { type: 'x', description: '', partitionKey: 'flow', sharedAllFlows: false, defaultConfig: {} };
  t.true(middleboxDescriptor.safeParse({ ...base, outputs: RULES }).success);
  const bad = middleboxDescriptor.safeParse({ ...base, outputs: { a: { merge: 'record', fields: { b: { merge: 'average' } } } } });
  t.false(bad.success);
  t.deepEqual(bad.error?.issues[0].path, ['outputs', 'a', 'fields', 'b', 'merge']);
  t.false(middleboxDescriptor.safeParse({ ...base, partitionKey: 'port', outputs: {} }).success);
  t.false(middleboxDescriptor.safeParse({ ...base, outputs: { a: { merge: 'concat', orderBy: [] } } }).success);
});

test('an instance\'s hello carries its descriptor; one the operator cannot read is dropped, the hello stands', (t) => {
  const descriptor = { type: 'x', description: '', partitionKey: 'host', sharedAllFlows: true, defaultConfig: { a: 1 }, outputs: RULES };
  const base = { type: 'hello', secret: 's', role: 'mb', name: 'x-0', pool: 'p', mbType: 'x' };
  t.deepEqual(hello.parse({ ...base, descriptor }).descriptor, descriptor);
  const other = hello.safeParse({ ...base, descriptor: { ...descriptor, outputs: { a: { merge: 'median' } } } });
  t.true(other.success);
  t.is(other.data?.descriptor, undefined);
});
