/**
 * Carries out a placement plan for one pool: starts instances and gives each the pool's current
 * configuration, clones shared all-flows state (for middleboxes that declare it) into new ones, moves buckets with the pool's
 * guarantee, merges what a leaving instance still holds into a survivor, and stops it only then.
 * It also runs every other operation on the pool's state (a user's StateOperation, a server's
 * migration, a failover), so that each is reported the one way, through `onOperation`.
 * The same executor serves `openmb local` (process runtime) and the operator (pods).
 */
import type { FlowFilter } from '../../shims/flow/filter.js';
import type { Scope } from '../../shims/protocol/messages.js';
import type { MiddleboxDescriptor } from '../../shims/protocol/descriptor.js';
import type { Logger } from '../../shims/log/logger.js';
import { applyStep, failoverTarget, type Placement, type Step } from '../placement/plan.js';
import type { BucketRouter } from '../routing/bucket-router.js';
import type { MbController } from './controller.js';
import type { Guarantee, OperationKind, OperationStatus, Optimizations, Transfer } from './operation.js';

/** Starts and stops instance processes (local processes, or pods in a cluster). */
export interface InstanceRuntime {
  /** Starts an instance; resolves once it is connected to the controller. */
  start(name: string): Promise<void>;
  stop(name: string): Promise<void>;
}

/** An operation asked for outside a plan: a user's StateOperation, one source's share of a server migration, a failover. */
export interface OperationRequest {
  kind: OperationKind;
  /** One instance, but for a merge. */
  from: string[];
  to: string;
  filter: FlowFilter;
  scopes: Scope[];
  /** A move's guarantee; the pool's when absent. */
  guarantee?: Guarantee;
}

/** What an operation was run for: a step of a plan, or a request of its own. */
export type OperationCause = Step | OperationRequest;

/** A pool's configuration: the values every instance runs, and their number (a MiddleboxPool's generation). */
export interface ConfigVersion {
  values: Record<string, unknown>;
  generation: number;
}

export interface PoolOptions {
  descriptor: MiddleboxDescriptor;
  /** The pool's configuration as it is now: what a new instance gets, and what reconfigure sends. */
  configuration: () => ConfigVersion;
  /** An instance took the configuration of this generation. */
  onConfigured?: (instance: string, generation: number) => void;
  guarantee: Guarantee;
  optimizations: Optimizations;
  /** How state travels in this pool's operations (spec.migration.transfer; default direct). */
  transfer?: Transfer;
  /** How many moves to different destinations may run at once (spec.migration.concurrency; default 1). */
  concurrency?: number;
  log: Logger;
  /** Progress of every operation this executor runs (a move, clone or merge), with what it was run for. */
  onOperation?: (s: OperationStatus, cause: OperationCause) => void;
  /** Records each operation's step durably before it runs (its StateOperation), so another controller can take it over. */
  journal?: (s: OperationStatus, cause: OperationCause) => Promise<void>;
  onStep?: (step: Step, placement: Placement) => void;
}

