/**
 * The MiddleboxPool reconciler. Level-triggered and idempotent: each reconcile reads the desired
 * state from the spec and the actual state from what the engine confirms, plans the steps between
 * them, and carries them out one group at a time — each move, clone and merge as a
 * StateOperation owned by the pool, with live progress — writing the pool's status before and
 * after each step. A spec change is picked up between groups. A finalizer drains the pool
 * before it goes: its state is merged into one instance, whose outputs are kept, then every
 * process of the pool is stopped.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { API_VERSION, STATE_OPERATION, type MiddleboxPool, type StateOperation } from '../api/types.js';
import { type OperationCause, PoolExecutor, type OperationRequest } from '../engine/pool.js';
import type { OperationStatus } from '../engine/operation.js';
import type { Step } from '../placement/plan.js';
import type { Scope } from '../../shims/protocol/messages.js';
import type { MiddleboxDescriptor } from '../../shims/protocol/descriptor.js';
import type { Logger } from '../../shims/log/logger.js';
import { mergedOutputs } from '../engine/merged-outputs.js';
import { liveDescriptor, type DrainedPool, type PoolRegistry, type PoolState } from './pool-registry.js';
import { describeMiddlebox } from '../runtime/describe.js';
import { apiMessage, FIELD_MANAGER, type KubeClient } from './client.js';
import { objectKey, type Informer } from './informer.js';
import { MANAGED_BY, Mutex, OperationTracker, ownerReference } from './operations.js';
import type { Result } from './queue.js';
import type { RuntimeProvider } from './runtime.js';
import {
  confirm, desiredState, diff, recordedActual, stepGroups, withPlacement, type DesiredState, type InstanceLoad,
} from './snapshot.js';
import { POOL_LABEL } from './labels.js';
import { poolConfiguration, staleInstances } from './configuration.js';
import { operationStatus, poolStatus, sameStatus } from './status.js';
import { egressEvents, syncEgress, withEgress } from './pool-egress.js';
import { placementAfter, resumable, takeOver } from './resume.js';

export const FINALIZER = 'openmb.io/drain';
/** How often a converged pool is confirmed with its engine; status is written only when that changes it (see poolStatus). */
export const RESYNC_MS = 15_000;

const scopesOfMove = (st: PoolState): Scope[] => (st.engine.router.partitioning.key === 'host' ? ['per-flow', 'multi-flow'] : ['per-flow']);

export class PoolReconciler {
  constructor(private readonly client: KubeClient, private readonly pools: Informer<MiddleboxPool>, private readonly ops: Informer<StateOperation>,
    private readonly runtime: RuntimeProvider, readonly registry: PoolRegistry, private readonly log: Logger, private readonly stateDir: string) {}

  async reconcile(key: string): Promise<Result | void> {
    let pool = this.pools.get(key);
    if (!pool) {
      // Gone without our finalizer running (removed by hand): stop what is left.
      const st = this.registry.states.get(key);
      if (st) {
        this.registry.states.delete(key);
        await st.engine.stop();
      }
      return;
    }
    if (pool.metadata.deletionTimestamp) return this.finalize(pool);
    let st = this.registry.states.get(key);
    const type = pool.spec.middlebox.type;
    const descriptor = st?.descriptor.type === type ? st.descriptor : await describeMiddlebox(type);
    const desired = desiredState(pool, descriptor.partitionKey);
    if (st && !samePartitioning(st, desired)) {
      if (st.actual.placement.instances.length > 0) {
        return this.refuse(pool, st, desired, 'spec.partitioning (key, buckets, inside) cannot change while the pool has instances; scale to 0 first');
      }
      this.registry.states.delete(key);
      await st.engine.stop();
      st = undefined;
    }
    st ??= await this.open(pool, descriptor, desired);
    st.engine.spec.resource = pool;
    // New instances start with the spec's configuration as it is now; running ones get it in converge.
    st.config = poolConfiguration(desired.config, desired.generation, st.config);
    st.engine.spec.config = desired.config;
    if (!(pool.metadata.finalizers ?? []).includes(FINALIZER)) {
      pool = await this.client.applyPoolMetadata(pool.metadata.namespace!, pool.metadata.name, { finalizers: [FINALIZER] });
    }
    const state = st;
    return state.lock.run(() => this.converge(pool, state, desired));
  }

