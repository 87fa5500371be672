/**
 * TypeScript shapes of the operator's custom resources, MiddleboxPool and StateOperation
 * (DESIGN §7). The CRDs in manifests/crds/ are the source of truth; types.test.ts checks that every property
 * path, enum, default and limit here matches their OpenAPI schemas.
 *
 * Optional fields are the ones the schema does not require. Fields with a schema default are
 * optional here too (a client may omit them) but are always present on objects read back from
 * the API server, which fills them in; DEFAULTS lists the values.
 *
 * The enums the data plane and the engine define (partition keys, scopes, protocol names,
 * guarantees, optimization defaults) are theirs, imported here: one definition each. The
 * modules it imports import nothing of the operator's API, so no cycle can form.
 */
import type { ProtocolName } from '../../shims/flow/filter.js';
import type { PartitionKeyKind as PartitionKey } from '../../shims/flow/hash.js';
import type { Scope } from '../../shims/protocol/messages.js';
import { ALL_OPTIMIZATIONS, type Guarantee, type Step as OperationStep, type Transfer } from '../engine/operation.js';

export const GROUP = 'openmb.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}` as const;

export const MIDDLEBOX_POOL = {
  kind: 'MiddleboxPool',
  listKind: 'MiddleboxPoolList',
  plural: 'middleboxpools',
  singular: 'middleboxpool',
  shortName: 'mbp',
} as const;

export const STATE_OPERATION = {
  kind: 'StateOperation',
  listKind: 'StateOperationList',
  plural: 'stateoperations',
  singular: 'stateoperation',
  shortName: 'sop',
} as const;

/** Plural resource names, as in URLs: /apis/openmb.io/v1alpha1/namespaces/NS/<plural>/NAME. */
export const MIDDLEBOX_POOLS = MIDDLEBOX_POOL.plural;
export const STATE_OPERATIONS = STATE_OPERATION.plural;

// ---- enums (each equals the CRD's `enum`) -----------------------------------------------------

export const MIDDLEBOX_TYPES = ['monitor', 'ids', 'nat', 're'] as const;
export type MiddleboxType = (typeof MIDDLEBOX_TYPES)[number];

// Defined where the data plane and the engine need them; the API is made of the same values.
export { PARTITION_KEYS, type PartitionKeyKind as PartitionKey } from '../../shims/flow/hash.js';
export { GUARANTEES, type Guarantee } from '../engine/operation.js';
/** How state travels between instances in an operation. */
export { TRANSFERS, type Transfer } from '../engine/operation.js';
/** Journal steps of an operation, in order. */
export { STEPS as OPERATION_STEPS, type Step as OperationStep } from '../engine/operation.js';

export const POOL_PHASES = ['Pending', 'Scaling', 'Reconfiguring', 'Ready', 'Degraded', 'Deleting'] as const;
export type PoolPhase = (typeof POOL_PHASES)[number];

export const OPERATION_KINDS = ['move', 'clone', 'merge'] as const;
export type OperationKind = (typeof OPERATION_KINDS)[number];

export const OPERATION_PHASES = ['Pending', 'Running', 'Succeeded', 'Failed'] as const;
export type OperationPhase = (typeof OPERATION_PHASES)[number];

export { SCOPES, type Scope } from '../../shims/protocol/messages.js';

export const CONDITION_STATUSES = ['True', 'False', 'Unknown'] as const;
export type ConditionStatus = (typeof CONDITION_STATUSES)[number];

/** Protocol names a filter's nwProto may use (else a number 0-255); a CEL rule in the CRDs lists them. */
export { PROTOCOL_NAMES, type ProtocolName } from '../../shims/flow/filter.js';

/** Condition types the operator sets on a pool (DESIGN §7). Not an enum in the schema. */
export const POOL_CONDITION_TYPES = ['Ready', 'Progressing', 'Degraded', 'EgressReachable'] as const;
export type PoolConditionType = (typeof POOL_CONDITION_TYPES)[number];

// ---- defaults and limits (each equals the CRD's `default` / bounds) ---------------------------

export const DEFAULTS = {
  replicas: 1,
  buckets: 64,
  guarantee: 'loss-free',
  transfer: 'direct',
  concurrency: 1,
  optimizations: ALL_OPTIMIZATIONS,
  scopes: ['per-flow'],
  imagePullPolicy: 'IfNotPresent',
} as const satisfies {
  replicas: number;
  buckets: number;
  guarantee: Guarantee;
  transfer: Transfer;
  concurrency: number;
  optimizations: Required<MigrationOptimizations>;
  scopes: readonly Scope[];
  imagePullPolicy: PullPolicy;
};

