/**
 * The TypeScript types in types.ts and the CRDs in manifests/crds/ describe the same API:
 *   - exemplars typed DeepRequired<T> (TS refuses a missing optional field) use exactly the
 *     property paths the schema declares, and are valid objects under the schema;
 *   - for every object in the schema, `required` equals the keys TS requires (literals typed
 *     RequiredKeysOnly<T>: TS refuses both a missing required key and any optional key);
 *   - every schema enum, default and limit equals its exported TS constant;
 *   - names, subresource paths and printer columns point at fields that exist.
 * CEL rules are exercised against a real API server by e2e/crds/crds.test.sh.
 */
import test from 'ava';
import { readFileSync, readdirSync } from 'node:fs';
import { parse, parseAllDocuments } from 'yaml';
import { GUARANTEES as ENGINE_GUARANTEES, TRANSFERS as ENGINE_TRANSFERS, type Guarantee as EngineGuarantee, type OperationKind as EngineOperationKind, type Phase as EnginePhase } from '../engine/operation.js';
import type { FlowFilter } from '../../shims/flow/filter.js';
import { PARTITION_KEYS as FLOW_PARTITION_KEYS, type PartitionKeyKind } from '../../shims/flow/hash.js';
import { SCOPES as PROTOCOL_SCOPES, type Scope as ProtocolScope } from '../../shims/protocol/messages.js';
import { formatBuckets } from './buckets.js';
import { type JSONSchemaProps, schemaNodes, schemaPaths, validate, valuePaths } from './schema.js';
import {
  API_VERSION, CONDITION_STATUSES, DEFAULTS, GROUP, GUARANTEES, LIMITS, MIDDLEBOX_POOL, MIDDLEBOX_POOLS, MIDDLEBOX_TYPES,
  OPERATION_KINDS, OPERATION_PHASES, PARTITION_KEYS, POOL_PHASES, PROTOCOL_NAMES, SCOPES, STATE_OPERATION,
  STATE_OPERATIONS, VERSION,
  type Condition, type FlowFilterSpec, type Guarantee, type InstanceStatus, type MiddleboxPool, type MiddleboxPoolSpec,
  type MiddleboxPoolStatus, type MiddleboxSpec, type MigrationOptimizations, type MigrationSpec, type OperationFilterSpec,
  type OperationKind, type OperationPhase, type OperationProgress, type PartitionKey, type PartitioningSpec, type Pin,
  type PlacementStatus, type Scope, type StateOperation, type StateOperationSpec, type StateOperationStatus, type OperationJournal, OPERATION_STEPS,
  type BucketSelectorSpec, type ConfigurationStatus, type EgressSpec, type EgressStatus, type PodTemplateSpec, type SwitchStatus, type Toleration, PULL_POLICIES, TOLERATION_EFFECTS, TOLERATION_OPERATORS, TRANSFERS,
} from './types.js';

// ---- type-level helpers ------------------------------------------------------------------------

/** Every optional field required, all the way down. */
type DeepRequired<T> = T extends readonly (infer U)[]
  ? DeepRequired<U>[]
  : T extends object
    ? { [K in keyof T]-?: DeepRequired<T[K]> }
    : T;
/** Only the required keys of T: a literal of this type has exactly T's required keys. */
type RequiredKeysOnly<T> = { [K in keyof T as object extends Pick<T, K> ? never : K]: T[K] };
type Equal<A, B> = (<X>() => X extends A ? 1 : 2) extends (<X>() => X extends B ? 1 : 2) ? true : false;

// The API's unions are the ones the engine and the data plane use.
const sameTypes: [
  Equal<Guarantee, EngineGuarantee>,
  Equal<OperationKind, EngineOperationKind>,
  Equal<OperationPhase, EnginePhase>,
  Equal<PartitionKey, PartitionKeyKind>,
  Equal<Scope, ProtocolScope>,
] = [true, true, true, true, true];

// ---- the CRDs ----------------------------------------------------------------------------------