  private async open(pool: MiddleboxPool, descriptor: MiddleboxDescriptor, desired: DesiredState): Promise<PoolState> {
    const key = objectKey(pool);
    const engine = await this.runtime.open({
      pool: key, resource: pool, mbType: desired.mbType, config: desired.config,
      partitioning: { key: desired.key, buckets: desired.buckets, ...(desired.inside ? { inside: desired.inside } : {}) },
    });
    // Operation names continue after those the pool already has (an operator restart).
    const prefix = `${pool.metadata.name}-`;
    let next = 1;
    for (const op of this.ops.list()) {
      const m = op.metadata?.namespace === pool.metadata.namespace && op.metadata.name.startsWith(prefix) ? /-(\d+)$/.exec(op.metadata.name) : null;
      if (m) next = Math.max(next, Number(m[1]) + 1);
    }
    // The placement recorded in status before a restart: confirmActual finds out what still runs.
    const st: PoolState = {
      key, descriptor, engine, actual: recordedActual(pool.status, desired.buckets), lock: new Mutex(), userPins: [], appliedPins: '[]', lost: [], opsInFlight: 0, nextOp: next,
      config: poolConfiguration(desired.config, desired.generation, undefined, pool.status), configured: new Map(),
    };
    this.registry.states.set(key, st);
    this.log.info({ pool: key, switch: engine.switchAddress, runtime: this.runtime.name, recorded: st.actual.placement.instances }, 'pool engine started');
    // Our own operations a stopped operator left unfinished: those with a journal are taken over
    // (resumed or rolled back, docs/moves.md); the others end here, and the new plan redoes what is needed.
    await st.lock.run(() => this.takeOverAll(pool, st, desired));
    return st;
  }

  private async takeOverAll(pool: MiddleboxPool, st: PoolState, desired: DesiredState): Promise<void> {
    const { key, engine } = st;
    for (const op of this.ops.list()) {
      const phase = op.status?.phase;
      if (op.metadata.namespace !== pool.metadata.namespace || op.spec.pool !== pool.metadata.name || op.metadata.labels?.[MANAGED_BY] !== FIELD_MANAGER) continue;
      if (phase === 'Succeeded' || phase === 'Failed') continue;
      if (resumable(op)) {
        const s = await takeOver(this.client, this.log, pool, op, engine.controller, { optimizations: desired.optimizations, transfer: desired.transfer });
        st.actual = withPlacement(st.actual, placementAfter(st.actual.placement, s, engine.router.partitioning));
        this.log.info({ pool: key, op: op.metadata.name, phase: s.phase, error: s.error }, 'took over an operation of a stopped operator');
        continue;
      }
      await this.client.applyOperationStatus(op.metadata.namespace!, op.metadata.name, operationStatus(null, {
        phase: 'Failed', startedAt: Date.now(), flowsTotal: op.status?.progress?.flowsTotal ?? 0, generation: op.metadata.generation ?? 1,
        message: 'the operator restarted before this operation recorded a step; the pool is planned again from what still runs', previous: op.status, now: new Date(),
      })).catch((e: unknown) => this.log.warn({ op: op.metadata.name, err: apiMessage(e) }, 'could not write operation status'));
    }
  }

