/**
 * Leader election over a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it:
 * take the lease when it is free or its holder stopped renewing, renew it every `retryMs`, and
 * give up leadership (the caller exits) when it could not be renewed within `renewDeadlineMs`.
 * Writes use the lease's resourceVersion, so two candidates can never both win.
 */
import type { V1Lease } from '@kubernetes/client-node';
import type { Logger } from '../../shims/log/logger.js';
import { apiMessage, statusCode, type KubeClient } from './client.js';

export interface LeaderOptions {
  namespace: string;
  name: string;
  leaseDurationS?: number;
  renewDeadlineMs?: number;
  retryMs?: number;
}

/** metav1.MicroTime: RFC 3339 with exactly six fractional digits. */
const microTime = (d = new Date()) => d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z') as unknown as Date;

export class LeaderElector {
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;
  isLeader = false;

  constructor(private readonly client: KubeClient, private readonly o: LeaderOptions, private readonly log: Logger) {}

  private get duration(): number {
    return this.o.leaseDurationS ?? 15;
  }

  /** One attempt to take or renew the lease; true if we hold it now. */
  async tryAcquireOrRenew(): Promise<boolean> {
    const api = this.client.coordination;
    const id = this.client.identity;
    const { namespace, name } = this.o;
    let lease: V1Lease | null = null;
    try {
      lease = await api.readNamespacedLease({ name, namespace });
    } catch (e) {
      if (statusCode(e) !== 404) throw e;
    }
    const now = microTime();
    if (!lease) {
      await api.createNamespacedLease({
        namespace,
        body: { metadata: { name, namespace }, spec: { holderIdentity: id, leaseDurationSeconds: this.duration, acquireTime: now, renewTime: now, leaseTransitions: 0 } },
      });
      return true;
    }
    const spec = lease.spec ?? {};
    const renewed = spec.renewTime ? new Date(spec.renewTime as unknown as string).getTime() : 0;
    const expired = renewed + (spec.leaseDurationSeconds ?? this.duration) * 1000 < Date.now();
    const mine = spec.holderIdentity === id;
    if (!mine && spec.holderIdentity && !expired) return false;
    lease.spec = {
      ...spec, holderIdentity: id, leaseDurationSeconds: this.duration, renewTime: now,
      ...(mine ? {} : { acquireTime: now, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 }),
    };
    await api.replaceNamespacedLease({ name, namespace, body: lease });
    return true;
  }

  /** Resolves once this process leads; calls onLost if it later loses the lease. */
  async acquire(onLost: () => void): Promise<void> {
    const retry = this.o.retryMs ?? 2000;
    for (;;) {
      if (this.stopped) throw new Error('stopped before becoming the leader');
      const won = await this.tryAcquireOrRenew().catch((e: unknown) => {
        this.log.warn({ err: apiMessage(e) }, 'leader election attempt failed');
        return false;
      });
      if (won) break;
      await new Promise((r) => setTimeout(r, retry));
    }
    this.isLeader = true;
    this.log.info({ lease: `${this.o.namespace}/${this.o.name}`, identity: this.client.identity }, 'became the leader');
    let lastRenew = Date.now();
    const renew = async () => {
      if (this.stopped) return;
      const ok = await this.tryAcquireOrRenew().catch((e: unknown) => {
        this.log.warn({ err: apiMessage(e) }, 'could not renew the lease');
        return false;
      });
      if (ok) lastRenew = Date.now();
      else if (Date.now() - lastRenew > (this.o.renewDeadlineMs ?? 10_000)) {
        this.isLeader = false;
        this.log.error('lost the lease');
        onLost();
        return;
      }
      this.timer = setTimeout(() => void renew(), retry);
    };
    this.timer = setTimeout(() => void renew(), retry);
  }

  /** Stops renewing and lets the lease expire at once, so a successor need not wait it out. */
  async release(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (!this.isLeader) return;
    this.isLeader = false;
    try {
      const lease = await this.client.coordination.readNamespacedLease({ name: this.o.name, namespace: this.o.namespace });
      if (lease.spec?.holderIdentity !== this.client.identity) return;
      lease.spec = { ...lease.spec, leaseDurationSeconds: 1, renewTime: microTime(new Date(0)) };
      await this.client.coordination.replaceNamespacedLease({ name: this.o.name, namespace: this.o.namespace, body: lease });
    } catch (e) {
      this.log.warn({ err: apiMessage(e) }, 'could not release the lease');
    }
  }
}