interface Crd {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: {
    group: string;
    scope: string;
    names: { kind: string; listKind: string; plural: string; singular: string; shortNames: string[] };
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      subresources: { status?: object; scale?: { specReplicasPath: string; statusReplicasPath: string; labelSelectorPath?: string } };
      additionalPrinterColumns: { name: string; type: string; jsonPath: string; priority?: number }[];
      schema: { openAPIV3Schema: JSONSchemaProps };
    }[];
  };
}

const root = new URL('../../../', import.meta.url); // dist/operator/api/ -> repository root
const loadCrd = (file: string): Crd => parse(readFileSync(new URL(`manifests/crds/${file}`, root), 'utf8')) as Crd;
const poolCrd = loadCrd('middleboxpools.yaml');
const sopCrd = loadCrd('stateoperations.yaml');
const schemaOf = (crd: Crd) => crd.spec.versions[0].schema.openAPIV3Schema;
const poolSchema = schemaOf(poolCrd);
const sopSchema = schemaOf(sopCrd);

/** The schema node at a path in schemaPaths notation. */
function nodeAt(schema: JSONSchemaProps, path: string): JSONSchemaProps {
  for (const [p, node] of schemaNodes(schema)) if (p === path) return node;
  throw new Error(`no schema node at ${path}`);
}
const sorted = <T>(xs: Iterable<T>) => [...xs].sort();

// ---- exemplars: every field present ------------------------------------------------------------

const condition = {
  type: 'Ready',
  status: 'False',
  observedGeneration: 3,
  lastTransitionTime: '2025-06-01T12:00:00Z',
  reason: 'Scaling',
  message: '2 of 3 instances ready',
} satisfies DeepRequired<Condition>;

const metadata = {
  name: 'web-ids',
  namespace: 'edge',
  uid: '6f1c3a9e-2b7d-4c1e-9a53-0d2f8e7b1c44',
  resourceVersion: '4711',
  generation: 3,
  creationTimestamp: '2025-06-01T11:00:00Z',
  deletionTimestamp: '2025-06-02T11:00:00Z',
  labels: { app: 'web' },
  annotations: { 'openmb.io/note': 'exemplar' },
  ownerReferences: [{ apiVersion: 'v1', kind: 'Namespace', name: 'edge', uid: 'e0', controller: true, blockOwnerDeletion: true }],
  finalizers: ['openmb.io/state'],
};