  /** Reads load from the engine, and drops instances it no longer has (their flows are lost), failing their flows over to survivors. */
  private async confirmActual(pool: MiddleboxPool, st: PoolState, desired: DesiredState): Promise<void> {
    const live = new Map<string, InstanceLoad>();
    await Promise.all(st.actual.placement.instances.map(async (name) => {
      const s = st.engine.session(name);
      if (!s) return;
      const c = await s.stats().catch(() => null);
      if (c) live.set(name, { ready: true, packets: c.packetsProcessed, flows: c.entries['per-flow'] });
    }));
    const lostBefore = st.actual.lostFlows;
    const lastFlows = (name: string) => st.engine.retired.get(name)?.entries['per-flow'] ?? st.actual.load[name]?.flows ?? 0;
    const lost = st.actual.placement.instances.filter((i) => !live.has(i));
    // While one survives, the lost instances' flows fail over to survivors; with none left, confirm routes their buckets nowhere.
    if (lost.length > 0 && lost.length < st.actual.placement.instances.length) await this.failOver(pool, st, desired, lost, lastFlows);
    const { actual } = confirm(st.actual, live, lastFlows);
    st.actual = actual;
    if (lost.length > 0) {
      this.log.warn({ pool: st.key, lost }, 'instances are gone; their buckets go to the survivors');
      st.lost.push(...lost);
      st.actual.placement.owner.forEach((o, b) => { st.engine.router.owner[b] = o; });
      await this.event(pool, 'Warning', 'InstanceLost', `instance${lost.length > 1 ? 's' : ''} ${lost.join(', ')} stopped unexpectedly; the state of ${actual.lostFlows - lostBefore} flows is lost and their buckets went to the survivors`);
    }
  }

  /**
   * Each dead instance's flows go, route only, to a survivor (PoolExecutor.failover), recorded as
   * a StateOperation with the flows lost: those the instance held when it last reported. The
   * route change does not wait for the API server: if the record cannot be written, it goes on.
   */
  private async failOver(pool: MiddleboxPool, st: PoolState, desired: DesiredState, dead: string[], lastFlows: (name: string) => number): Promise<void> {
    let tracker: OperationTracker | null = null;
    const exec = this.executor(st, desired, (s) => tracker?.progress(s));
    const p = st.engine.router.partitioning;
    for (const name of dead) {
      const to = exec.failoverTarget(name, dead);
      const flows = lastFlows(name);
      const filter = { buckets: { key: p.key, of: p.buckets, ids: st.engine.router.bucketsOf(name) } };
      tracker = await this.createOperation(pool, st, desired, { pool: pool.metadata.name, kind: 'move', from: [name], to, filter, scopes: scopesOfMove(st), guarantee: 'none' }, 0)
        .catch((e: unknown) => { this.log.warn({ pool: st.key, instance: name, err: apiMessage(e) }, 'could not record the failover as a StateOperation; failing over anyway'); return null; });
      let error: string | undefined;
      await exec.failover(name, flows, dead).catch((e: Error) => { error = e.message; });
      await tracker?.finish(error ? 'Failed' : 'Succeeded', error ?? `${name} is gone: its flows went to ${to} without their state; ${flows} flows lost`);
      if (error) throw new Error(error);
      st.actual = { ...withPlacement(st.actual, exec.placement), lostFlows: st.actual.lostFlows + flows };
    }
  }

  private async refreshLoad(st: PoolState): Promise<void> {
    const load: Record<string, InstanceLoad> = {};
    await Promise.all(st.actual.placement.instances.map(async (name) => {
      const c = await st.engine.session(name)?.stats().catch(() => null);
      // An instance not connected keeps its last known load: if it is gone, those are the flows it lost.
      const last = st.actual.load[name];
      load[name] = c
        ? { ready: true, packets: c.packetsProcessed, flows: c.entries['per-flow'] }
        : { ready: false, packets: last?.packets ?? 0, flows: last?.flows ?? 0 };
    }));
    st.actual = { ...st.actual, load };
  }

