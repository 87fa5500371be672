/**
 * What died with a killed instance (the failover scenario), counted where it happened, so that
 * packets sent = processed + dropped + lost:
 *
 *   queued     the switch held them for it when it died and dropped them once no rule routed
 *              to it (the switch counts these per instance)
 *   inFlight   handed to it and not processed by its last report, taken just before it was
 *              killed: in its socket, or processed in that last moment (no one can ask a dead
 *              process which). Handed to it: what the switch forwarded to it (its count; a
 *              move's held packets are forwarded by the switch when it releases them)
 *   processed  handed to it and processed by its last report; their effect on its state died
 *              with it
 *
 * Lost flows are the flows whose state (or some of whose packets) died with it: the unscaled run
 * has a record of each that the pool can no longer give whole. They are counted exactly when the
 * switch's rules did not change between the start of the trace and the kill: then the packets
 * it got are the first `queued + forwarded` the trace has for its rules, and running them
 * through the same middlebox here yields the per-flow state it held or would have held. When
 * its routes did change mid-trace, that replay is not known, and the count is the per-flow
 * entries of its last report: a lower bound.
 */
import { decode } from '../../shims/flow/decode.js';
import type { CapturedPacket } from '../../shims/flow/pcap.js';
import type { AnyMiddlebox } from '../../shims/shim/definition.js';
import { MiddleboxInstance } from '../../shims/shim/runtime.js';
import type { MbCounters, Rule, SwitchStats } from '../../shims/protocol/messages.js';
import { FlowTable } from '../../shims/switch/table.js';
import { toWire } from '../../shims/traffic/replay.js';

/** An instance the failover scenario killed, as it was just before. */
export interface Kill {
  instance: string;
  /** Its counters at its last report. */
  last: MbCounters;
  /** The switch's rules when it was killed, and whether they were those the trace began with. */
  rules: Rule[];
  routesUnchanged: boolean;
}

export interface Lost {
  instances: string[];
  /** queued + inFlight + processed */
  packets: number;
  queued: number;
  inFlight: number;
  processed: number;
  flows: number;
  /** `exact`, or `at-least` when the instance's routes changed mid-trace (see `flowsHow`). */
  flowsCount: 'exact' | 'at-least';
  flowsHow: string;
}

export const NOTHING_LOST: Lost = {
  instances: [], packets: 0, queued: 0, inFlight: 0, processed: 0, flows: 0, flowsCount: 'exact', flowsHow: 'no instance was killed',
};

/**
 * The per-flow entries an instance would hold after the first `count` packets of the trace that
 * `rules` route to it, or null when the trace has fewer (then the rules are not those it ran by).
 */
function replayedFlows(def: AnyMiddlebox, config: Record<string, unknown>, packets: readonly CapturedPacket[], rules: Rule[], instance: string, count: number): number | null {
  const table = new FlowTable();
  table.apply([{ op: 'replace-all', rules }]);
  const mb = new MiddleboxInstance(def, config);
  let given = 0;
  for (const p of packets) {
    if (given === count) break;
    const e = table.lookup(p.data, decode(p.data, p.linkType), p.inPort);
    if (e?.rule.action.type !== 'forward' || e.rule.action.instance !== instance) continue;
    mb.receive(toWire(p));
    given++;
  }
  return given === count ? mb.tables.entries('per-flow') : null;
}

/** What the killed instances took with them, from the switch's final counters. */
export function countLost(kills: readonly Kill[], sw: SwitchStats, def: AnyMiddlebox, config: Record<string, unknown>,
  packets: readonly CapturedPacket[]): Lost {
  const lost: Lost = { ...NOTHING_LOST, instances: kills.map((k) => k.instance), flowsHow: '' };
  const how: string[] = [];
  for (const k of kills) {
    const queued = sw.droppedQueued[k.instance] ?? 0;
    const forwarded = sw.forwarded[k.instance] ?? 0;
    const processed = Math.min(k.last.packetsProcessed, forwarded);
    lost.queued += queued;
    lost.processed += processed;
    lost.inFlight += forwarded - processed;
    const replayed = k.routesUnchanged ? replayedFlows(def, config, packets, k.rules, k.instance, queued + forwarded) : null;
    if (replayed === null) {
      lost.flows += k.last.entries['per-flow'];
      lost.flowsCount = 'at-least';
      how.push(`${k.instance}: its per-flow entries at its last report (its routes changed mid-trace, so which packets it got is not known)`);
    } else {
      lost.flows += replayed;
      how.push(`${k.instance}: the flows of the ${queued + forwarded} packets the switch routed to it, replayed through the same middlebox`);
    }
  }
  lost.packets = lost.queued + lost.inFlight + lost.processed;
  lost.flowsHow = how.join('; ') || NOTHING_LOST.flowsHow;
  return lost;
}