const pool = {
  apiVersion: API_VERSION,
  kind: 'MiddleboxPool',
  metadata,
  spec: {
    middlebox: { type: 'ids', config: { signatures: ['scan'], threshold: 20 } },
    replicas: 3,
    partitioning: {
      key: 'host',
      buckets: 64,
      inside: ['10.0.0.0/8', '2001:db8::/32'],
      pins: [
        {
          name: 'dns',
          filter: { nwSrc: '10.0.0.0/24', nwDst: '192.0.2.53', tpSrc: 1024, tpDst: 53, nwProto: 'udp', dlType: 0x0800, vlan: 10, inPort: 1, bidirectional: true },
          instance: 'web-ids-0',
        },
        {
          name: 'ssh',
          filter: { nwSrc: '0.0.0.0/0', nwDst: '10.1.0.0/16', tpSrc: 0, tpDst: 22, nwProto: 6, dlType: 0x0800, vlan: 0, inPort: 2, bidirectional: false },
          instance: 'web-ids-1',
        },
      ],
    },
    migration: {
      guarantee: 'order-preserving',
      transfer: 'brokered',
      concurrency: 2,
      optimizations: { parallelPuts: false },
    },
    template: {
      image: 'registry.example/openmb:0.1.0',
      imagePullPolicy: 'IfNotPresent',
      resources: { limits: { cpu: '500m', memory: '256Mi' }, requests: { cpu: 1, memory: '128Mi' } },
      nodeSelector: { 'kubernetes.io/os': 'linux' },
      tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'middlebox', effect: 'NoSchedule', tolerationSeconds: 300 }],
      affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [] } },
    },
    egress: { address: '10.250.0.1:7300' },
  },
  status: {
    replicas: 3,
    readyReplicas: 2,
    selector: 'openmb.io/pool=web-ids,openmb.io/role=instance',
    switch: { address: '10.244.0.7:7000', pod: 'web-ids-switch' },
    egress: {
      address: '10.250.0.1:7300', connected: false, sent: 1200, delivered: 1100, queued: 100, undeliverable: { queueFull: 0, egressRemoved: 0 },
      lastError: '10.250.0.1:7300: connect ECONNREFUSED 10.250.0.1:7300', since: '2025-06-01T12:00:00Z',
    },
    phase: 'Scaling',
    observedGeneration: 3,
    instances: [
      { name: 'web-ids-0', buckets: formatBuckets([0, 1, 2, 3, 8]), ready: true, packets: 123456, flows: 321, configGeneration: 3 },
      { name: 'web-ids-1', buckets: '4-7', ready: false, packets: 0, flows: 0, configGeneration: 2 },
    ],
    placement: { buckets: 8, key: 'host', owners: ['web-ids-0', 'web-ids-0', 'web-ids-0', 'web-ids-0', 'web-ids-1', 'web-ids-1', 'web-ids-1', ''] },
    operationsInFlight: 1,
    lostFlows: 0,
    configuration: { generation: 3, digest: '0123456789abcdef' },
    conditions: [condition, { ...condition, type: 'Progressing', status: 'True', reason: 'MovingBuckets', message: 'moving 4 buckets' }],
  },
} satisfies DeepRequired<MiddleboxPool>;

const sop = {
  apiVersion: API_VERSION,
  kind: 'StateOperation',
  metadata,
  spec: {
    pool: 'web-ids',
    kind: 'move',
    from: ['web-ids-0'],
    to: 'web-ids-2',
    filter: {
      nwSrc: '2001:db8::/32',
      nwDst: '2001:db8:1::1',
      tpSrc: 40000,
      tpDst: 443,
      nwProto: 'tcp',
      dlType: 0x86dd,
      vlan: 0,
      inPort: 65535,
      bidirectional: true,
      buckets: { key: 'flow', of: 64, ids: [0, 1, 63] },
    },
    scopes: ['per-flow', 'multi-flow'],
    guarantee: 'loss-free',
  },
  status: {
    journal: { id: 'move-7.a1b2c3', step: 'copy', kind: 'move', guarantee: 'loss-free', from: ['monitor-0'], to: 'monitor-1', filter: { buckets: { key: 'flow', of: 64, ids: [0, 1] } }, scopes: ['per-flow'], parts: 3, part: 1, routeVersion: 12 },
    phase: 'Running',
    progress: { flowsTotal: 1000, flowsDone: 250, bytes: 1 << 20, eventsHeld: 17, eventsReleased: 12, eventsDropped: 0, transfer: 'direct', parts: 4 },
    startTime: '2025-06-01T12:00:00Z',
    completionTime: '2025-06-01T12:00:01.250Z',
    lostFlows: 0,
    message: 'moving',
    observedGeneration: 1,
    conditions: [condition],
  },
} satisfies DeepRequired<StateOperation>;

// The operator hands spec.filter to the data plane's filter compiler as is.
const asFlowFilter: FlowFilter = sop.spec.filter satisfies OperationFilterSpec;

// ---- exemplars: only the required keys, for every object type in the schemas -------------------