  /** Installs the spec's pins and the user operations' routes that point at live instances. */
  private async syncPins(st: PoolState, desired: DesiredState): Promise<void> {
    const live = new Set(st.actual.placement.instances);
    const pins = [...desired.pins, ...st.userPins].filter((p) => live.has(p.instance));
    const json = JSON.stringify(pins);
    if (json === st.appliedPins || live.size === 0) return;
    st.engine.router.setPins(pins);
    await st.engine.router.apply();
    st.appliedPins = json;
  }

  private async writeStatus(pool: MiddleboxPool, st: PoolState, desired: DesiredState, pendingSteps: number): Promise<void> {
    await this.refreshLoad(st);
    const previous = this.pools.get(st.key)?.status ?? pool.status;
    const egress = await syncEgress(st.engine.router.switches(), pool);
    const status = withEgress(poolStatus({
      name: pool.metadata.name, generation: desired.generation, desiredReplicas: desired.deleting ? 0 : desired.replicas, key: desired.key,
      actual: st.actual, pendingSteps, operationsInFlight: st.opsInFlight, deleting: desired.deleting, error: st.lastError, lost: st.lost, previous, now: new Date(),
      switch: { address: st.engine.switchAddress, ...(st.engine.switchPod ? { pod: st.engine.switchPod } : {}) },
      configuration: { generation: st.config.generation, digest: st.config.digest }, configured: Object.fromEntries(st.configured),
    }), pool, egress, previous, new Date());
    if (previous && sameStatus(status, previous)) return;
    await this.client.applyPoolStatus(pool.metadata.namespace!, pool.metadata.name, status);
    for (const e of egressEvents(previous, status)) await this.event(pool, e.type, e.reason, e.message);
  }

  private async converge(pool: MiddleboxPool, st: PoolState, desired: DesiredState): Promise<Result> {
    await this.confirmActual(pool, st, desired);
    await this.syncPins(st, desired);
    await this.reconfigure(pool, st, desired);
    const steps = diff(desired, st.actual, st.userPins);
    if (steps.length === 0) {
      st.lastError = undefined;
      st.lost = [];
      await this.writeStatus(pool, st, desired, 0);
      return { requeueAfter: RESYNC_MS };
    }
    this.log.info({ pool: st.key, generation: desired.generation, steps: steps.map(describeStep) }, 'carrying out plan');
    try {
      await this.writeStatus(pool, st, desired, steps.length);
      let left = steps.length;
      for (const group of stepGroups(steps, desired.concurrency)) {
        await this.runGroup(pool, st, desired, group, left);
        left -= group.length;
        const now = this.pools.get(st.key);
        if (!now || now.metadata.generation !== desired.generation || now.metadata.deletionTimestamp) break;
      }
    } catch (e) {
      st.lastError = (e as Error).message;
      st.opsInFlight = 0;
      await this.writeStatus(pool, st, desired, 1).catch(() => {});
      throw e;
    }
    return { requeue: true }; // plan again: nothing left means Ready
  }

  /**
   * Every live instance runs the pool's configuration: one whose generation is not known (adopted
   * after a restart) is asked; those that run another get it, all at once, while the pool shows
   * Progressing. An instance that refuses it keeps its own; the pool is Degraded with the
   * middlebox's message, and the reconcile is retried.
   */
  private async reconfigure(pool: MiddleboxPool, st: PoolState, desired: DesiredState): Promise<void> {
    const live = st.actual.placement.instances;
    for (const name of [...st.configured.keys()]) if (!live.includes(name)) st.configured.delete(name);
    await Promise.all(live.filter((n) => !st.configured.has(n)).map(async (n) => {
      const c = await st.engine.session(n)?.getConfig().catch(() => null);
      if (c) st.configured.set(n, c.generation);
    }));
    const stale = staleInstances(live, st.configured, st.config).filter((n) => st.engine.session(n));
    if (stale.length === 0) return;
    const gen = st.config.generation;
    this.log.info({ pool: st.key, generation: gen, instances: stale }, 'sending the new configuration');
    await this.writeStatus(pool, st, desired, 0);
    try {
      await this.executor(st, desired, () => {}).reconfigure(stale);
    } catch (e) {
      st.lastError = (e as Error).message;
      await this.writeStatus(pool, st, desired, 0).catch(() => {});
      await this.event(pool, 'Warning', 'ConfigurationRefused', st.lastError);
      throw e;
    }
    await this.event(pool, 'Normal', 'Reconfigured', `${stale.join(', ')} ${stale.length === 1 ? 'runs' : 'run'} the configuration of generation ${gen}`);
  }

