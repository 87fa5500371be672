/** The process runtime: pool instances as local child processes of `openmb local`. */
import type { MbCounters } from '../../shims/protocol/messages.js';
import type { Partitioning } from '../../shims/protocol/descriptor.js';
import type { InstanceRuntime } from '../../operator/engine/pool.js';
import type { LocalCluster } from '../../operator/runtime/local-cluster.js';

export class LocalRuntime implements InstanceRuntime {
  /** Final counters of instances that have been stopped, so totals still count their packets. */
  readonly retired = new Map<string, MbCounters>();

  constructor(private readonly cluster: LocalCluster, private readonly mbType: string, private readonly config: Record<string, unknown>,
    private readonly partitioning: Partitioning) {}

  async start(name: string): Promise<void> {
    await this.cluster.addInstance(this.mbType, name, this.config, this.partitioning);
  }

  async stop(name: string): Promise<void> {
    this.retired.set(name, await this.cluster.session(name).stats());
    await this.cluster.stopInstance(name);
  }

  /** Models a crash: no goodbye, no final counters. */
  async kill(name: string): Promise<void> {
    await this.cluster.stopInstance(name, true);
  }
}