const keysOf = (o: object) => Object.keys(o);
const poolRequired: Record<string, string[]> = {
  spec: keysOf({ middlebox: { type: 'monitor' } } satisfies RequiredKeysOnly<MiddleboxPoolSpec>),
  'spec.middlebox': keysOf({ type: 'monitor' } satisfies RequiredKeysOnly<MiddleboxSpec>),
  'spec.partitioning': keysOf({} satisfies RequiredKeysOnly<PartitioningSpec>),
  'spec.partitioning.pins[]': keysOf({ name: 'p', filter: {}, instance: 'i' } satisfies RequiredKeysOnly<Pin>),
  'spec.partitioning.pins[].filter': keysOf({} satisfies RequiredKeysOnly<FlowFilterSpec>),
  'spec.migration': keysOf({} satisfies RequiredKeysOnly<MigrationSpec>),
  'spec.migration.optimizations': keysOf({} satisfies RequiredKeysOnly<MigrationOptimizations>),
  'spec.template': keysOf({} satisfies RequiredKeysOnly<PodTemplateSpec>),
  'spec.template.resources': keysOf({} satisfies RequiredKeysOnly<NonNullable<PodTemplateSpec['resources']>>),
  'spec.template.tolerations[]': keysOf({} satisfies RequiredKeysOnly<Toleration>),
  'status.switch': keysOf({} satisfies RequiredKeysOnly<SwitchStatus>),
  'spec.egress': keysOf({ address: 'h:1' } satisfies RequiredKeysOnly<EgressSpec>),
  'status.egress': keysOf({} satisfies RequiredKeysOnly<EgressStatus>),
  'status.egress.undeliverable': keysOf({} satisfies RequiredKeysOnly<NonNullable<EgressStatus['undeliverable']>>),
  status: keysOf({} satisfies RequiredKeysOnly<MiddleboxPoolStatus>),
  'status.instances[]': keysOf({ name: 'i' } satisfies RequiredKeysOnly<InstanceStatus>),
  'status.placement': keysOf({} satisfies RequiredKeysOnly<PlacementStatus>),
  'status.configuration': keysOf({} satisfies RequiredKeysOnly<ConfigurationStatus>),
  'status.conditions[]': keysOf(
    { type: 'Ready', status: 'True', lastTransitionTime: 't', reason: 'r', message: 'm' } satisfies RequiredKeysOnly<Condition>,
  ),
};
const sopRequired: Record<string, string[]> = {
  spec: keysOf({ pool: 'p', kind: 'move', from: ['a'], to: 'b' } satisfies RequiredKeysOnly<StateOperationSpec>),
  'spec.filter': keysOf({} satisfies RequiredKeysOnly<OperationFilterSpec>),
  'spec.filter.buckets': keysOf({ key: 'flow', of: 1, ids: [] } satisfies RequiredKeysOnly<BucketSelectorSpec>),
  status: keysOf({} satisfies RequiredKeysOnly<StateOperationStatus>),
  'status.progress': keysOf({} satisfies RequiredKeysOnly<OperationProgress>),
  'status.journal': keysOf({ id: 'x', step: 'copy', kind: 'move', guarantee: 'none', from: [], to: 'b', filter: {}, scopes: [] } satisfies RequiredKeysOnly<OperationJournal>),
  'status.conditions[]': poolRequired['status.conditions[]'],
};

// ---- expected enums, defaults and limits -------------------------------------------------------