  /** Runs a group's steps one after another, or a group of moves all at once (stepGroups), each move its own StateOperation. */
  private async runGroup(pool: MiddleboxPool, st: PoolState, desired: DesiredState, group: Step[], left: number): Promise<void> {
    const trackers = new Map<OperationCause, OperationTracker>();
    const exec = this.executor(st, desired, (s, cause) => trackers.get(cause)?.progress(s), (s, cause) => trackers.get(cause)?.journal(s) ?? Promise.resolve());
    const atOnce = group.every((s) => s.kind === 'move');
    for (const batch of atOnce ? [group] : group.map((s) => [s])) {
      for (const step of batch) {
        if (step.kind === 'move' || step.kind === 'clone' || step.kind === 'merge') trackers.set(step, await this.startOperation(pool, st, desired, step));
        if (step.kind === 'create') await this.event(pool, 'Normal', 'CreatingInstance', `starting instance ${step.instance} (${this.runtime.name} runtime)`);
      }
      st.opsInFlight = batch.filter((step) => trackers.has(step)).length;
      const results = await Promise.allSettled(batch.map((step) => exec.runStep(step)));
      st.opsInFlight = 0;
      for (const [i, step] of batch.entries()) {
        const r = results[i];
        const cloneOnly = step.kind === 'clone' && !liveDescriptor(st).sharedAllFlows;
        await trackers.get(step)?.finish(r.status === 'fulfilled' ? 'Succeeded' : 'Failed', r.status === 'rejected' ? (r.reason as Error).message
          : cloneOnly ? `${step.to} runs the configuration of generation ${st.config.generation}; ${st.descriptor.type} keeps no shared all-flows state to copy from ${step.from}` : undefined);
      }
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
      for (const step of batch) {
        if (step.kind === 'remove') await this.event(pool, 'Normal', 'RemovedInstance', `stopped instance ${step.instance} after its state was moved and merged away`);
        if (step.kind === 'create') await this.event(pool, 'Normal', 'CreatedInstance', `instance ${step.instance} is connected`);
      }
      await this.syncPins(st, desired);
      left -= batch.length;
      await this.writeStatus(pool, st, desired, left);
    }
  }

  /** How every operation on the pool's state runs: each reports its progress (to its StateOperation's tracker). */
  private executor(st: PoolState, desired: DesiredState, onOperation: (s: OperationStatus, cause: OperationCause) => void,
    journal?: (s: OperationStatus, cause: OperationCause) => Promise<void>): PoolExecutor {
    return new PoolExecutor(st.actual.placement, st.engine.controller, st.engine.router, st.engine.instances, {
      descriptor: liveDescriptor(st), guarantee: desired.guarantee, optimizations: desired.optimizations, transfer: desired.transfer, log: this.log, onOperation, ...(journal ? { journal } : {}),
      configuration: () => st.config, onConfigured: (instance, generation) => { st.configured.set(instance, generation); },
      onStep: (_s, placement) => { st.actual = withPlacement(st.actual, placement); },
    });
  }