/**
 * Whether a move may run at once with the moves of `wave`: it goes to an instance none of them
 * goes to or comes from, and it comes from none of their destinations. Their buckets are
 * disjoint (a plan moves each bucket once), so each has its own flows, holds and routes.
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

  /**
   * Sends the pool's current configuration to these instances (all of them by default) at once;
   * resolves when every one took it, else rejects with the first refusal (the middlebox's message).
   */
  async reconfigure(instances: readonly string[] = this.placement.instances): Promise<void> {
    const failed = (await Promise.allSettled(instances.map((i) => this.configure(i)))).find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private async configure(instance: string): Promise<void> {
    const c = this.o.configuration();
    try {
      await this.controller.session(instance).putConfig(c.values, c.generation);
    } catch (e) {
      throw new Error(`${instance} refused the configuration of generation ${c.generation}: ${(e as Error).message}`);
    }
    this.o.onConfigured?.(instance, c.generation);
  }

  /** What every operation of this pool is run with: its transfer, and where it reports and journals. */
  private operationOptions(cause: OperationCause): { transfer?: Transfer; onProgress: (s: OperationStatus) => void; journal?: (s: OperationStatus) => Promise<void> } {
    const journal = this.o.journal;
    return {
      ...(this.o.transfer ? { transfer: this.o.transfer } : {}),
      onProgress: (s) => this.o.onOperation?.(s, cause), ...(journal ? { journal: (s: OperationStatus) => journal(s, cause) } : {}),
    };
  }

  /**
   * Runs one operation of its own. A move re-routes its filter: a bucket set of the pool's
   * partitioning changes owner (and so the placement), any other filter becomes a pin.
   */
  async operate(req: OperationRequest): Promise<OperationStatus> {
    const o = { guarantee: req.guarantee ?? this.o.guarantee, optimizations: this.o.optimizations, ...this.operationOptions(req) };
    const [from] = req.from;
    if (req.kind === 'clone') return this.controller.clone(from, req.to, req.filter, req.scopes, o);
    if (req.kind === 'merge') return this.controller.merge(req.from, req.to, req.filter, req.scopes, o);
    const s = await this.controller.move(from, req.to, req.filter, req.scopes, o);
    this.placement = { ...this.placement, owner: [...this.router.owner] };
    return s;
  }

  /**
   * Moves every flow the filter matches to `to` and pins it there: each other instance's share
   * (the filter within its buckets) as a move of its own, whose route becomes a pin, one source
   * at a time so that no flow is re-routed before its state has moved. The share `to` holds
   * already is pinned as well, so a later move of its buckets leaves those flows in place.
   */
  async migrate(filter: FlowFilter, to: string): Promise<void> {
    const share = (instance: string) => ({ ...filter, buckets: this.router.bucketFilter(this.router.bucketsOf(instance)).buckets! });
    for (const from of this.placement.instances) {
      if (from === to || this.router.bucketsOf(from).length === 0) continue;
      const s = await this.operate({ kind: 'move', from: [from], to, filter: share(from), scopes: this.moveScopes() });
      if (s.phase === 'Failed') throw new Error(`moving the flows of ${JSON.stringify(filter)} from ${from} to ${to} failed: ${s.error}`);
    }
    if (this.router.bucketsOf(to).length > 0) await this.router.route(share(to), to);
  }

  /** The survivor a dead instance's flows fail over to (see failoverTarget in placement/plan.ts). */
  failoverTarget(dead: string, gone: readonly string[] = [dead]): string {
    const to = failoverTarget(this.placement, dead, gone);
    if (to === null) throw new Error(`${dead} died and no instance is left to take its flows`);
    return to;
  }

  /**
   * An instance died: everything routed to it goes, route only, to its failoverTarget (a plan may
   * spread them after), and its state, which died with it, is counted as `lostFlows`. Throws if
   * the route change fails.
   */
  async failover(dead: string, lostFlows: number, gone: readonly string[] = [dead]): Promise<OperationStatus> {
    const p = this.placement;
    const to = this.failoverTarget(dead, gone);
    this.router.unpin(dead);
    const req: OperationRequest = { kind: 'move', from: [dead], to, filter: this.router.bucketFilter(this.router.bucketsOf(dead)), scopes: this.moveScopes() };
    const s = await this.controller.failover(dead, to, req.filter, req.scopes, lostFlows, { onProgress: this.operationOptions(req).onProgress });
    if (s.phase === 'Failed') throw new Error(`re-routing the flows of ${dead} to ${to} failed: ${s.error}`);
    this.placement = { ...p, instances: p.instances.filter((i) => i !== dead), owner: p.owner.map((o) => (o === dead ? to : o)) };
    return s;
  }

  private async execute(step: Step): Promise<void> {
    const reporting = this.operationOptions(step);
    switch (step.kind) {
      case 'create': {
        await this.runtime.start(step.instance);
        // The configuration as it is now, whatever the instance was started with or its peers run.
        await this.configure(step.instance);
        if (this.placement.instances.length === 0) {
          // The first instance takes every bucket: there is no state anywhere yet.
          this.router.owner.fill(step.instance);
          await this.router.apply();
        }
        return;
      }
      case 'clone': {
        // Its configuration it took when created; only shared knowledge (a cache) is copied.
        if (this.o.descriptor.sharedAllFlows) await this.controller.clone(step.from, step.to, {}, ['all-flows'], reporting);
        return;
      }
      case 'move': {
        const s = await this.controller.move(step.from, step.to, this.router.unpinnedBucketFilter(step.buckets), this.moveScopes(),
          { guarantee: this.o.guarantee, optimizations: this.o.optimizations, ...reporting });
        if (s.phase === 'Failed') throw new Error(`move of buckets ${step.buckets.join(',')} from ${step.from} to ${step.to} failed: ${s.error}`);
        return;
      }
      case 'merge': {
        // Tallies add up and caches union (each middlebox's put decides how), so both scopes merge.
        const s = await this.controller.merge([step.from], step.to, {}, ['multi-flow', 'all-flows'], reporting);
        if (s.phase === 'Failed') throw new Error(`merge of ${step.from} into ${step.to} failed: ${s.error}`);
        return;
      }
      case 'remove':
        await this.runtime.stop(step.instance);
        return;
    }
  }
}
