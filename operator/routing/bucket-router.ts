/**
 * The route controller for a pool: hash buckets to instances, plus pinned partitions, compiled
 * into one flow table and installed on every switch as a single atomic change. Pins outrank
 * buckets; a catch-all rule sends packets without IP (ARP, STP, ...) to bucket 0's owner.
 */
import type { FlowFilter } from '../../shims/flow/filter.js';
import type { PartitionKeyKind } from '../../shims/flow/hash.js';
import type { Rule } from '../../shims/protocol/messages.js';
import type { HoldState, Routing } from '../engine/operation.js';
import type { SwitchSession } from './switch-session.js';

export interface Partitioning {
  key: PartitionKeyKind;
  buckets: number;
  inside?: string[];
}

export interface PinnedRoute {
  name: string;
  filter: FlowFilter;
  instance: string;
}

const PIN_PRIORITY = 200;
const BUCKET_PRIORITY = 100;

export class BucketRouter implements Routing {
  /** owner[b]: the instance bucket b is routed to. */
  readonly owner: (string | null)[];
  private pins: PinnedRoute[] = [];

  /** `switches`: the pool's connected switches, each time they are needed. */
  constructor(readonly switches: () => SwitchSession[], readonly partitioning: Partitioning) {
    this.owner = new Array(partitioning.buckets).fill(null);
  }

  bucketFilter(ids: number[]): FlowFilter {
    const p = this.partitioning;
    return { buckets: { key: p.key, of: p.buckets, ids: [...ids].sort((a, b) => a - b), ...(p.inside ? { inside: p.inside } : {}) } };
  }

  /**
   * What a move of these buckets carries: their flows but those a pin routes, whose state stays
   * with the pin's instance, where their packets keep going whoever owns their bucket.
   */
  unpinnedBucketFilter(ids: number[]): FlowFilter {
    const f = this.bucketFilter(ids);
    return this.pins.length === 0 ? f : { ...f, except: this.pins.map((p) => p.filter) };
  }

  /** The buckets an instance owns. */
  bucketsOf(instance: string): number[] {
    const ids: number[] = [];
    this.owner.forEach((o, b) => { if (o === instance) ids.push(b); });
    return ids;
  }

  rules(): Rule[] {
    const rules: Rule[] = this.pins.map((p) => ({ id: `pin-${p.name}`, priority: PIN_PRIORITY, match: p.filter, action: { type: 'forward', instance: p.instance } }));
    const owners = [...new Set(this.owner.filter((o): o is string => o !== null))].sort();
    for (const inst of owners) {
      rules.push({ id: `buckets-${inst}`, priority: BUCKET_PRIORITY, match: this.bucketFilter(this.bucketsOf(inst)), action: { type: 'forward', instance: inst } });
    }
    const fallback = this.owner[0];
    if (fallback) rules.push({ id: 'non-ip', priority: 0, match: {}, action: { type: 'forward', instance: fallback } });
    return rules;
  }

  /** Installs the current table on every switch; resolves once all acknowledged it. */
  async apply(): Promise<void> {
    const rules = this.rules();
    await Promise.all(this.switches().map((s) => s.flowMod([{ op: 'replace-all', rules }])));
  }

  /**
   * Re-routes: a bucket filter of this partitioning changes owners (pinned flows left out of it
   * keep their pins); any other filter becomes a pin.
   */
  async route(filter: FlowFilter, instance: string): Promise<void> {
    this.reroute(filter, instance);
    await this.apply();
  }

  /**
   * Re-routes as route() does, and ends the hold `holdId` in the same step at each switch, so its
   * packets and every later one of the filter go to `instance`. Rejects, changing nothing here,
   * when a switch no longer has the hold (it lapsed); resolves with the packets released and the
   * table version installed.
   */
  async routeAndRelease(filter: FlowFilter, instance: string, holdId: string): Promise<{ count: number; version: number; dropped: number }> {
    const before = { owner: [...this.owner], pins: this.pins };
    this.reroute(filter, instance);
    const rules = this.rules();
    try {
      const acks = await Promise.all(this.switches().map((s) => s.release(holdId, [{ op: 'replace-all', rules }])));
      return { count: acks.reduce((n, a) => n + a.count, 0), version: Math.max(0, ...acks.map((a) => a.version)), dropped: acks.reduce((n, a) => n + a.dropped, 0) };
    } catch (e) {
      this.owner.splice(0, this.owner.length, ...before.owner);
      this.pins = before.pins;
      throw e;
    }
  }

  /** Holds the filter's packets at every switch (or renews the hold); resolves with the packets held so far. See SwitchSession.hold. */
  async hold(holdId: string, filter: FlowFilter, o: { leaseMs?: number; renew?: boolean } = {}): Promise<number> {
    const held = await Promise.all(this.switches().map((s) => s.hold(holdId, filter, o)));
    return held.reduce((n, h) => n + h, 0);
  }

  /** Ends a hold without a route change: its packets go where they went before it. */
  async release(holdId: string): Promise<number> {
    const acks = await Promise.all(this.switches().map((s) => s.release(holdId)));
    return acks.reduce((n, a) => n + a.count, 0);
  }

  /** How the hold stands at the first switch: in place, ended (and how), or unknown to it. */
  async holdState(holdId: string): Promise<HoldState> {
    const [sw] = this.switches();
    if (!sw) throw new Error('no switch connected to ask about hold ' + holdId);
    const { holds, ended } = await sw.holds();
    if (holds.some((h) => h.holdId === holdId)) return { state: 'held' };
    const e = ended.find((h) => h.holdId === holdId);
    return e ? { state: e.how, version: e.version } : { state: 'unknown' };
  }

  private reroute(filter: FlowFilter, instance: string): void {
    const b = filter.buckets;
    const { except, ...rest } = filter;
    const pinned = new Set(this.pins.map((p) => JSON.stringify(p.filter)));
    const onlyPinsLeftOut = (except ?? []).every((e) => pinned.has(JSON.stringify(e)));
    if (b && Object.keys(rest).length === 1 && onlyPinsLeftOut && b.key === this.partitioning.key && b.of === this.partitioning.buckets) {
      for (const id of b.ids) this.owner[id] = instance;
    } else {
      const name = JSON.stringify(filter);
      this.pins = [...this.pins.filter((p) => p.name !== name), { name, filter, instance }];
    }
  }

  /** Reads the table back from the first switch: how a restarted controller learns where buckets go. */
  async learn(): Promise<void> {
    const [sw] = this.switches();
    if (!sw) throw new Error('no switch connected to learn routes from');
    this.owner.fill(null);
    this.pins = [];
    for (const r of await sw.rules()) {
      if (r.action.type !== 'forward') continue;
      const b = r.match.buckets;
      if (r.id.startsWith('buckets-') && b && b.key === this.partitioning.key && b.of === this.partitioning.buckets) {
        for (const id of b.ids) this.owner[id] = r.action.instance;
      } else if (r.id.startsWith('pin-')) {
        this.pins.push({ name: r.id.slice(4), filter: r.match, instance: r.action.instance });
      }
    }
  }

  /** Drops the pins that route to an instance (it died): their flows go by their buckets again. Applied with the next change. */
  unpin(instance: string): void {
    this.pins = this.pins.filter((p) => p.instance !== instance);
  }

  setPins(pins: PinnedRoute[]): void {
    this.pins = [...pins];
  }

  async forwardedTo(instance: string): Promise<number> {
    const stats = await Promise.all(this.switches().map((s) => s.stats()));
    return stats.reduce((n, s) => n + (s.forwarded[instance] ?? 0), 0);
  }
}