  private async startOperation(pool: MiddleboxPool, st: PoolState, desired: DesiredState, step: Extract<Step, { kind: 'move' | 'clone' | 'merge' }>): Promise<OperationTracker> {
    const p = st.engine.router.partitioning;
    const spec: StateOperation['spec'] = step.kind === 'move'
      ? { pool: pool.metadata.name, kind: 'move', from: [step.from], to: step.to, filter: { buckets: { key: p.key, of: p.buckets, ids: [...step.buckets].sort((a, b) => a - b) } }, scopes: scopesOfMove(st), guarantee: desired.guarantee }
      : step.kind === 'clone'
        ? { pool: pool.metadata.name, kind: 'clone', from: [step.from], to: step.to, scopes: ['all-flows'], guarantee: 'none' }
        : { pool: pool.metadata.name, kind: 'merge', from: [step.from], to: step.to, scopes: ['multi-flow', 'all-flows'], guarantee: 'none' };
    let flowsTotal = 0;
    if (step.kind === 'move') {
      const c = await st.engine.session(step.from)?.stats().catch(() => null);
      const owned = st.actual.placement.owner.filter((o) => o === step.from).length;
      if (c && owned > 0) flowsTotal = Math.round(c.entries['per-flow'] * step.buckets.length / owned);
    }
    return this.createOperation(pool, st, desired, spec, flowsTotal);
  }

  /** Creates (server-side apply) a StateOperation owned by the pool, and marks it Running. */
  private async createOperation(pool: MiddleboxPool, st: PoolState, desired: DesiredState, spec: StateOperation['spec'], flowsTotal: number): Promise<OperationTracker> {
    const name = `${pool.metadata.name}-${spec.kind}-${st.nextOp++}`;
    const op = await this.client.applyOperation({
      apiVersion: API_VERSION, kind: STATE_OPERATION.kind,
      metadata: {
        name, namespace: pool.metadata.namespace,
        labels: { [POOL_LABEL]: pool.metadata.name, [MANAGED_BY]: FIELD_MANAGER, 'openmb.io/generation': String(desired.generation) },
        ownerReferences: [ownerReference(pool)],
      },
      spec,
    });
    const tracker = new OperationTracker(this.client, this.log, pool, op, flowsTotal);
    await tracker.begin();
    return tracker;
  }

  /**
   * Drains a pool being deleted into one instance: every other instance's flows move to it
   * whatever their bucket or pin (a move of all flows, loss-free, re-routing everything to the
   * survivor), then what else it holds is merged in, then it stops.
   */
  private async drain(pool: MiddleboxPool, st: PoolState, desired: DesiredState): Promise<string | null> {
    const p = st.actual.placement;
    if (p.instances.length === 0) return null;
    const held = (i: string) => p.owner.filter((o) => o === i).length;
    const survivor = [...p.instances].sort((a, b) => held(b) - held(a) || p.instances.indexOf(a) - p.instances.indexOf(b))[0];
    const leaving = p.instances.filter((i) => i !== survivor);
    let left = leaving.length * 3;
    const trackers = new Map<OperationCause, OperationTracker>();
    const exec = this.executor(st, desired, (s, cause) => trackers.get(cause)?.progress(s), (s, cause) => trackers.get(cause)?.journal(s) ?? Promise.resolve());
    const run = async (req: OperationRequest, flowsTotal: number) => {
      const tracker = await this.createOperation(pool, st, desired, { pool: pool.metadata.name, kind: req.kind, from: req.from, to: req.to, scopes: req.scopes, guarantee: req.guarantee ?? 'none' }, flowsTotal);
      trackers.set(req, tracker);
      st.opsInFlight = 1;
      const s = await exec.operate(req);
      st.opsInFlight = 0;
      tracker.progress(s);
      await tracker.finish(s.phase === 'Succeeded' ? 'Succeeded' : 'Failed', s.error);
      return s;
    };
    for (const from of leaving) {
      const flows = (await st.engine.session(from)?.stats().catch(() => null))?.entries['per-flow'] ?? 0;
      const m = await run({ kind: 'move', from: [from], to: survivor, filter: {}, scopes: scopesOfMove(st), guarantee: desired.guarantee }, flows);
      if (m.phase !== 'Succeeded') throw new Error(`draining ${from} into ${survivor} failed: ${m.error}`);
      const g = await run({ kind: 'merge', from: [from], to: survivor, filter: {}, scopes: ['multi-flow', 'all-flows'], guarantee: 'none' }, 0);
      if (g.phase !== 'Succeeded') throw new Error(`merging ${from} into ${survivor} failed: ${g.error}`);
      await st.engine.instances.stop(from);
      const cur = st.actual.placement;
      st.actual = withPlacement(st.actual, { ...cur, instances: cur.instances.filter((i) => i !== from), owner: cur.owner.map((o) => (o === from ? survivor : o)) });
      await this.event(pool, 'Normal', 'RemovedInstance', `stopped instance ${from} after its state was drained into ${survivor}`);
      left -= 3;
      await this.writeStatus(pool, st, desired, left);
    }
    return survivor;
  }

