/**
 * A pool's status, and its StateOperations' status, computed from snapshots. Pure: the time is
 * passed in, and a condition keeps its lastTransitionTime while its status does not change.
 *
 *   Ready        True once the placement is the desired one: every bucket owned, the desired
 *                number of instances, all connected, no step left for this generation.
 *   Progressing  True while steps of the plan are left to carry out, or an instance runs
 *                another configuration than the pool's (Reconfiguring).
 *   Degraded     True when the last reconcile failed, or an instance is not ready.
 *
 * An instance's load (packets, flows) is what a user reads with kubectl, not a time series
 * (/metrics is): it changes in status only when it moved by a tenth or more, so a converged pool
 * under steady traffic is not rewritten on every resync.
 */
import type {
  Condition, ConditionStatus, MiddleboxPoolStatus, OperationJournal, OperationPhase, PartitionKey, PoolPhase, StateOperationStatus,
} from '../api/types.js';
import { formatBuckets } from '../api/buckets.js';
import type { OperationStatus } from '../engine/operation.js';
import type { FlowFilter } from '../../shims/flow/filter.js';
import { instanceSelector } from './labels.js';
import type { ActualState } from './snapshot.js';
import { canonicalJson } from '../../shims/protocol/canonical-json.js';

export interface PoolStatusInput {
  name: string;
  /** The generation this status describes (the spec the reconciler acted on). */
  generation: number;
  desiredReplicas: number;
  key: PartitionKey;
  actual: ActualState;
  /** Steps of the plan left to carry out (0: converged). */
  pendingSteps: number;
  operationsInFlight: number;
  deleting: boolean;
  /** Why the last reconcile failed, if it did. */
  error?: string;
  /** Where traffic sources send the pool's packets. */
  switch?: { address: string; pod?: string };
  /** Instances that died and whose replacements are not yet in place. */
  lost?: string[];
  /** The configuration every instance must run. */
  configuration?: { generation: number; digest: string };
  /** The configuration generation each instance runs, where known. */
  configured?: Record<string, number>;
  previous?: MiddleboxPoolStatus;
  now: Date;
}

/** Sets a condition, keeping its lastTransitionTime when its status is unchanged. */
export function setCondition(previous: readonly Condition[] | undefined, c: Omit<Condition, 'lastTransitionTime'>, now: Date): Condition {
  const old = previous?.find((p) => p.type === c.type);
  return { ...c, lastTransitionTime: old && old.status === c.status ? old.lastTransitionTime : rfc3339(now) };
}

