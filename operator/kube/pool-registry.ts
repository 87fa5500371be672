/**
 * The pools this operator runs: each one's engine and what the operator knows of its actual
 * state, shared by the reconcilers and the HTTP endpoint; and the outputs of pools drained away.
 */
import type { PinnedRoute } from '../routing/bucket-router.js';
import type { MiddleboxDescriptor } from '../../shims/protocol/descriptor.js';
import { mergedOutputs } from '../engine/merged-outputs.js';
import type { Mutex } from './operations.js';
import type { PoolEngine } from './runtime.js';
import type { ActualState } from './snapshot.js';
import { settledEgress } from './pool-egress.js';
import type { EgressLinkStats } from '../../shims/protocol/messages.js';
import type { PoolConfiguration } from './configuration.js';
import { BoundedMap } from './bounded-map.js';

/** Deleted pools whose drained outputs are kept. */
export const MAX_DRAINED = 64;

/** A pool the operator runs: its engine and what it knows of the actual state. */
export interface PoolState {
  key: string;
  /** The middlebox as described before its instances ran (see liveDescriptor). */
  descriptor: MiddleboxDescriptor;
  engine: PoolEngine;
  actual: ActualState;
  lock: Mutex;
  /** Routes that user StateOperations moved (flows of one server, say): they keep their instance. */
  userPins: PinnedRoute[];
  appliedPins: string;
  lastError?: string;
  /** Instances that died since the pool last converged (Degraded until they are replaced). */
  lost: string[];
  opsInFlight: number;
  nextOp: number;
  /** The configuration every instance must run. */
  config: PoolConfiguration;
  /** The generation of the configuration each instance runs, as it acknowledged or reported it. */
  configured: Map<string, number>;
}

export interface DrainedPool {
  outputs: Record<string, unknown>;
  duplicateFlows: number;
  drainedAt: string;
  instance: string | null;
}

/** The pools this operator runs, shared by the reconcilers and the HTTP endpoint. */
export class PoolRegistry {
  readonly states = new Map<string, PoolState>();
  /** Outputs of the latest deleted pools, for GET .../outputs after a delete. */
  readonly drained = new BoundedMap<string, DrainedPool>(MAX_DRAINED);

  /** The pool's merged outputs, once every instance has received what the switch sent it. */
  async outputs(key: string): Promise<{ outputs: Record<string, unknown>; duplicateFlows: number; drained?: string; egress?: EgressLinkStats } | null> {
    const st = this.states.get(key);
    if (!st) {
      const d = this.drained.get(key);
      return d ? { outputs: d.outputs, duplicateFlows: d.duplicateFlows, drained: d.drainedAt } : null;
    }
    return st.lock.run(async () => {
      if (this.states.get(key) !== st) return this.outputs(key); // drained while we waited
      const names = st.actual.placement.instances;
      await st.engine.settle(names);
      const sessions = names.map((n) => st.engine.session(n)).filter((s) => s !== undefined);
      const merged = await mergedOutputs(liveDescriptor(st).outputs, sessions);
      const egress = await settledEgress(st.engine.router.switches());
      return egress ? { ...merged, egress } : merged;
    });
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.states.values()].map((st) => st.engine.detach().catch(() => {})));
    this.states.clear();
  }
}

/**
 * What the pool's instances say of their middlebox in their hellos (their image may differ from
 * the operator's), else what was described before they ran.
 */
export function liveDescriptor(st: PoolState): MiddleboxDescriptor {
  for (const name of st.actual.placement.instances) {
    const d = st.engine.session(name)?.descriptor;
    if (d) return d;
  }
  return st.descriptor;
}

