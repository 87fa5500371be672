/**
 * The metrics of one middlebox instance (`openmb mb`), read from its shim's counters at each
 * scrape: what it received from the switch, processed and emitted, and its state table sizes per
 * scope. Series carry the instance's pool, name and type.
 */
import type { MbCounters } from '../protocol/messages.js';
import { SCOPES } from '../protocol/messages.js';
import { Collector, type CollectorOptions } from './collector.js';

export interface MiddleboxIdentity {
  pool: string;
  instance: string;
  middlebox: string;
}

type Total = Exclude<keyof MbCounters, 'entries' | 'latencyUs' | 'bytes'>;

const TOTALS: [Total, string, string][] = [
  ['packetsReceived', 'mb_packets_received_total', 'packets received from the switch'],
  ['packetsProcessed', 'mb_packets_processed_total', 'packets processed'],
  ['packetsEmitted', 'mb_packets_emitted_total', 'packets sent back to the switch\'s egress (a NAT\'s rewritten packets)'],
  ['packetsReordered', 'mb_packets_reordered_total', 'packets processed after a later packet of their flow'],
];

export function middleboxMetrics(mb: { stats(): MbCounters }, id: MiddleboxIdentity, o: Omit<CollectorOptions, 'labels'> = {}): Collector {
  const c = new Collector({ ...o, labels: { pool: id.pool, instance: id.instance, middlebox: id.middlebox } });
  for (const [field, name, help] of TOTALS) c.totals(name, help, [], () => [{ labels: {}, value: mb.stats()[field] }]);
  c.gauge<'scope'>('mb_state_entries', 'state table entries per scope (per-flow: one per flow; multi-flow: one per group, e.g. a host)', ['scope'],
    () => {
      const entries = mb.stats().entries;
      return SCOPES.map((scope) => ({ labels: { scope }, value: entries[scope] }));
    });
  return c;
}
