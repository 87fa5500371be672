/**
 * Where a pool's instances run. The reconciler asks a RuntimeProvider for one PoolEngine per
 * MiddleboxPool and drives it the same way whatever the runtime: the process runtime (here, for
 * machines without a kubelet) starts a steering switch and the instances as local processes; the
 * Pod runtime starts one Pod per instance and one for the switch, owned by the pool, dialing the
 * operator's one controller endpoint.
 */
import type { MbController } from '../engine/controller.js';
import type { InstanceRuntime } from '../engine/pool.js';
import type { MbSession } from '../engine/session.js';
import type { BucketRouter, Partitioning } from '../routing/bucket-router.js';
import type { MbCounters } from '../../shims/protocol/messages.js';
import type { V1Pod } from '@kubernetes/client-node';
import type { MiddleboxPool } from '../api/types.js';
import type { ListWatchSource } from './informer.js';

export type { InstanceRuntime };

/** Stopped instances whose final counters an engine keeps (for the flows a lost one held). */
export const MAX_RETIRED = 256;

export interface EngineSpec {
  /** "namespace/name" of the pool. */
  pool: string;
  /** The pool as last read (a Pod runtime takes its template and owner reference from it). */
  resource: MiddleboxPool;
  mbType: string;
  config: Record<string, unknown>;
  partitioning: Partitioning;
}

/** One pool's data plane and the controller that moves its state. */
export interface PoolEngine {
  readonly spec: EngineSpec;
  /** Where traffic sources send packets (a socket path or host:port). */
  readonly switchAddress: string;
  /** The switch's Pod, under the Pod runtime. */
  readonly switchPod?: string;
  readonly controller: MbController;
  readonly router: BucketRouter;
  /** Starts and stops this pool's instances. */
  readonly instances: InstanceRuntime;
  /** The live session of an instance, or undefined if it is not connected. */
  session(instance: string): MbSession | undefined;
  /** Final counters of the instances that were stopped (their packets still count). */
  readonly retired: Map<string, MbCounters>;
  /** Waits until every instance has received what the switch forwarded to it. */
  settle(instances: string[], timeoutMs?: number): Promise<void>;
  /** Stops every process (or deletes every Pod) of the pool: it is being deleted. */
  stop(): Promise<void>;
  /**
   * The operator is going away (stopped, or it lost the lease): it lets go of the pool, whose data
   * plane keeps running for the next operator to adopt (Pods; the operator's detached processes).
   * Only a data plane that cannot outlive this process (openmb local's) stops.
   */
  detach(): Promise<void>;
}

export interface RuntimeProvider {
  readonly name: string;
  open(spec: EngineSpec): Promise<PoolEngine>;
  /** The Pods this runtime starts, for an informer that requeues their pool when one changes. */
  podSource?(namespace?: string): ListWatchSource<V1Pod>;
}