export const LIMITS = {
  maxBuckets: 4096,
  maxConcurrency: 64,
  maxPins: 64,
  maxInside: 64,
  maxSources: 64,
} as const;

// ---- Kubernetes object metadata (the subset the operator uses) --------------------------------

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
}

export interface ListMeta {
  resourceVersion?: string;
  continue?: string;
}

/** metav1.Condition. */
export interface Condition {
  type: string;
  status: ConditionStatus;
  observedGeneration?: number;
  /** RFC 3339 date-time. */
  lastTransitionTime: string;
  reason: string;
  message: string;
}

// ---- flow filters ------------------------------------------------------------------------------

/**
 * An OpenFlow-style wildcard match; an absent field matches anything. Assignable to
 * shims/flow FlowFilter, so the operator can compile it as is.
 */
export interface FlowFilterSpec {
  /** IP address or prefix ("10.0.0.0/8"); same family as nwDst. */
  nwSrc?: string;
  nwDst?: string;
  tpSrc?: number;
  tpDst?: number;
  /** Protocol number 0-255 or a name from PROTOCOL_NAMES. */
  nwProto?: number | ProtocolName;
  dlType?: number;
  vlan?: number;
  inPort?: number;
  bidirectional?: boolean;
}

/** Hash buckets `ids` (each < `of`) of a symmetric hash of partition key `key`. */
export interface BucketSelectorSpec {
  key: PartitionKey;
  of: number;
  ids: number[];
}

export interface OperationFilterSpec extends FlowFilterSpec {
  buckets?: BucketSelectorSpec;
}

// ---- MiddleboxPool -----------------------------------------------------------------------------

export interface MiddleboxSpec {
  type: MiddleboxType;
  /** Configuring state, in the middlebox's own schema. */
  config?: Record<string, unknown>;
}

export interface Pin {
  /** Unique within the pool (the list is a map keyed by name). */
  name: string;
  /** Not empty; no two pins may have the same filter. */
  filter: FlowFilterSpec;
  instance: string;
}

export interface PartitioningSpec {
  /** Absent: the middlebox's own key. */
  key?: PartitionKey;
  buckets?: number;
  /** IP prefixes whose addresses are the hosts, for key `host`. */
  inside?: string[];
  pins?: Pin[];
}

export interface MigrationOptimizations {
  /** Put state at the destination as it arrives from the source. */
  parallelPuts?: boolean;
}

export interface MigrationSpec {
  guarantee?: Guarantee;
  /** direct: the source streams state to the destination; brokered: through the controller. */
  transfer?: Transfer;
  /** Moves run at once, to different instances (operator/engine/pool.ts joinsWave). */
  concurrency?: number;
  optimizations?: MigrationOptimizations;
}

export const PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'] as const;
export type PullPolicy = (typeof PULL_POLICIES)[number];

export const TOLERATION_OPERATORS = ['Exists', 'Equal'] as const;
export const TOLERATION_EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const;

export interface Toleration {
  key?: string;
  operator?: (typeof TOLERATION_OPERATORS)[number];
  value?: string;
  effect?: (typeof TOLERATION_EFFECTS)[number];
  tolerationSeconds?: number;
}

/** The part of a Pod template a pool's instance and switch Pods take from the spec. */
export interface PodTemplateSpec {
  image?: string;
  imagePullPolicy?: PullPolicy;
  resources?: { limits?: Record<string, string | number>; requests?: Record<string, string | number> };
  nodeSelector?: Record<string, string>;
  tolerations?: Toleration[];
  /** A core/v1 Affinity, not interpreted here. */
  affinity?: Record<string, unknown>;
}

/** Where the packets the instances emit go: a receiver the switch dials (openmb sink). */
export interface EgressSpec {
  /** host:port or [IPv6]:port, as the switch reaches it. */
  address: string;
}

export interface MiddleboxPoolSpec {
  middlebox: MiddleboxSpec;
  replicas?: number;
  partitioning?: PartitioningSpec;
  migration?: MigrationSpec;
  template?: PodTemplateSpec;
  egress?: EgressSpec;
}

export interface InstanceStatus {
  name: string;
  /** Owned buckets as sorted ranges, e.g. "0-15,32" (see buckets.ts). */
  buckets?: string;
  ready?: boolean;
  packets?: number;
  flows?: number;
  /** The generation whose spec.middlebox.config this instance runs (as it reports). */
  configGeneration?: number;
}