const poolEnums = {
  'spec.middlebox.type': MIDDLEBOX_TYPES,
  'spec.partitioning.key': PARTITION_KEYS,
  'spec.migration.guarantee': GUARANTEES,
  'spec.migration.transfer': TRANSFERS,
  'spec.template.imagePullPolicy': PULL_POLICIES,
  'spec.template.tolerations[].operator': TOLERATION_OPERATORS,
  'spec.template.tolerations[].effect': TOLERATION_EFFECTS,
  'status.phase': POOL_PHASES,
  'status.placement.key': PARTITION_KEYS,
  'status.conditions[].status': CONDITION_STATUSES,
};
const sopEnums = {
  'spec.kind': OPERATION_KINDS,
  'spec.filter.buckets.key': PARTITION_KEYS,
  'spec.scopes[]': SCOPES,
  'spec.guarantee': GUARANTEES,
  'status.phase': OPERATION_PHASES,
  'status.journal.step': OPERATION_STEPS,
  'status.journal.kind': OPERATION_KINDS,
  'status.journal.guarantee': GUARANTEES,
  'status.journal.scopes[]': SCOPES,
  'status.progress.transfer': TRANSFERS,
  'status.conditions[].status': CONDITION_STATUSES,
};
const poolDefaults = {
  'spec.replicas': DEFAULTS.replicas,
  'spec.partitioning': {},
  'spec.partitioning.buckets': DEFAULTS.buckets,
  'spec.migration': {},
  'spec.migration.guarantee': DEFAULTS.guarantee,
  'spec.migration.transfer': DEFAULTS.transfer,
  'spec.migration.concurrency': DEFAULTS.concurrency,
  'spec.migration.optimizations': {},
  'spec.migration.optimizations.parallelPuts': DEFAULTS.optimizations.parallelPuts,
  'spec.template': {},
  'spec.template.imagePullPolicy': DEFAULTS.imagePullPolicy,
};
const sopDefaults = { 'spec.scopes': DEFAULTS.scopes, 'spec.guarantee': DEFAULTS.guarantee };

const collect = (schema: JSONSchemaProps, pick: (s: JSONSchemaProps) => unknown) =>
  Object.fromEntries([...schemaNodes(schema)].flatMap(([p, s]) => (pick(s) === undefined ? [] : [[p, pick(s)]])));

// ---- the tests ---------------------------------------------------------------------------------

test('the API unions equal the engine and data-plane ones, at run time too', (t) => {
  t.deepEqual(sameTypes, [true, true, true, true, true]);
  t.deepEqual([...GUARANTEES], [...ENGINE_GUARANTEES]);
  t.deepEqual([...TRANSFERS], [...ENGINE_TRANSFERS]);
  t.deepEqual([...PARTITION_KEYS], [...FLOW_PARTITION_KEYS]);
  t.deepEqual([...SCOPES], [...PROTOCOL_SCOPES]);
  t.truthy(asFlowFilter);
});

for (const [what, crd, names] of [
  ['MiddleboxPool', poolCrd, MIDDLEBOX_POOL],
  ['StateOperation', sopCrd, STATE_OPERATION],
] as const) {
  test(`${what} CRD names, group and version match the constants`, (t) => {
    t.is(crd.apiVersion, 'apiextensions.k8s.io/v1');
    t.is(crd.kind, 'CustomResourceDefinition');
    t.is(crd.metadata.name, `${names.plural}.${GROUP}`);
    t.is(crd.spec.group, GROUP);
    t.is(crd.spec.scope, 'Namespaced');
    t.deepEqual(crd.spec.versions.map((v) => [v.name, v.served, v.storage]), [[VERSION, true, true]]);
    const { shortName, ...rest } = names;
    t.like(crd.spec.names, rest);
    t.deepEqual(crd.spec.names.shortNames, [shortName]);
    t.deepEqual(crd.spec.versions[0].subresources.status, {});
  });
}
test('plural constants', (t) => {
  t.is(MIDDLEBOX_POOLS, 'middleboxpools');
  t.is(STATE_OPERATIONS, 'stateoperations');
});

for (const [what, schema, exemplar, opaque] of [
  ['MiddleboxPool', poolSchema, pool, new Set(['spec.middlebox.config', 'spec.template.resources.limits', 'spec.template.resources.requests', 'spec.template.nodeSelector', 'spec.template.affinity'])],
  ['StateOperation', sopSchema, sop, new Set<string>(['status.journal.filter'])],
] as const) {
  test(`${what}: schema property paths equal the fully populated exemplar's`, (t) => {
    t.deepEqual(sorted(Object.keys(schema.properties ?? {})), sorted(Object.keys(exemplar)));
    for (const part of ['spec', 'status'] as const) {
      const declared = schemaPaths(nodeAt(schema, part), part);
      const used = valuePaths(exemplar[part], part, opaque);
      t.deepEqual(sorted(used), sorted(declared), `${part}: paths differ`);
      t.deepEqual(sorted([...declared].filter((p) => !used.has(p))), [], 'declared in the CRD, missing in the TS type');
      t.deepEqual(sorted([...used].filter((p) => !declared.has(p))), [], 'in the TS type, missing in the CRD');
    }
  });

  test(`${what}: the exemplar is valid under the schema`, (t) => {
    t.deepEqual(validate(exemplar, schema), []);
  });

  test(`${what}: only the opaque fields keep unknown fields; the other opaque ones are maps`, (t) => {
    const preserving = [...schemaNodes(schema)].filter(([, s]) => s['x-kubernetes-preserve-unknown-fields']).map(([p]) => p);
    t.deepEqual(preserving, [...opaque].filter((p) => nodeAt(schema, p).additionalProperties === undefined));
  });
}

