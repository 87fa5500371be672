/**
 * The placement planner: from the current bucket → instance placement, the desired replica count
 * and the pins, the ordered steps that reach a balanced placement moving the fewest buckets.
 * Pure: no I/O, no clocks, no randomness.
 *
 * Rules (DESIGN.md §7):
 * - New instances are named `${namePrefix}-${k}`, smallest unused k ≥ 0, and each is created and
 *   then cloned from the first live instance. The first instance of an empty pool owns every
 *   bucket on creation and has nothing to clone from.
 * - Balancing keeps the larger quotas on the instances holding the most buckets; donors hand
 *   their highest buckets, receivers are filled in instance order; one move per (from, to) pair.
 * - Scale down: the leaving instances are never pinned, and are those with the fewest buckets,
 *   then the most recently created. Each one's buckets move to survivors below quota, then it is
 *   merged into the survivor that received the most of them (tie: instance order), then removed.
 *   Survivors above quota give their excess after that.
 * - Pins keep their instances: replicas is raised to the number of distinct pinned instances,
 *   so replicas 0 with pins keeps exactly the pinned instances. A pin may name an instance that
 *   is not live only if this plan creates it.
 * - Replicas 0 (no pins) removes every instance and drops its state: nothing to move or merge
 *   into. A removed instance that still owns buckets (only in this case) hands them, route only,
 *   to the remaining instance owning the most; the removal order (fewest buckets first) makes
 *   that the instance removed last, so no bucket is re-routed twice, no bucket is ever unowned
 *   while an instance lives, and every intermediate placement is a valid input to `plan`.
 */
import { quotas, transfers, type Supply } from './spread.js';

/** Which instance owns each hash bucket. */
export interface Placement {
  /** Number of hash buckets N. */
  buckets: number;
  /** Live instances, in creation order. */
  instances: string[];
  /** owner[b] = instance owning bucket b; null only when there are no instances. */
  owner: (string | null)[];
}

/** A pinned partition: its instance must stay (it is never chosen to leave). */
export interface Pin {
  name: string;
  instance: string;
}

export type Step =
  | { kind: 'create'; instance: string }
  /** Clone configuration and shared (all-flows) state into a new instance. */
  | { kind: 'clone'; from: string; to: string }
  /** Move these buckets' state, then re-route them (atomic per step). */
  | { kind: 'move'; from: string; to: string; buckets: number[] }
  /** Merge the leaving instance's remaining (multi-flow, all-flows) state into a survivor. */
  | { kind: 'merge'; from: string; to: string }
  | { kind: 'remove'; instance: string };

export interface PlanInput {
  current: Placement;
  replicas: number;
  pins?: Pin[];
  namePrefix: string;
}

export class PlanError extends Error {
  override readonly name = 'PlanError';
}

const show = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v) : String(v));
const fail = (message: string): never => {
  throw new PlanError(message);
};
const bucketsOf = (p: Placement, instance: string) =>
  p.owner.flatMap((o, b) => (o === instance ? [b] : []));

export function initialPlacement(buckets: number): Placement {
  if (!Number.isInteger(buckets) || buckets < 1) fail(`buckets: must be a positive integer, got ${show(buckets)}`);
  return { buckets, instances: [], owner: new Array<string | null>(buckets).fill(null) };
}

/** Every bucket owned by a live instance, and bucket counts per instance differ by at most one. */
export function isBalanced(p: Placement): boolean {
  const counts = new Map(p.instances.map((i) => [i, 0]));
  for (const o of p.owner) {
    if (o === null || !counts.has(o)) return false;
    counts.set(o, (counts.get(o) ?? 0) + 1);
  }
  const c = [...counts.values()];
  return c.length > 0 && Math.max(...c) - Math.min(...c) <= 1;
}

/** The placement after a step; throws PlanError if the step does not apply to `p`. */
/**
 * The survivor a dead instance's buckets fail over to, route only: of the instances not `gone`
 * (those that died with it), the one owning the fewest buckets (the first of those); null when
 * none is left. The one rule for a failover and for an operator that finds instances gone.
 */
export function failoverTarget(p: Placement, dead: string, gone: readonly string[] = [dead]): string | null {
  const survivors = p.instances.filter((i) => i !== dead && !gone.includes(i));
  if (survivors.length === 0) return null;
  const held = (i: string) => p.owner.filter((o) => o === i).length;
  return survivors.reduce((a, b) => (held(b) < held(a) ? b : a));
}

/** The placement once `lost` instances are gone: each one's buckets at its failoverTarget, in turn (a plan may spread them after). */
export function withoutLost(p: Placement, lost: readonly string[]): Placement {
  let next = p;
  for (const dead of lost) {
    if (!next.instances.includes(dead)) continue;
    const to = failoverTarget(next, dead, lost);
    next = { ...next, instances: next.instances.filter((i) => i !== dead), owner: next.owner.map((o) => (o === dead ? to : o)) };
  }
  return next;
}

