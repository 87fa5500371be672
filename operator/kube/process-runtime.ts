/**
 * The process runtime: for each MiddleboxPool, a LocalCluster — a steering switch and the
 * pool's instances as processes (the same `openmb switch` / `openmb mb` processes `openmb local`
 * starts), and the pool's MB controller in the operator, on loopback. Traffic sources send to the
 * switch's Unix socket with the operator's shared secret. Used where no kubelet runs (the e2e
 * control plane); a flag selects it.
 *
 * With `outlive`, as the operator runs it, the processes are detached and recorded in the pool's
 * state directory: they keep forwarding and processing while no operator runs (a crash, a
 * restart, a lost lease), and the next operator adopts them and re-learns the switch's table.
 */
import { join } from 'node:path';
import { MbController } from '../engine/controller.js';
import type { MbSession } from '../engine/session.js';
import { BucketRouter } from '../routing/bucket-router.js';
import { LocalCluster } from '../runtime/local-cluster.js';
import type { MbCounters } from '../../shims/protocol/messages.js';
import type { Logger } from '../../shims/log/logger.js';
import { MAX_RETIRED, type EngineSpec, type PoolEngine, type RuntimeProvider } from './runtime.js';
import { ClusterInstances } from '../runtime/cluster-instances.js';
import { settleInstances } from '../runtime/settle.js';
import { BoundedMap } from './bounded-map.js';

export interface ProcessRuntimeOptions {
  secret: string;
  /** Logs go to DIR/<namespace>/<pool>/<process>.log (and, with `outlive`, the pool's data plane record beside them). */
  logDir: string;
  log: Logger;
  /** The processes outlive the operator, and a later operator on the same directory adopts them. */
  outlive?: boolean;
  /** How long an adopted data plane's processes get to reconnect. */
  adoptTimeoutMs?: number;
}

/** One pool's data plane: a LocalCluster (switch and instance processes) with the pool's routing and MB controller. */
class ProcessPool implements PoolEngine {
  readonly controller: MbController;
  readonly router: BucketRouter;
  readonly instances: ClusterInstances;

  constructor(readonly spec: EngineSpec, private readonly cluster: LocalCluster, log: Logger) {
    this.router = new BucketRouter(() => [cluster.sw], spec.partitioning);
    this.controller = new MbController(cluster.sessions, this.router, log);
    this.instances = new ClusterInstances(cluster, spec.mbType, () => this.spec.config, spec.partitioning, new BoundedMap<string, MbCounters>(MAX_RETIRED));
  }

  get retired(): Map<string, MbCounters> {
    return this.instances.retired;
  }

  get switchAddress(): string {
    return this.cluster.switchSock;
  }

  session(instance: string): MbSession | undefined {
    const s = this.cluster.sessions.instances.get(instance);
    return s && !s.closed ? s : undefined;
  }

  stop(): Promise<void> {
    return this.cluster.stop();
  }

  async settle(instances: string[], timeoutMs = 30_000): Promise<void> {
    await settleInstances(() => this.cluster.sw, () => instances.map((n) => this.session(n)).filter((x): x is MbSession => x !== undefined), { timeoutMs });
  }

  /** With `outlive` the processes keep running for the next operator; else they end with this one. */
  detach(): Promise<void> {
    return this.cluster.detach();
  }

  static async start(spec: EngineSpec, o: ProcessRuntimeOptions): Promise<ProcessPool> {
    const log = o.log.child({ pool: spec.pool });
    const dir = join(o.logDir, ...spec.pool.split('/'));
    const cluster = await LocalCluster.start({ log, logDir: dir, pool: spec.pool, secret: o.secret, ...(o.outlive ? { stateDir: dir, adoptTimeoutMs: o.adoptTimeoutMs } : {}) });
    const engine = new ProcessPool(spec, cluster, log);
    if (cluster.adoption) {
      // Routes as the switch has them, not as a fresh router would install them.
      await engine.router.learn();
      log.info({ ...cluster.adoption, routedBuckets: engine.router.owner.filter((x) => x !== null).length }, 'adopted the pool\'s running data plane');
    }
    return engine;
  }
}

export class ProcessRuntime implements RuntimeProvider {
  readonly name = 'process';

  constructor(private readonly o: ProcessRuntimeOptions) {}

  open(spec: EngineSpec): Promise<PoolEngine> {
    return ProcessPool.start(spec, this.o);
  }
}
