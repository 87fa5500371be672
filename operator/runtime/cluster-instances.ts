/**
 * A pool's instances as processes of a LocalCluster: the InstanceRuntime of `openmb local` and
 * of the operator's process runtime alike. A stopped instance's last counters are kept, so totals
 * still count its packets and a lost instance's flows can be told.
 */
import type { InstanceRuntime } from '../engine/pool.js';
import type { MbCounters } from '../../shims/protocol/messages.js';
import type { Partitioning } from '../../shims/protocol/descriptor.js';
import type { LocalCluster } from './local-cluster.js';

export class ClusterInstances implements InstanceRuntime {
  /**
   * `config` is read at each start (a pool's configuration may have changed since);
   * `retired` may be bounded by a long-lived caller.
   */
  constructor(private readonly cluster: LocalCluster, private readonly mbType: string, private readonly config: () => Record<string, unknown>,
    private readonly partitioning: Partitioning, readonly retired: Map<string, MbCounters> = new Map()) {}

  async start(name: string): Promise<void> {
    await this.cluster.addInstance(this.mbType, name, this.config(), this.partitioning);
  }

  async stop(name: string): Promise<void> {
    const s = this.cluster.sessions.instances.get(name);
    const last = s && !s.closed ? await s.stats().catch(() => null) : null;
    if (last) this.retired.set(name, last);
    await this.cluster.stopInstance(name);
  }

  /** Models a crash: no goodbye, no final counters. */
  async kill(name: string): Promise<void> {
    await this.cluster.stopInstance(name, true);
  }
}