  /** The finalizer: merge everything into one instance, keep its outputs, stop the pool's processes. */
  private async finalize(pool: MiddleboxPool): Promise<Result | void> {
    if (!(pool.metadata.finalizers ?? []).includes(FINALIZER)) return;
    const key = objectKey(pool);
    const st = this.registry.states.get(key);
    if (st) {
      await st.lock.run(async () => {
        const desired = desiredState(pool, st.descriptor.partitionKey);
        await this.confirmActual(pool, st, desired);
        await this.writeStatus(pool, st, desired, Math.max(0, st.actual.placement.instances.length - 1) * 3);
        await this.drain(pool, st, desired);
        const names = st.actual.placement.instances;
        await st.engine.settle(names).catch(() => {});
        const sessions = names.map((n) => st.engine.session(n)).filter((s) => s !== undefined);
        const merged = await mergedOutputs(liveDescriptor(st).outputs, sessions);
        const drained: DrainedPool = { ...merged, drainedAt: new Date().toISOString(), instance: names[0] ?? null };
        this.registry.drained.set(key, drained);
        try {
          writeFileSync(join(this.stateDir, ...key.split('/'), 'drained-outputs.json'), `${JSON.stringify(drained, null, 2)}\n`);
        } catch (e) {
          this.log.warn({ pool: key, err: (e as Error).message }, 'could not write the drained outputs');
        }
        const counts = Object.entries(merged.outputs).filter(([, v]) => Array.isArray(v)).map(([k, v]) => `${(v as unknown[]).length} ${k}`).join(', ');
        await st.engine.stop();
        this.registry.states.delete(key);
        await this.event(pool, 'Normal', 'Drained', `state merged into ${drained.instance ?? 'no instance (the pool was empty)'} and kept (${counts || 'no outputs'}); every process of the pool is stopped`);
      });
    }
    await this.client.removePoolFinalizer(pool.metadata.namespace!, pool.metadata.name, FINALIZER);
    this.log.info({ pool: key }, 'pool drained; finalizer removed');
  }

  private async refuse(pool: MiddleboxPool, st: PoolState, desired: DesiredState, message: string): Promise<Result> {
    st.lastError = message;
    await this.writeStatus(pool, st, desired, 0);
    await this.event(pool, 'Warning', 'SpecRefused', message);
    return { requeueAfter: RESYNC_MS };
  }

  private async event(pool: MiddleboxPool, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    await this.client.event({ kind: pool.kind, metadata: pool.metadata }, { type, reason, message })
      .catch((e: unknown) => this.log.warn({ err: apiMessage(e) }, 'could not record event'));
  }
}

function samePartitioning(st: PoolState, d: DesiredState): boolean {
  const p = st.engine.router.partitioning;
  return p.key === d.key && p.buckets === d.buckets && JSON.stringify(p.inside ?? []) === JSON.stringify(d.inside ?? []);
}

export function describeStep(s: Step): string {
  switch (s.kind) {
    case 'create': return `create ${s.instance}`;
    case 'remove': return `remove ${s.instance}`;
    case 'move': return `move ${s.buckets.length} buckets ${s.from} → ${s.to}`;
    default: return `${s.kind} ${s.from} → ${s.to}`;
  }
}
