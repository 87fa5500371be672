/**
 * Carries out a placement plan for one pool: starts instances, clones configuration (and shared
 * all-flows state, for middleboxes that declare it) into new ones, moves buckets with the pool's
 * guarantee, merges what a leaving instance still holds into a survivor, and stops it only then.
 * The same executor serves `openmb local` (process runtime) and the operator (pods).
 */
import type { Scope } from '../../shims/protocol/messages.js';
import type { MiddleboxDescriptor } from '../../shims/protocol/descriptor.js';
import type { Logger } from '../../shims/log/logger.js';
import { applyStep, type Placement, type Step } from '../placement/plan.js';
import type { BucketRouter } from '../routing/bucket-router.js';
import type { MbController } from './controller.js';
import type { Guarantee, OperationStatus, Optimizations } from './operation.js';

/** Starts and stops instance processes (local processes, or pods in a cluster). */
export interface InstanceRuntime {
  /** Starts an instance; resolves once it is connected to the controller. */
  start(name: string): Promise<void>;
  stop(name: string): Promise<void>;
}

export interface PoolOptions {
  descriptor: MiddleboxDescriptor;
  guarantee: Guarantee;
  optimizations: Optimizations;
  /** How many moves to different destinations may run at once (spec.migration.concurrency; default 1). */
  concurrency?: number;
  log: Logger;
  /** Progress of the operation a step runs (a move, clone or merge). */
  onOperation?: (s: OperationStatus, step: Step) => void;
  onStep?: (step: Step, placement: Placement) => void;
}

/**
 * Whether a move may run at once with the moves of `wave`: it goes to an instance none of them
 * goes to or comes from, and it comes from none of their destinations. Their buckets are
 * disjoint (a plan moves each bucket once), so each has its own flows, event rules and routes.
 */
export function joinsWave(wave: readonly Step[], step: Step, concurrency: number): boolean {
  if (step.kind !== 'move' || wave.length === 0 || wave.length >= concurrency) return false;
  return wave.every((w) => w.kind === 'move' && w.to !== step.to && w.from !== step.to && w.to !== step.from);
}

/** Steps in the order given, consecutive moves that may run at once together (see joinsWave). */
export function waves(steps: readonly Step[], concurrency: number): Step[][] {
  const out: Step[][] = [];
  for (const step of steps) {
    const last = out[out.length - 1];
    if (last && joinsWave(last, step, concurrency)) last.push(step);
    else out.push([step]);
  }
  return out;
}

export class PoolExecutor {
  placement: Placement;

  constructor(initial: Placement, private readonly controller: MbController, private readonly router: BucketRouter,
    private readonly runtime: InstanceRuntime, private readonly o: PoolOptions) {
    this.placement = initial;
  }

  /**
   * Moving buckets carries per-flow state, and multi-flow state too when the pool is partitioned
   * by host: then each host's group lives in exactly one bucket. Under other keys a host's state
   * spans buckets, so it stays where it is and is merged when its instance leaves.
   */
  private moveScopes(): Scope[] {
    return this.router.partitioning.key === 'host' ? ['per-flow', 'multi-flow'] : ['per-flow'];
  }

  /** Runs the steps in order, moves in waves (see waves); throws the first failure once its wave has ended. */
  async run(steps: Step[]): Promise<void> {
    for (const wave of waves(steps, this.o.concurrency ?? 1)) {
      const failed = (await Promise.allSettled(wave.map((step) => this.runStep(step)))).find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
    }
  }

  /** One step, with the others of its wave running beside it. */
  async runStep(step: Step): Promise<void> {
    await this.execute(step);
    this.placement = applyStep(this.placement, step);
    // Only what this step changed: another move of its wave may have re-routed its own buckets already.
    const changed = step.kind === 'move' ? step.buckets : this.placement.owner.map((_, b) => b);
    for (const b of changed) this.router.owner[b] = this.placement.owner[b];
    this.o.onStep?.(step, this.placement);
  }

  private async execute(step: Step): Promise<void> {
    const onProgress = (s: OperationStatus) => this.o.onOperation?.(s, step);
    switch (step.kind) {
      case 'create': {
        await this.runtime.start(step.instance);
        if (this.placement.instances.length === 0) {
          // The first instance takes every bucket: there is no state anywhere yet.
          this.router.owner.fill(step.instance);
          await this.router.apply();
        }
        return;
      }
      case 'clone': {
        const values = await this.controller.session(step.from).getConfig();
        await this.controller.session(step.to).putConfig(values);
        if (this.o.descriptor.sharedAllFlows) await this.controller.clone(step.from, step.to, {}, ['all-flows'], { onProgress });
        return;
      }
      case 'move': {
        const s = await this.controller.move(step.from, step.to, this.router.unpinnedBucketFilter(step.buckets), this.moveScopes(),
          { guarantee: this.o.guarantee, optimizations: this.o.optimizations, onProgress });
        if (s.phase === 'Failed') throw new Error(`move of buckets ${step.buckets.join(',')} from ${step.from} to ${step.to} failed: ${s.error}`);
        return;
      }
      case 'merge': {
        // Tallies add up and caches union (each middlebox's put decides how), so both scopes merge.
        const s = await this.controller.merge([step.from], step.to, {}, ['multi-flow', 'all-flows'], { onProgress });
        if (s.phase === 'Failed') throw new Error(`merge of ${step.from} into ${step.to} failed: ${s.error}`);
        return;
      }
      case 'remove':
        await this.runtime.stop(step.instance);
        return;
    }
  }
}