/** RFC 3339 without fractions, as metav1.Time serializes. */
export function rfc3339(d: Date | number): string {
  return new Date(d).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The share by which a load figure must change to be written again. */
export const LOAD_CHANGE = 0.1;

/** `now`, or the figure status already shows when `now` is not a meaningful change from it (any change from or to 0 is). */
export function shownLoad(shown: number | undefined, now: number): number {
  return shown === undefined || Math.abs(now - shown) >= Math.max(1, shown * LOAD_CHANGE) ? now : shown;
}

export function poolStatus(i: PoolStatusInput): MiddleboxPoolStatus {
  const p = i.actual.placement;
  const instances = p.instances.map((name) => {
    const load = i.actual.load[name];
    const shown = i.previous?.instances?.find((x) => x.name === name);
    return {
      name,
      buckets: formatBuckets(p.owner.flatMap((o, b) => (o === name ? [b] : []))),
      ready: load?.ready ?? false,
      packets: shownLoad(shown?.packets, load?.packets ?? 0),
      flows: shownLoad(shown?.flows, load?.flows ?? 0),
      ...(i.configured?.[name] !== undefined ? { configGeneration: i.configured[name] } : {}),
    };
  });
  const reconfiguring = i.configuration ? instances.filter((x) => x.configGeneration !== i.configuration!.generation).map((x) => x.name) : [];
  const ready = instances.filter((x) => x.ready).length;
  const unowned = p.owner.filter((o) => o === null).length;
  const notReady = instances.filter((x) => !x.ready).map((x) => x.name);
  const converged = !i.deleting && i.pendingSteps === 0 && reconfiguring.length === 0 && i.error === undefined && notReady.length === 0 &&
    p.instances.length === i.desiredReplicas && (p.instances.length === 0 || unowned === 0);
  const lost = i.lost ?? [];
  const degraded = i.error !== undefined || notReady.length > 0 || lost.length > 0;
  const gen = i.generation;
  const cond = (type: string, status: ConditionStatus, reason: string, message: string) =>
    setCondition(i.previous?.conditions, { type, status, observedGeneration: gen, reason, message }, i.now);
  const sizes = `${p.instances.length} of ${i.desiredReplicas} instance${i.desiredReplicas === 1 ? '' : 's'}`;

  let phase: PoolPhase;
  if (i.deleting) phase = 'Deleting';
  else if (degraded) phase = 'Degraded';
  else if (converged) phase = 'Ready';
  else if (p.instances.length === 0 && i.desiredReplicas > 0) phase = 'Pending';
  else if (i.pendingSteps === 0 && reconfiguring.length > 0) phase = 'Reconfiguring';
  else phase = 'Scaling';

  const conditions: Condition[] = [
    i.deleting ? cond('Ready', 'False', 'Deleting', 'the pool is being deleted; its state is being drained')
      : converged ? cond('Ready', 'True', 'Reconciled', `${sizes}, ${p.buckets} buckets placed`)
        : i.pendingSteps === 0 && !degraded && reconfiguring.length > 0 ? cond('Ready', 'False', 'Reconfiguring', `${sizes}; ${reconfiguring.join(', ')} not yet on configuration generation ${i.configuration!.generation}`)
          : cond('Ready', 'False', degraded ? 'Degraded' : 'Scaling', `${sizes}; ${i.pendingSteps} step${i.pendingSteps === 1 ? '' : 's'} left`),
    i.pendingSteps > 0 || i.deleting
      ? cond('Progressing', 'True', i.deleting ? 'Draining' : 'Scaling', `${i.pendingSteps} step${i.pendingSteps === 1 ? '' : 's'} left, ${i.operationsInFlight} operation${i.operationsInFlight === 1 ? '' : 's'} in flight`)
      : reconfiguring.length > 0 ? cond('Progressing', 'True', 'Reconfiguring', `${reconfiguring.join(', ')} not yet on configuration generation ${i.configuration!.generation}`)
        : cond('Progressing', 'False', 'Converged', 'the placement is the desired one'),
    i.error !== undefined ? cond('Degraded', 'True', 'ReconcileFailed', i.error)
      : notReady.length > 0 ? cond('Degraded', 'True', 'InstancesNotReady', `not connected: ${notReady.join(', ')}`)
        : lost.length > 0 ? cond('Degraded', 'True', 'InstanceLost', `${lost.join(', ')} died (${i.actual.lostFlows} flows lost in all); its buckets went to the survivors and a new instance is being started`)
        : cond('Degraded', 'False', 'AsExpected', i.actual.lostFlows > 0 ? `${i.actual.lostFlows} flows were lost earlier (an instance died)` : 'no failure'),
  ];
  return {
    replicas: p.instances.length,
    readyReplicas: ready,
    selector: instanceSelector(i.name),
    ...(i.switch ? { switch: i.switch } : {}),
    phase,
    observedGeneration: gen,
    instances,
    placement: { buckets: p.buckets, key: i.key, owners: p.owner.map((o) => o ?? '') },
    operationsInFlight: i.operationsInFlight,
    lostFlows: i.actual.lostFlows,
    ...(i.configuration ? { configuration: i.configuration } : {}),
    conditions,
  };
}

/** Key-order-independent equality of two statuses (so an unchanged status is not written again). */
export function sameStatus(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

/** The journal a StateOperation's status keeps of an engine operation (see OperationJournal). */
export function journalOf(s: OperationStatus, step: OperationJournal['step']): OperationJournal {
  return {
    id: s.id, step, kind: s.kind, guarantee: s.guarantee, from: [...s.from], to: s.to, filter: s.filter as Record<string, unknown>, scopes: [...s.scopes],
    ...(s.parts !== undefined ? { parts: s.parts, part: s.part ?? 0 } : {}),
    ...(s.routeVersion !== undefined ? { routeVersion: s.routeVersion } : {}),
  };
}

/**
 * The engine operation a journal describes, for a controller that takes it over: its progress
 * as last written, its timeline from the recorded start.
 */
export function journaledOperation(j: OperationJournal, status: StateOperationStatus): OperationStatus {
  const p = status.progress;
  return {
    id: j.id, kind: j.kind, guarantee: j.guarantee, from: [...j.from], to: j.to, filter: j.filter as FlowFilter, scopes: [...j.scopes], step: j.step,
    ...(j.parts !== undefined ? { parts: j.parts, part: j.part ?? 0 } : {}),
    ...(j.routeVersion !== undefined ? { routeVersion: j.routeVersion } : {}),
    phase: 'Running', flows: p?.flowsDone ?? 0, bytes: p?.bytes ?? 0, eventsHeld: p?.eventsHeld ?? 0, eventsReleased: p?.eventsReleased ?? 0, eventsDropped: p?.eventsDropped ?? 0,
    timeline: { start: status.startTime ? Date.parse(status.startTime) : Date.now() },
  };
}

/** What a StateOperation's status shows of an engine operation. */
export function operationStatus(s: OperationStatus | null, o: {
  phase: OperationPhase;
  startedAt: number;
  /** Estimated flows to move, known before the move starts (0: unknown). */
  flowsTotal: number;
  generation: number;
  message?: string;
  previous?: StateOperationStatus;
  now: Date;
}): StateOperationStatus {
  const done = s?.flows ?? 0;
  const terminal = o.phase === 'Succeeded' || o.phase === 'Failed';
  const end = s?.timeline.end ?? (terminal ? o.now.getTime() : undefined);
  const message = o.message ?? s?.error ?? (o.phase === 'Succeeded' ? `${s?.kind ?? 'operation'} done: ${done} flows, ${s?.bytes ?? 0} bytes` : o.phase === 'Running' ? 'running' : 'waiting');
  const cond = (type: string, status: ConditionStatus, reason: string) =>
    setCondition(o.previous?.conditions, { type, status, observedGeneration: o.generation, reason, message }, o.now);
  return {
    ...(s?.step ? { journal: journalOf(s, s.step) } : {}),
    phase: o.phase,
    progress: {
      flowsTotal: terminal && o.phase === 'Succeeded' ? done : Math.max(o.flowsTotal, done),
      flowsDone: done,
      bytes: s?.bytes ?? 0,
      eventsHeld: s?.eventsHeld ?? 0,
      eventsReleased: s?.eventsReleased ?? 0,
      eventsDropped: s?.eventsDropped ?? 0,
      ...(s?.transfer ? { transfer: s.transfer } : {}),
      ...(s?.parts !== undefined ? { parts: s.parts } : {}),
    },
    startTime: rfc3339(s?.timeline.start ?? o.startedAt),
    ...(terminal && end !== undefined ? { completionTime: rfc3339(end) } : {}),
    ...(s?.lostFlows !== undefined ? { lostFlows: s.lostFlows } : {}),
    message,
    observedGeneration: o.generation,
    conditions: [
      o.phase === 'Succeeded' ? cond('Complete', 'True', 'Succeeded') : o.phase === 'Failed' ? cond('Complete', 'False', 'Failed') : cond('Complete', 'False', o.phase),
      o.phase === 'Failed' ? cond('Failed', 'True', 'OperationFailed') : cond('Failed', 'False', o.phase),
    ],
  };
}