for (const [what, schema, required] of [
  ['MiddleboxPool', poolSchema, poolRequired],
  ['StateOperation', sopSchema, sopRequired],
] as const) {
  test(`${what}: each object's required keys are the keys TS requires`, (t) => {
    const objects = [...schemaNodes(schema)]
      .filter(([p, s]) => s.type === 'object' && s.properties && p !== '')
      .map(([p]) => p);
    t.deepEqual(sorted(Object.keys(required)), sorted(objects), 'every object type has a required-keys literal');
    for (const [p, keys] of Object.entries(required)) t.deepEqual(sorted(nodeAt(schema, p).required ?? []), sorted(keys), p);
  });
}

test('schema enums equal the exported TS constants', (t) => {
  t.deepEqual(collect(poolSchema, (s) => s.enum), poolEnums);
  t.deepEqual(collect(sopSchema, (s) => s.enum), sopEnums);
});

test('the nwProto CEL rule lists exactly PROTOCOL_NAMES, in both CRDs', (t) => {
  for (const [schema, path] of [
    [poolSchema, 'spec.partitioning.pins[].filter.nwProto'],
    [sopSchema, 'spec.filter.nwProto'],
  ] as const) {
    const rules = nodeAt(schema, path)['x-kubernetes-validations'] ?? [];
    t.is(rules.length, 1);
    const list = /self in \[([^\]]*)\]/.exec(rules[0].rule)?.[1];
    t.truthy(list, rules[0].rule);
    t.deepEqual(list!.split(',').map((s) => s.trim().replace(/^'|'$/g, '')), [...PROTOCOL_NAMES]);
    t.true(rules[0].message?.endsWith(PROTOCOL_NAMES.join(', ')));
  }
});

test('schema defaults equal DEFAULTS', (t) => {
  t.deepEqual(collect(poolSchema, (s) => s.default), poolDefaults);
  t.deepEqual(collect(sopSchema, (s) => s.default), sopDefaults);
});

test('schema bounds equal LIMITS', (t) => {
  t.is(nodeAt(poolSchema, 'spec.partitioning.buckets').maximum, LIMITS.maxBuckets);
  t.is(nodeAt(poolSchema, 'status.placement.buckets').maximum, LIMITS.maxBuckets);
  t.is(nodeAt(poolSchema, 'status.placement.owners').maxItems, LIMITS.maxBuckets);
  t.is(nodeAt(poolSchema, 'spec.migration.concurrency').maximum, LIMITS.maxConcurrency);
  t.is(nodeAt(poolSchema, 'spec.partitioning.pins').maxItems, LIMITS.maxPins);
  t.is(nodeAt(poolSchema, 'spec.partitioning.inside').maxItems, LIMITS.maxInside);
  t.is(nodeAt(sopSchema, 'spec.from').maxItems, LIMITS.maxSources);
  t.is(nodeAt(sopSchema, 'spec.filter.buckets.of').maximum, LIMITS.maxBuckets);
  t.is(nodeAt(sopSchema, 'spec.filter.buckets.ids').maxItems, LIMITS.maxBuckets);
  t.is(nodeAt(sopSchema, 'spec.filter.buckets.ids[]').maximum, LIMITS.maxBuckets - 1);
});