export function applyStep(p: Placement, s: Step): Placement {
  const live = (instance: string) => {
    if (!p.instances.includes(instance)) fail(`${s.kind}: ${show(instance)} is not a live instance`);
  };
  const pair = (from: string, to: string) => {
    live(from);
    live(to);
    if (from === to) fail(`${s.kind}: from and to are both ${show(from)}`);
  };
  switch (s.kind) {
    case 'create':
      if (p.instances.includes(s.instance)) fail(`create: ${show(s.instance)} is already live`);
      return {
        buckets: p.buckets,
        instances: [...p.instances, s.instance],
        owner: p.instances.length === 0 ? p.owner.map(() => s.instance) : p.owner,
      };
    case 'clone':
      pair(s.from, s.to);
      return p;
    case 'merge':
      pair(s.from, s.to);
      if (p.owner.includes(s.from)) fail(`merge: ${show(s.from)} still owns buckets`);
      return p;
    case 'move': {
      pair(s.from, s.to);
      if (s.buckets.length === 0) fail('move: no buckets');
      const owner = [...p.owner];
      for (const b of s.buckets) {
        if (!Number.isInteger(b) || b < 0 || b >= p.buckets) fail(`move: no bucket ${show(b)} among ${p.buckets}`);
        if (owner[b] !== s.from) fail(`move: bucket ${b} is owned by ${show(owner[b])}, not ${show(s.from)}`);
        owner[b] = s.to;
      }
      return { ...p, owner };
    }
    case 'remove': {
      live(s.instance);
      const instances = p.instances.filter((i) => i !== s.instance);
      // Only a scale to zero removes an owner: its buckets go, route only, to the remaining
      // instance owning the most (ties: instance order), or nowhere with the last instance.
      const counts = instances.map((i) => bucketsOf(p, i).length);
      const heir = instances.length === 0 ? null : instances[counts.indexOf(Math.max(...counts))];
      return { buckets: p.buckets, instances, owner: p.owner.map((o) => (o === s.instance ? heir : o)) };
    }
  }
}

function validate({ current: p, replicas, namePrefix, pins = [] }: PlanInput): void {
  if (!Number.isInteger(replicas) || replicas < 0) fail(`replicas: must be a non-negative integer, got ${show(replicas)}`);
  if (typeof namePrefix !== 'string' || namePrefix === '') fail(`namePrefix: must be a non-empty string, got ${show(namePrefix)}`);
  if (!Number.isInteger(p.buckets) || p.buckets < 1) fail(`current.buckets: must be a positive integer, got ${show(p.buckets)}`);
  p.instances.forEach((name, i) => {
    if (typeof name !== 'string' || name === '') fail(`current.instances[${i}]: must be a non-empty string, got ${show(name)}`);
    if (p.instances.indexOf(name) !== i) fail(`current.instances[${i}]: duplicate instance ${show(name)}`);
  });
  if (p.owner.length !== p.buckets) fail(`current.owner: length must equal buckets (${p.buckets}), got ${p.owner.length}`);
  p.owner.forEach((o, b) => {
    if (o === null && p.instances.length > 0) fail(`current.owner[${b}]: null while instances are live`);
    if (o !== null && !p.instances.includes(o)) fail(`current.owner[${b}]: ${show(o)} is not a live instance`);
  });
  pins.forEach((pin, i) => {
    if (typeof pin.name !== 'string' || pin.name === '') fail(`pins[${i}].name: must be a non-empty string, got ${show(pin.name)}`);
    if (pins.findIndex((q) => q.name === pin.name) !== i) fail(`pins[${i}].name: duplicate pin ${show(pin.name)}`);
  });
}

/** The ordered steps from `input.current` to a balanced placement of `input.replicas` instances. */
export function plan(input: PlanInput): Step[] {
  validate(input);
  const { current, namePrefix, pins = [] } = input;
  const live = current.instances;
  const pinned = new Set(pins.map((pin) => pin.instance));
  const replicas = Math.max(input.replicas, pinned.size);

  const created: string[] = [];
  for (let k = 0; live.length + created.length < replicas; k++) {
    const name = `${namePrefix}-${k}`;
    if (!live.includes(name)) created.push(name);
  }
  pins.forEach((pin, i) => {
    if (!live.includes(pin.instance) && !created.includes(pin.instance)) {
      fail(`pins[${i}].instance: ${show(pin.instance)} is not live and this plan does not create it`);
    }
  });
  const held = (i: string) => bucketsOf(current, i).length;
  const leaving = live
    .filter((i) => !pinned.has(i))
    .sort((a, b) => held(a) - held(b) || live.indexOf(b) - live.indexOf(a))
    .slice(0, Math.max(0, live.length - replicas));

  const steps: Step[] = [];
  let p = current;
  const emit = (s: Step) => {
    steps.push(s);
    p = applyStep(p, s); // also checks every step as it is planned
  };
  for (const instance of created) {
    emit({ kind: 'create', instance });
    if (p.instances.length > 1) emit({ kind: 'clone', from: p.instances[0], to: instance });
  }
  const survivors = p.instances.filter((i) => !leaving.includes(i));
  if (survivors.length === 0) {
    for (const instance of leaving) emit({ kind: 'remove', instance });
    return steps;
  }

  const owned = survivors.map((i) => bucketsOf(p, i));
  const quota = quotas(owned.map((b) => b.length), p.buckets);
  const supplies: Supply[] = [
    ...leaving.map((from) => ({ from, buckets: bucketsOf(p, from) })),
    // A survivor above quota keeps its lowest buckets and gives the rest.
    ...survivors.map((from, i) => ({ from, buckets: owned[i].slice(quota[i]) })),
  ];
  const demands = survivors.map((to, i) => ({ to, count: Math.max(0, quota[i] - owned[i].length) }));
  const moves = transfers(supplies, demands);

  for (const from of leaving) {
    const out = moves.filter((m) => m.from === from);
    for (const m of out) emit({ kind: 'move', ...m });
    const received = (to: string) => out.find((m) => m.to === to)?.buckets.length ?? 0;
    const to = survivors.reduce((best, s) => (received(s) > received(best) ? s : best));
    emit({ kind: 'merge', from, to });
    emit({ kind: 'remove', instance: from });
  }
  for (const m of moves) if (!leaving.includes(m.from)) emit({ kind: 'move', ...m });
  return steps;
}
