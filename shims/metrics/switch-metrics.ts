/**
 * The metrics of one steering switch (`openmb switch`), read from its counters at each scrape:
 * packets received from sources, forwarded to each instance, sent to the controller, dropped and
 * held, the size of its flow table, and its link to the pool's egress. Series carry the switch's pool and name.
 */
import type { SwitchStats } from '../protocol/messages.js';
import { Collector, type CollectorOptions } from './collector.js';

export interface SwitchIdentity {
  pool: string;
  switch: string;
}

const perInstance = (counts: Record<string, number>) => Object.entries(counts).map(([instance, value]) => ({ labels: { instance }, value }));

export function switchMetrics(sw: { snapshot(): SwitchStats }, id: SwitchIdentity, o: Omit<CollectorOptions, 'labels'> = {}): Collector {
  const c = new Collector({ ...o, labels: { pool: id.pool, switch: id.switch } });
  const one = (value: number) => [{ labels: {}, value }];
  c.totals('switch_packets_received_total', 'packets received from traffic sources', [], () => one(sw.snapshot().received));
  // Per instance process: a replaced instance under its old name starts again from 0 (a counter reset).
  c.totals<'instance'>('switch_packets_forwarded_total', 'packets forwarded to each instance', ['instance'], () => perInstance(sw.snapshot().forwarded));
  c.totals<'instance'>('switch_packets_egress_total', 'packets each instance sent back out through the switch', ['instance'], () => perInstance(sw.snapshot().egress));
  c.totals('switch_packets_dropped_total', 'packets dropped: by a rule, for want of one, or queued for an instance that went away', [], () => one(sw.snapshot().dropped));
  c.gauge('switch_packets_held', 'packets held by an active hold until it is released', [], () => one(sw.snapshot().held));
  c.gauge('switch_rules', 'rules in the flow table', [], () => one(sw.snapshot().rules.length));
  c.gauge('switch_table_version', 'the flow table\'s version (one more for each change)', [], () => one(sw.snapshot().version));
  // The link to the pool's egress, while one is set (series go when it is removed).
  const egress = (f: (l: NonNullable<SwitchStats['egressLink']>) => number) => () => {
    const l = sw.snapshot().egressLink;
    return l ? [{ labels: { address: l.address }, value: f(l) }] : [];
  };
  c.gauge<'address'>('switch_egress_connected', '1 while the egress receiver is connected and acknowledging', ['address'], egress((l) => (l.connected ? 1 : 0)));
  c.totals<'address'>('switch_egress_sent_total', 'emitted packets written to the egress receiver', ['address'], egress((l) => l.sent));
  c.totals<'address'>('switch_egress_delivered_total', 'emitted packets the egress receiver acknowledged', ['address'], egress((l) => l.delivered));
  c.gauge<'address'>('switch_egress_queued', 'emitted packets waiting for the egress receiver, or written and not acknowledged', ['address'], egress((l) => l.queued + l.inFlight));
  c.totals<'address' | 'reason'>('switch_egress_undeliverable_total', 'emitted packets given up on, by reason (queueFull, egressRemoved)', ['address', 'reason'], () => {
    const l = sw.snapshot().egressLink;
    return l ? Object.entries(l.undeliverable).map(([reason, value]) => ({ labels: { address: l.address, reason }, value })) : [];
  });
  return c;
}
