/**
 * Leader election over a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it:
 * take the lease when it is free or its holder stopped renewing, renew it every `retryMs`, and
 * give up leadership (the caller exits) when it could not be renewed within `renewDeadlineMs`.
 * Writes use the lease's resourceVersion, so two candidates can never both win.
 *
 * Whether the holder stopped renewing is judged only by this process's own monotonic clock: the
 * lease counts as expired when its record (holder, renew time, transitions) has not changed for
 * leaseDurationSeconds since this process last saw it change. The holder's timestamps are never
 * compared with the local wall clock, so replicas whose clocks disagree never both lead.
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
  /** The clocks this elector uses; a test skews `wall` to show that skew does not matter. */
  clock?: LeaderClock;
}

export interface LeaderClock {
  /** Wall time written into the lease's acquire and renew times (informational only). */
  wall(): Date;
  /** Monotonic milliseconds, used for every expiry decision. */
  monotonic(): number;
}

const systemClock: LeaderClock = { wall: () => new Date(), monotonic: () => performance.now() };

/** The parts of a lease record whose change shows that its holder is alive. */
const recordOf = (spec: NonNullable<V1Lease['spec']>) =>
  JSON.stringify([spec.holderIdentity ?? '', String(spec.renewTime ?? ''), String(spec.acquireTime ?? ''), spec.leaseTransitions ?? 0, spec.leaseDurationSeconds ?? 0]);

/** metav1.MicroTime: RFC 3339 with exactly six fractional digits. */
const microTime = (d: Date) => d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z') as unknown as Date;

export class LeaderElector {
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;
  /** The lease record as last seen, and when (monotonic) it was first seen that way. */
  private observed: { record: string; at: number } | null = null;
  isLeader = false;

  constructor(private readonly client: KubeClient, private readonly o: LeaderOptions, private readonly log: Logger) {}

  private get duration(): number {
    return this.o.leaseDurationS ?? 15;
  }

  private get clock(): LeaderClock {
    return this.o.clock ?? systemClock;
  }

  /** Records what the lease says now; true if it has not changed for its whole duration. */
  private observe(spec: NonNullable<V1Lease['spec']>): boolean {
    const record = recordOf(spec);
    const now = this.clock.monotonic();
    if (this.observed?.record !== record) this.observed = { record, at: now };
    return this.observed.at + (spec.leaseDurationSeconds ?? this.duration) * 1000 <= now;
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
    const now = microTime(this.clock.wall());
    if (!lease) {
      await api.createNamespacedLease({
        namespace,
        body: { metadata: { name, namespace }, spec: { holderIdentity: id, leaseDurationSeconds: this.duration, acquireTime: now, renewTime: now, leaseTransitions: 0 } },
      });
      return true;
    }
    const spec = lease.spec ?? {};
    const expired = this.observe(spec);
    const mine = spec.holderIdentity === id;
    if (!mine && spec.holderIdentity && !expired) return false;
    lease.spec = {
      ...spec, holderIdentity: id, leaseDurationSeconds: this.duration, renewTime: now,
      ...(mine ? {} : { acquireTime: now, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 }),
    };
    await api.replaceNamespacedLease({ name, namespace, body: lease });
    this.observe(lease.spec);
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
    let lastRenew = this.clock.monotonic();
    const renew = async () => {
      if (this.stopped) return;
      const ok = await this.tryAcquireOrRenew().catch((e: unknown) => {
        this.log.warn({ err: apiMessage(e) }, 'could not renew the lease');
        return false;
      });
      if (ok) lastRenew = this.clock.monotonic();
      else if (this.clock.monotonic() - lastRenew > (this.o.renewDeadlineMs ?? 10_000)) {
        this.isLeader = false;
        this.log.error('lost the lease');
        onLost();
        return;
      }
      this.timer = setTimeout(() => void renew(), retry);
    };
    this.timer = setTimeout(() => void renew(), retry);
  }

  /** Stops renewing and empties the lease's holder, so a successor need not wait it out. */
  async release(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (!this.isLeader) return;
    this.isLeader = false;
    try {
      const lease = await this.client.coordination.readNamespacedLease({ name: this.o.name, namespace: this.o.namespace });
      if (lease.spec?.holderIdentity !== this.client.identity) return;
      const now = microTime(this.clock.wall());
      lease.spec = { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, acquireTime: now, renewTime: now };
      await this.client.coordination.replaceNamespacedLease({ name: this.o.name, namespace: this.o.namespace, body: lease });
    } catch (e) {
      this.log.warn({ err: apiMessage(e) }, 'could not release the lease');
    }
  }
}