test("a StateOperation's filter is a pin's filter plus buckets", (t) => {
  const strip = (s: JSONSchemaProps): JSONSchemaProps => {
    const rest = { ...s, properties: Object.fromEntries(Object.entries(s.properties ?? {}).filter(([k]) => k !== 'buckets')) };
    delete rest.description;
    delete rest.minProperties;
    return rest;
  };
  t.deepEqual(strip(nodeAt(sopSchema, 'spec.filter')), strip(nodeAt(poolSchema, 'spec.partitioning.pins[].filter')));
  t.is(nodeAt(poolSchema, 'spec.partitioning.pins[].filter').minProperties, 1, 'a pin must select something');
});

test('scale subresource and printer columns point at declared fields', (t) => {
  const fieldOf = (jsonPath: string) => jsonPath.replace(/^\./, '');
  const scale = poolCrd.spec.versions[0].subresources.scale!;
  const poolPaths = schemaPaths(poolSchema);
  t.deepEqual([scale.specReplicasPath, scale.statusReplicasPath, scale.labelSelectorPath], ['.spec.replicas', '.status.replicas', '.status.selector']);
  for (const p of [scale.specReplicasPath, scale.statusReplicasPath, scale.labelSelectorPath!]) t.true(poolPaths.has(fieldOf(p)), p);
  for (const [crd, columns] of [
    [poolCrd, ['Type', 'Desired', 'Ready', 'Phase', 'Ops', 'Age']],
    [sopCrd, ['Kind', 'From', 'To', 'Phase', 'Progress', 'Age']],
  ] as const) {
    const all = crd.spec.versions[0].additionalPrinterColumns;
    t.deepEqual(all.filter((c) => !c.priority).map((c) => c.name), [...columns], 'the default `kubectl get` columns');
    const paths = schemaPaths(schemaOf(crd));
    for (const c of all) {
      if (c.jsonPath === '.metadata.creationTimestamp') continue;
      t.true(paths.has(fieldOf(c.jsonPath)), `${c.name}: ${c.jsonPath}`);
      const node = nodeAt(schemaOf(crd), fieldOf(c.jsonPath));
      t.true(c.type === node.type || (c.type === 'string' && node.type === 'array'), `${c.name}: column type ${c.type}, field type ${node.type}`);
    }
  }
  t.is(nodeAt(poolSchema, 'status.instances[].buckets').pattern !== undefined, true);
  t.regex(formatBuckets([0, 1, 2, 9, 11, 12]), new RegExp(nodeAt(poolSchema, 'status.instances[].buckets').pattern!));
});

// ---- the checker itself refuses what the API server refuses for the same reason ----------------

