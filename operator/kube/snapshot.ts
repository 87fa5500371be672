/**
 * The two snapshots the planner diffs, as immutable (immer-frozen) values: the desired state, read
 * from a MiddleboxPool's spec, and the actual state, recorded as steps complete and confirmed with
 * the engine (an instance that is no longer connected is gone, with its flows). Pure: no I/O.
 */
import { freeze, produce } from 'immer';
import { DEFAULTS, type InstanceStatus, type MiddleboxPool, type MiddleboxPoolStatus, type PartitionKey } from '../api/types.js';
import type { Guarantee, Optimizations, Transfer } from '../engine/operation.js';
import { plan, PlanError, withoutLost, type Placement, type Step } from '../placement/plan.js';
import { joinsWave } from '../engine/pool.js';
import type { PinnedRoute } from '../routing/bucket-router.js';
import type { FlowFilter } from '../../shims/flow/filter.js';

export interface DesiredState {
  generation: number;
  mbType: string;
  config: Record<string, unknown>;
  replicas: number;
  key: PartitionKey;
  buckets: number;
  inside?: string[];
  pins: PinnedRoute[];
  guarantee: Guarantee;
  /** How state travels in the pool's operations. */
  transfer: Transfer;
  optimizations: Optimizations;
  /** Moves to different destinations that may run at once. */
  concurrency: number;
  /** New instances are named `${namePrefix}-${k}`. */
  namePrefix: string;
  deleting: boolean;
}

export interface InstanceLoad {
  ready: boolean;
  packets: number;
  flows: number;
}

export interface ActualState {
  placement: Placement;
  /** Load per live instance, as last read from the engine. */
  load: Record<string, InstanceLoad>;
  /** Flows whose state was lost because their instance died. */
  lostFlows: number;
}

/** The desired state of a pool; `defaultKey` is the middlebox's own partition key. */
export function desiredState(pool: MiddleboxPool, defaultKey: PartitionKey): DesiredState {
  const s = pool.spec;
  const p = s.partitioning ?? {};
  const m = s.migration ?? {};
  const o = m.optimizations ?? {};
  return freeze({
    generation: pool.metadata.generation ?? 0,
    mbType: s.middlebox.type,
    config: s.middlebox.config ?? {},
    replicas: s.replicas ?? DEFAULTS.replicas,
    key: p.key ?? defaultKey,
    buckets: p.buckets ?? DEFAULTS.buckets,
    ...(p.inside && p.inside.length > 0 ? { inside: [...p.inside] } : {}),
    pins: (p.pins ?? []).map((pin) => ({ name: pin.name, filter: pin.filter as FlowFilter, instance: pin.instance })),
    guarantee: m.guarantee ?? DEFAULTS.guarantee,
    transfer: m.transfer ?? DEFAULTS.transfer,
    concurrency: m.concurrency ?? DEFAULTS.concurrency,
    optimizations: {
      parallelPuts: o.parallelPuts ?? DEFAULTS.optimizations.parallelPuts,
    },
    namePrefix: pool.metadata.name,
    deleting: Boolean(pool.metadata.deletionTimestamp),
  }, true);
}

export function emptyActual(buckets: number): ActualState {
  return freeze({ placement: { buckets, instances: [], owner: new Array<string | null>(buckets).fill(null) }, load: {}, lostFlows: 0 }, true);
}

/**
 * The actual state recorded in a pool's status (by this operator before it restarted): the
 * placement and the last known load. What of it still runs is for `confirm` to say.
 */
