/**
 * The StateOperation reconciler, for operations users create (e.g. moving one server's flows to
 * another instance): carried out by the same engine as the pool's own steps, under the pool's
 * lock (never in the middle of a scaling step), with the same live progress and Events. The pool
 * adopts the operation (a controller owner reference), so it goes when the pool goes. A move
 * whose filter is not one of the pool's bucket sets becomes a route of its own that keeps its
 * destination instance in the pool.
 */
import { DEFAULTS, type MiddleboxPool, type StateOperation } from '../api/types.js';
import type { FlowFilter } from '../../shims/flow/filter.js';
import { PoolExecutor } from '../engine/pool.js';
import type { Logger } from '../../shims/log/logger.js';
import { apiMessage, FIELD_MANAGER, type KubeClient } from './client.js';
import { objectKey, type Informer } from './informer.js';
import { MANAGED_BY, OperationTracker, ownerReference } from './operations.js';
import type { PoolRegistry } from './pool-registry.js';
import type { Result } from './queue.js';
import { withPlacement } from './snapshot.js';
import { operationStatus } from './status.js';
import { placementAfter, resumable, takeOver } from './resume.js';
import type { OperationStatus } from '../engine/operation.js';

const WAIT_MS = 2000;

export class OperationReconciler {
  /** Operations (by uid) this process started: any other one found Running was cut short by a restart. */
  private readonly mine = new Set<string>();

  constructor(private readonly client: KubeClient, private readonly pools: Informer<MiddleboxPool>, private readonly ops: Informer<StateOperation>,
    private readonly registry: PoolRegistry, private readonly log: Logger, private readonly onPoolChanged: (poolKey: string) => void) {}

  /** Whether the operation is a user's (the pool reconciler's own are labelled as ours). */
  static isUsers(op: StateOperation): boolean {
    return op.metadata.labels?.[MANAGED_BY] !== FIELD_MANAGER;
  }

  async reconcile(key: string): Promise<Result | void> {
    const op = this.ops.get(key);
    if (!op || !OperationReconciler.isUsers(op)) return;
    const phase = op.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') return;
    const ns = op.metadata.namespace!;
    const uid = op.metadata.uid ?? key;
    if (this.mine.has(uid)) return; // running, or finished here (the cache may not show it yet)
    if (phase === 'Running' && !resumable(op)) {
      return this.fail(op, 'the operator restarted before this operation recorded a step; create it again');
    }
    const poolKey = `${ns}/${op.spec.pool}`;
    const pool = this.pools.get(poolKey);
    if (!pool || pool.metadata.deletionTimestamp) return this.wait(op, `waiting for pool ${op.spec.pool}${pool ? ' (being deleted)' : ''}`);
    if (!(op.metadata.ownerReferences ?? []).some((r) => r.uid === pool.metadata.uid)) {
      await this.client.applyOperationOwner(ns, op.metadata.name, ownerReference(pool));
    }
    const st = this.registry.states.get(poolKey);
    if (!st) return this.wait(op, `waiting for pool ${op.spec.pool} to start`);
    this.mine.add(uid);
    await st.lock.run(async () => {
      const live = st.actual.placement.instances;
      const missing = [...op.spec.from, op.spec.to].filter((i) => !live.includes(i) || !st.engine.session(i));
      if (missing.length > 0) {
        await this.fail(op, `not instances of pool ${op.spec.pool}: ${missing.join(', ')} (it has ${live.join(', ') || 'none'})`);
        return;
      }
      const p = st.engine.router.partitioning;
      const f = op.spec.filter ?? {};
      const filter = (f.buckets ? { ...f, buckets: { ...f.buckets, ...(p.inside ? { inside: p.inside } : {}) } } : f) as FlowFilter;
      const scopes = op.spec.scopes ?? ['per-flow'];
      const migration = pool.spec.migration ?? {};
      const optimizations = { ...DEFAULTS.optimizations, ...migration.optimizations };
      const transfer = migration.transfer ?? DEFAULTS.transfer;
      let s: OperationStatus;
      if (resumable(op)) {
        // A stopped operator's: taken over from its journal, under the pool's lock as any other.
        s = await takeOver(this.client, this.log, pool, op, st.engine.controller, { optimizations, transfer });
      } else {
        const tracker = new OperationTracker(this.client, this.log, pool, op, 0);
        await tracker.begin();
        const exec = new PoolExecutor(st.actual.placement, st.engine.controller, st.engine.router, st.engine.instances, {
          descriptor: st.descriptor, configuration: () => st.config, guarantee: op.spec.guarantee ?? 'loss-free', log: this.log,
          optimizations, transfer, onOperation: (x) => tracker.progress(x), journal: (x) => tracker.journal(x),
        });
        s = await exec.operate({ kind: op.spec.kind, from: op.spec.from, to: op.spec.to, filter, scopes });
        tracker.progress(s);
        await tracker.finish(s.phase === 'Succeeded' ? 'Succeeded' : 'Failed', s.error);
      }
      if (s.phase === 'Succeeded' && op.spec.kind === 'move') {
        const onBuckets = f.buckets && Object.keys(f).length === 1 && f.buckets.key === p.key && f.buckets.of === p.buckets;
        if (onBuckets) {
          // The router moved whole buckets: that is the pool's placement now.
          st.actual = withPlacement(st.actual, placementAfter(st.actual.placement, s, p));
        } else {
          st.userPins = [...st.userPins.filter((x) => x.name !== op.metadata.name), { name: op.metadata.name, filter, instance: op.spec.to }];
          st.appliedPins = JSON.stringify([]); // re-install pins with this route among them
        }
      }
    }).catch((e: unknown) => {
      this.mine.delete(uid); // not carried out: the retry may
      throw e;
    });
    this.onPoolChanged(poolKey);
  }

  private async wait(op: StateOperation, message: string): Promise<Result> {
    if (op.status?.phase !== 'Pending' || op.status.message !== message) {
      await this.client.applyOperationStatus(op.metadata.namespace!, op.metadata.name,
        operationStatus(null, { phase: 'Pending', startedAt: Date.now(), flowsTotal: 0, generation: op.metadata.generation ?? 1, message, previous: op.status, now: new Date() }))
        .catch((e: unknown) => this.log.warn({ op: objectKey(op), err: apiMessage(e) }, 'could not write operation status'));
    }
    return { requeueAfter: WAIT_MS };
  }

  private async fail(op: StateOperation, message: string): Promise<void> {
    await this.client.applyOperationStatus(op.metadata.namespace!, op.metadata.name,
      operationStatus(null, { phase: 'Failed', startedAt: Date.now(), flowsTotal: 0, generation: op.metadata.generation ?? 1, message, previous: op.status, now: new Date() }));
    await this.client.event({ kind: op.kind, metadata: op.metadata }, { type: 'Warning', reason: 'OperationFailed', message })
      .catch((e: unknown) => this.log.warn({ err: apiMessage(e) }, 'could not record event'));
  }
}
