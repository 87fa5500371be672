/**
 * Fuzz properties of the operator's reading of MiddleboxPools, run briefly by snapshot.fuzz.test.ts
 * and at length by bench/fuzz.ts: the shipped sample pools with one value anywhere replaced. The
 * CRD's structural schema (what the API server admits) is checked by the same checker the CRD tests
 * use; whatever it admits, the operator turns into a desired state and a plan without a crash.
 */
import fc from 'fast-check';
import { readdirSync, readFileSync } from 'node:fs';
import { parse, parseAllDocuments } from 'yaml';
import { jsonPaths, type JsonPath, type Properties, replacedAt } from '../../bench/fuzz-properties.js';
import { type JSONSchemaProps, validate } from '../api/schema.js';
import { PARTITION_KEYS, type MiddleboxPool, type MiddleboxPoolStatus } from '../api/types.js';
import { PlanError } from '../placement/plan.js';
import { desiredState, diff, emptyActual, recordedActual } from './snapshot.js';

const root = new URL('../../../', import.meta.url); // dist/operator/kube/ -> repository root
let loaded: { schema: JSONSchemaProps; samples: MiddleboxPool[] } | null = null;
function load(): { schema: JSONSchemaProps; samples: MiddleboxPool[] } {
  if (loaded) return loaded;
  const crd = parse(readFileSync(new URL('manifests/crds/middleboxpools.yaml', root), 'utf8')) as { spec: { versions: { schema: { openAPIV3Schema: JSONSchemaProps } }[] } };
  const dir = new URL('manifests/samples/', root);
  const samples = readdirSync(dir).filter((f) => f.endsWith('.yaml'))
    .flatMap((f) => parseAllDocuments(readFileSync(new URL(f, dir), 'utf8')).map((d) => d.toJS() as MiddleboxPool))
    .filter((d) => d?.kind === 'MiddleboxPool')
    .map((d) => ({ ...d, metadata: { ...d.metadata, namespace: 'default', generation: 1 } }));
  loaded = { schema: crd.spec.versions[0].schema.openAPIV3Schema, samples };
  return loaded;
}

/** A status as this operator writes it, for the recorded-actual reading to start from. */
const STATUS: MiddleboxPoolStatus = {
  observedGeneration: 1, replicas: 2, readyReplicas: 2, phase: 'Ready',
  instances: [{ name: 'p-0', ready: true, buckets: '0-1', flows: 3, packets: 9 }, { name: 'p-1', ready: true, buckets: '2-3', flows: 1, packets: 4 }],
  placement: { buckets: 4, owners: ['p-0', 'p-0', 'p-1', 'p-1'] },
  lostFlows: 0,
};


/** A path as the API server prints it: spec.partitioning.pins[0].filter */
const printed = (p: JsonPath) => p.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? k : `.${k}`)).join('');

const odd = fc.oneof(
  fc.jsonValue(),
  fc.constantFrom(-1, 0, 1.5, 2 ** 31, 2 ** 53, '', 'flow', 'host', 'loss-free', '10.0.0.0/8', 'p-0', 'x'.repeat(300), [], {}, null, true),
);

const mutatedSpec = fc.record({ pick: fc.nat(), where: fc.nat(), value: odd, extraKey: fc.option(fc.string({ maxLength: 12 })) })
  .map(({ pick, where, value, extraKey }) => {
    const { samples } = load();
    const sample = samples[pick % samples.length];
    const ps = jsonPaths(sample.spec).map((p) => ['spec', ...p]);
    const at: JsonPath = [...ps[where % ps.length], ...(extraKey === null ? [] : [extraKey])];
    return { pool: replacedAt(sample, at, value) as MiddleboxPool, at };
  });

/** desiredState and diff on a pool the schema admits: a desired state, steps, or a PlanError. */
function readAndPlan(pool: MiddleboxPool, status: unknown): void {
  const desired = desiredState(pool, 'flow');
  if (!PARTITION_KEYS.includes(desired.key)) throw new Error(`desired key ${String(desired.key)}`);
  try {
    diff(desired, emptyActual(desired.buckets));
    diff(desired, recordedActual(status as MiddleboxPoolStatus, desired.buckets));
  } catch (e) {
    if (!(e instanceof PlanError)) throw e;
  }
}

export const PROPERTIES: Properties = {
  'the structural checker refuses a changed sample pool only by fields at or around the change, never a crash': fc.property(mutatedSpec, ({ pool, at }) => {
    const errors = validate(pool, load().schema);
    const changed = printed(at);
    for (const e of errors) {
      if (typeof e.path !== 'string' || typeof e.message !== 'string' || e.message === '') throw new Error(`an error without a path or message: ${JSON.stringify(e)}`);
      // A change can break the field itself, one inside it, or (required keys, cross-field rules) its parent object.
      const parent = printed(at.slice(0, -1));
      const near = e.path === changed || e.path.startsWith(changed) || changed.startsWith(e.path) || e.path.startsWith(parent);
      if (!near) throw new Error(`changing ${changed} broke ${e.path}: ${e.message}`);
    }
  }),
  'a pool the schema admits is read and planned without a crash, whatever its recorded status says': fc.property(
    mutatedSpec, fc.nat(), fc.nat(), odd,
    ({ pool }, statusWhere, statusKey, statusValue) => {
      if (validate(pool, load().schema).length > 0) return;
      const ps = jsonPaths(STATUS);
      readAndPlan(pool, STATUS);
      readAndPlan(pool, replacedAt(STATUS, [...ps[statusWhere % ps.length], ...(statusKey % 3 === 0 ? ['x'] : [])], statusValue));
    },
  ),
};