/** The configuration the pool's instances must run. */
export interface ConfigurationStatus {
  /** The generation that introduced the current spec.middlebox.config. */
  generation?: number;
  /** sha256 of its canonical JSON (16 hex digits). */
  digest?: string;
}

export interface PlacementStatus {
  buckets?: number;
  /** The effective partition key. */
  key?: PartitionKey;
  /** owners[b] is the instance owning bucket b, "" while unowned. */
  owners?: string[];
}

export interface SwitchStatus {
  /** host:port (a Pod IP) or a socket path. */
  address?: string;
  pod?: string;
}

/** The switch's link to spec.egress: packet counters since it was set. */
export interface EgressStatus {
  address?: string;
  connected?: boolean;
  sent?: number;
  delivered?: number;
  /** Waiting for the receiver, or written and not acknowledged yet. */
  queued?: number;
  undeliverable?: { queueFull?: number; egressRemoved?: number };
  lastError?: string;
  /** RFC 3339 date-time: when the link last went up or down. */
  since?: string;
}

export interface MiddleboxPoolStatus {
  replicas?: number;
  readyReplicas?: number;
  /** Label selector of the instance Pods, in string form (for the scale subresource and HPA). */
  selector?: string;
  switch?: SwitchStatus;
  egress?: EgressStatus;
  phase?: PoolPhase;
  observedGeneration?: number;
  instances?: InstanceStatus[];
  placement?: PlacementStatus;
  operationsInFlight?: number;
  lostFlows?: number;
  configuration?: ConfigurationStatus;
  conditions?: Condition[];
}

export interface MiddleboxPool {
  apiVersion: typeof API_VERSION;
  kind: typeof MIDDLEBOX_POOL.kind;
  metadata: ObjectMeta;
  spec: MiddleboxPoolSpec;
  status?: MiddleboxPoolStatus;
}

export interface MiddleboxPoolList {
  apiVersion: typeof API_VERSION;
  kind: typeof MIDDLEBOX_POOL.listKind;
  metadata: ListMeta;
  items: MiddleboxPool[];
}

// ---- StateOperation ----------------------------------------------------------------------------

/** Immutable once created. */
export interface StateOperationSpec {
  pool: string;
  kind: OperationKind;
  /** Exactly one for move and clone; never contains `to`. */
  from: string[];
  to: string;
  /** Absent: all flows. */
  filter?: OperationFilterSpec;
  scopes?: Scope[];
  guarantee?: Guarantee;
}

export interface OperationProgress {
  flowsTotal?: number;
  flowsDone?: number;
  bytes?: number;
  eventsHeld?: number;
  eventsReleased?: number;
  /** Events dropped because the operation already held its maximum (their packets are lost). */
  eventsDropped?: number;
  /** How the state travelled, once the copy started. */
  transfer?: Transfer;
  /** A held move in parts: how many. */
  parts?: number;
}


/**
 * What the engine recorded before the step under way, so that an operator taking over resumes or
 * rolls the operation back (the crash table in docs/moves.md). Written before each step runs.
 */
export interface OperationJournal {
  /** The engine's id of the operation: it names the switch's hold and the destination's puts. */
  id: string;
  step: OperationStep;
  kind: OperationKind;
  guarantee: Guarantee;
  from: string[];
  to: string;
  /** The filter as the engine runs it (a pool's bucket set leaves out pinned flows). */
  filter: Record<string, unknown>;
  scopes: Scope[];
  /** A move in parts: how many, and the one under way (from 0). */
  parts?: number;
  part?: number;
  /** The switch table's version the route change installed. */
  routeVersion?: number;
}

export interface StateOperationStatus {
  journal?: OperationJournal;
  phase?: OperationPhase;
  progress?: OperationProgress;
  /** RFC 3339 date-time. */
  startTime?: string;
  completionTime?: string;
  lostFlows?: number;
  message?: string;
  observedGeneration?: number;
  conditions?: Condition[];
}

export interface StateOperation {
  apiVersion: typeof API_VERSION;
  kind: typeof STATE_OPERATION.kind;
  metadata: ObjectMeta;
  spec: StateOperationSpec;
  status?: StateOperationStatus;
}

export interface StateOperationList {
  apiVersion: typeof API_VERSION;
  kind: typeof STATE_OPERATION.listKind;
  metadata: ListMeta;
  items: StateOperation[];
}