export function recordedActual(status: MiddleboxPoolStatus | undefined, buckets: number): ActualState {
  // Anyone allowed to write the status subresource can put anything there: what does not read as
  // this operator's record counts as no record.
  const owners: unknown = status?.placement?.owners;
  const recorded: unknown = status?.instances;
  if (!Array.isArray(owners) || !Array.isArray(recorded) || !recorded.every(isInstanceRecord)) return emptyActual(buckets);
  const instances = recorded.map((i) => i.name);
  if (owners.length !== buckets || instances.length === 0 || new Set(instances).size !== instances.length) return emptyActual(buckets);
  if (owners.some((o) => typeof o !== 'string' || (o !== '' && !instances.includes(o)))) return emptyActual(buckets);
  const count = (n: unknown) => (typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : 0);
  return freeze({
    placement: { buckets, instances, owner: (owners as string[]).map((o) => (o === '' ? null : o)) },
    load: Object.fromEntries(recorded.map((i) => [i.name, { ready: i.ready === true, packets: count(i.packets), flows: count(i.flows) }])),
    lostFlows: count(status?.lostFlows),
  }, true);
}

const isInstanceRecord = (i: unknown): i is InstanceStatus =>
  typeof i === 'object' && i !== null && typeof (i as { name?: unknown }).name === 'string' && (i as { name: string }).name !== '';

/** The actual state after the engine ran steps and reached `placement`. */
export function withPlacement(actual: ActualState, placement: Placement): ActualState {
  return produce(actual, (d) => {
    d.placement = placement as typeof d.placement;
    for (const name of Object.keys(d.load)) if (!placement.instances.includes(name)) delete d.load[name];
  });
}

export interface Confirmation {
  actual: ActualState;
  /** Instances recorded as live that the engine no longer has. */
  lost: string[];
}

/**
 * Confirms the recorded state with the engine: `live` holds the connected instances with their
 * load. An instance that is gone loses its flows (`lastFlows` says how many it last held); its
 * buckets go, route only, to a survivor as in a failover (withoutLost; nowhere if none is left),
 * and the next plan spreads them.
 */
export function confirm(actual: ActualState, live: Map<string, InstanceLoad>, lastFlows: (instance: string) => number): Confirmation {
  const lost = actual.placement.instances.filter((i) => !live.has(i));
  const placement = withoutLost(actual.placement, lost);
  const next = produce(actual, (d) => {
    d.placement = placement as typeof d.placement;
    const survivors = placement.instances;
    for (const name of lost) d.lostFlows += lastFlows(name);
    d.load = {};
    for (const name of survivors) d.load[name] = { ...live.get(name)! };
  });
  return { actual: next, lost };
}

/** The steps from actual to desired: a balanced placement of the desired replicas, pins kept. */
export function diff(desired: DesiredState, actual: ActualState, extraPins: { name: string; instance: string }[] = []): Step[] {
  const replicas = desired.deleting ? Math.min(1, actual.placement.instances.length) : desired.replicas;
  const live = new Set(actual.placement.instances);
  const pins = desired.deleting ? [] : [...desired.pins, ...extraPins].map((p) => ({ name: p.name, instance: p.instance }));
  try {
    // A pin may name an instance this plan creates (e.g. "<pool>-0" of a new pool).
    return plan({ current: actual.placement, replicas, pins, namePrefix: desired.namePrefix });
  } catch (e) {
    if (!(e instanceof PlanError)) throw e;
    // One that names an instance the plan would not create only routes; it keeps nothing alive.
    return plan({ current: actual.placement, replicas, pins: pins.filter((p) => live.has(p.instance)), namePrefix: desired.namePrefix });
  }
}

/**
 * Steps that run together: an instance's create and its clone, a leaving instance's merge and
 * removal (one after the other); up to `concurrency` moves in a row that may run at once (joinsWave).
 */
export function stepGroups(steps: Step[], concurrency = 1): Step[][] {
  const groups: Step[][] = [];
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i];
    const next = steps[i + 1];
    const last = groups[groups.length - 1];
    if ((s.kind === 'create' && next?.kind === 'clone' && next.to === s.instance) || (s.kind === 'merge' && next?.kind === 'remove' && next.instance === s.from)) {
      groups.push([s, next]);
      i++;
    } else if (last && joinsWave(last, s, concurrency)) {
      last.push(s);
    } else {
      groups.push([s]);
    }
  }
  return groups;
}