test('the structural checker names the offending field', (t) => {
  const paths = (v: unknown, s = poolSchema) => validate(v, s).map((e) => e.path);
  const withSpec = (spec: object) => ({ ...pool, spec: { ...pool.spec, ...spec } });
  t.deepEqual(paths(withSpec({ replicas: -1 })), ['spec.replicas']);
  t.deepEqual(paths(withSpec({ replicas: 1.5 })), ['spec.replicas']);
  t.deepEqual(paths(withSpec({ middlebox: { type: 'firewall' } })), ['spec.middlebox.type']);
  t.deepEqual(paths(withSpec({ middlebox: {} })), ['spec.middlebox.type']);
  t.deepEqual(paths(withSpec({ replica: 2 })), ['spec.replica']);
  t.deepEqual(paths(withSpec({ partitioning: { buckets: 5000 } })), ['spec.partitioning.buckets']);
  const pin = pool.spec.partitioning.pins[0];
  t.deepEqual(paths(withSpec({ partitioning: { pins: [{ ...pin, filter: { tpDst: 70000 } }] } })), ['spec.partitioning.pins[0].filter.tpDst']);
  t.deepEqual(paths(withSpec({ partitioning: { pins: [{ ...pin, filter: {} }] } })), ['spec.partitioning.pins[0].filter']);
  t.deepEqual(paths(withSpec({ partitioning: { pins: [{ ...pin, filter: { nwProto: true } }] } })), ['spec.partitioning.pins[0].filter.nwProto']);
  t.deepEqual(paths(withSpec({ partitioning: { pins: [pin, { ...pin, instance: 'x' }] } })), ['spec.partitioning.pins[1]']);
  for (const address of ['10.250.0.1', '10.250.0.1:0', '10.250.0.1:65536', 'sink :7300', '[::1:7300', '-sink:7300']) {
    t.deepEqual(paths(withSpec({ egress: { address } })), ['spec.egress.address'], address);
  }
  for (const address of ['10.250.0.1:7300', '[fd00::1]:7300', 'sink.openmb-system.svc:65535']) t.deepEqual(paths(withSpec({ egress: { address } })), [], address);
  t.deepEqual(paths(withSpec({ egress: {} })), ['spec.egress.address']);
  const status = (s: object) => ({ ...pool, status: { ...pool.status, ...s } });
  t.deepEqual(paths(status({ phase: 'Done' })), ['status.phase']);
  t.deepEqual(paths(status({ instances: [{ name: 'a', buckets: '0-' }] })), ['status.instances[0].buckets']);
  t.deepEqual(paths(status({ conditions: [{ ...condition, lastTransitionTime: 'yesterday' }] })), ['status.conditions[0].lastTransitionTime']);
  t.deepEqual(paths(status({ conditions: [{ ...condition, status: 'Maybe' }] })), ['status.conditions[0].status']);
  t.deepEqual(paths({ ...sop, spec: { ...sop.spec, from: [] } }, sopSchema), ['spec.from']);
  t.deepEqual(paths({ ...sop, spec: { ...sop.spec, scopes: ['per-flow', 'per-flow'] } }, sopSchema), ['spec.scopes[1]']);
  t.deepEqual(paths({ ...sop, spec: { ...sop.spec, filter: { buckets: { key: 'flow', of: 4 } } } }, sopSchema), ['spec.filter.buckets.ids']);
});

// ---- the samples -------------------------------------------------------------------------------

const samples = new URL('manifests/samples/', root);
const invalidDir = new URL('invalid/', samples);
const schemaFor = (doc: { kind?: string }) => (doc.kind === 'StateOperation' ? sopSchema : poolSchema);
/** Files whose error the structural schema catches; the others break only a CEL rule. */
const SCHEMA_CASES = new Set(['replicas-negative.yaml', 'unknown-middlebox-type.yaml', 'unknown-transfer.yaml', 'egress-address-without-port.yaml']);

test('the sample pool is valid', (t) => {
  const docs = parseAllDocuments(readFileSync(new URL('monitor-pool.yaml', samples), 'utf8')).map((d) => d.toJS() as MiddleboxPool);
  t.is(docs.length, 1);
  t.is(docs[0].apiVersion, API_VERSION);
  t.is(docs[0].kind, MIDDLEBOX_POOL.kind);
  t.deepEqual(validate(docs[0], poolSchema), []);
});

test('each invalid sample says which field the API server names, and breaks only that', (t) => {
  const files = readdirSync(invalidDir).filter((f) => f.endsWith('.yaml')).sort();
  t.true(files.length >= 5);
  for (const f of files) {
    const text = readFileSync(new URL(f, invalidDir), 'utf8');
    const field = /^# expect-field: (\S+)$/m.exec(text)?.[1];
    t.truthy(field, `${f}: needs a "# expect-field: <path>" line`);
    t.truthy(/^# expect-message: .+$/m.exec(text), `${f}: needs a "# expect-message: <text>" line`);
    const doc = parse(text) as { kind?: string };
    const errors = validate(doc, schemaFor(doc)).map((e) => e.path);
    // The API server prints list indices; the structural checker does too.
    t.deepEqual(errors, SCHEMA_CASES.has(f) ? [field] : [], f);
  }
});
