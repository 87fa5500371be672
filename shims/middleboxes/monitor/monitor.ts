/**
 * The traffic monitor, after a flow meter and PRADS: per-flow packet and byte counters (bytes =
 * frame length on the wire) with first/last seen and TCP state; per-host records of services a
 * host answered on and OS hints from handshakes; instance totals.
 */
import { PROTO_TCP, PROTO_UDP, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../../flow/decode.js';
import type { FlowKey } from '../../flow/key.js';
import { compareByFields, ConfigError, type MbState, type MiddleboxDefinition, type OutputMerge, type PacketInput } from '../../shim/definition.js';
import {
  type FlowRecord, flowCodec, type HostRecord, hostCodec, MAX_OS_HINTS, MAX_SERVICES, SENT_ACK, SENT_FIN, SENT_RST, SENT_SYN, SENT_SYNACK,
  type TcpState, type Totals, totalsCodec, unionBounded,
} from './state.js';

export interface MonitorConfig {
  /** Track per-host records (services, OS hints); off saves state when only flows matter. */
  hosts: boolean;
}

export interface MonitorFlowOutput {
  proto: 'tcp' | 'udp';
  a: { ip: string; port: number };
  b: { ip: string; port: number };
  packets: number;
  bytes: number;
  packetsAB: number;
  packetsBA: number;
  bytesAB: number;
  bytesBA: number;
  first: number;
  last: number;
  client: 'a' | 'b';
  tcp: TcpState | null;
}

export interface MonitorHostOutput extends HostRecord {
  ip: string;
}

function initialTtl(ttl: number): number {
  return ttl <= 32 ? 32 : ttl <= 64 ? 64 : ttl <= 128 ? 128 : 255;
}

/** The side that opened a flow: the SYN sender, else the SYN-ACK receiver, else whoever spoke first. */
export function clientOf(f: FlowRecord): 'a' | 'b' {
  const synA = (f.flagsA & SENT_SYN) !== 0;
  const synB = (f.flagsB & SENT_SYN) !== 0;
  if (synA !== synB) return synA ? 'a' : 'b';
  const synAckA = (f.flagsA & SENT_SYNACK) !== 0;
  const synAckB = (f.flagsB & SENT_SYNACK) !== 0;
  if (synAckA !== synAckB) return synAckA ? 'b' : 'a';
  if (f.firstBA < 0) return 'a';
  if (f.firstAB < 0) return 'b';
  return f.firstAB <= f.firstBA ? 'a' : 'b';
}

export function tcpStateOf(f: FlowRecord): TcpState {
  const all = f.flagsA | f.flagsB;
  if (all & SENT_RST) return 'reset';
  const finA = (f.flagsA & SENT_FIN) !== 0;
  const finB = (f.flagsB & SENT_FIN) !== 0;
  if (finA && finB) return 'closed';
  if (finA || finB) return 'closing';
  const [c, s] = clientOf(f) === 'a' ? [f.flagsA, f.flagsB] : [f.flagsB, f.flagsA];
  if (!(c & SENT_SYN)) return 'midstream';
  if (!(s & SENT_SYNACK)) return 'syn';
  return c & SENT_ACK ? 'established' : 'syn-ack';
}

function sentBits(flags: number): number {
  const syn = (flags & TCP_SYN) !== 0;
  const ack = (flags & TCP_ACK) !== 0;
  return (syn && !ack ? SENT_SYN : 0) | (syn && ack ? SENT_SYNACK : 0) | (ack && !syn ? SENT_ACK : 0)
    | (flags & TCP_FIN ? SENT_FIN : 0) | (flags & TCP_RST ? SENT_RST : 0);
}

function newHost(ts: number): HostRecord {
  return { packetsOut: 0, packetsIn: 0, bytesOut: 0, bytesIn: 0, first: ts, last: ts, services: [], os: [] };
}

function addTo(list: string[], item: string, max: number): string[] {
  return list.includes(item) ? list : unionBounded(list, [item], max);
}

/** Flow records by key: one instance's list and the pool's merged list are in this order. */
const FLOW_ORDER = ['proto', 'a.ip', 'a.port', 'b.ip', 'b.port'];
const compareFlows = compareByFields(FLOW_ORDER);
/** Host records by address, as a `keyed` merge orders them. */
const compareHosts = compareByFields(['ip']);

/**
 * Across instances: flow records are per-flow state, each on one instance, so the pool's list is
 * all of them. A host's record is split wherever its flows went (the monitor's key is `flow`);
 * its parts add up, as a merge of the state would (see hostCodec.merge).
 */
const OUTPUTS: OutputMerge = {
  flows: { merge: 'concat', orderBy: FLOW_ORDER },
  hosts: {
    merge: 'keyed', key: 'ip', fields: {
      packetsOut: { merge: 'sum' }, packetsIn: { merge: 'sum' }, bytesOut: { merge: 'sum' }, bytesIn: { merge: 'sum' },
      first: { merge: 'min' }, last: { merge: 'max' }, services: { merge: 'union', max: MAX_SERVICES }, os: { merge: 'union', max: MAX_OS_HINTS },
    },
  },
  totals: { merge: 'record', fields: { packets: { merge: 'sum' }, bytes: { merge: 'sum' }, nonIpPackets: { merge: 'sum' }, flows: { merge: 'sum' } } },
};

export const monitor: MiddleboxDefinition<MonitorConfig, FlowRecord, HostRecord, Totals> = {
  type: 'monitor',
  description: 'flow meter and passive asset detection (per-flow counters, per-host services and OS hints)',
  partitionKey: 'flow',
  defaultConfig: { hosts: true },
  outputs: OUTPUTS,
  parseConfig(values) {
    for (const k of Object.keys(values)) if (k !== 'hosts') throw new ConfigError(k, 'unknown setting for the monitor (known: hosts)');
    if (typeof values.hosts !== 'boolean') throw new ConfigError('hosts', `must be true or false, got ${JSON.stringify(values.hosts)}`);
    return { hosts: values.hosts };
  },
  perFlow: flowCodec,
  multiFlow: hostCodec,
  allFlows: totalsCodec,
  createLogic(state: MbState<FlowRecord, HostRecord, Totals>, config: () => MonitorConfig) {
    const host = (ip: string, ts: number): HostRecord => {
      let h = state.groups.get(ip);
      if (!h) {
        h = newHost(ts);
        state.groups.set(ip, h);
      }
      if (ts < h.first) h.first = ts;
      if (ts > h.last) h.last = ts;
      return h;
    };

    const process = ({ packet, d, flow, ts }: PacketInput): void => {
      const all = state.all;
      const len = packet.origLen;
      all.packets++;
      all.bytes += len;
      if (!flow) {
        all.nonIpPackets++;
        return;
      }
      const src = flow.forward ? flow.key.a : flow.key.b;
      const dst = flow.forward ? flow.key.b : flow.key.a;
      if (config().hosts) {
        const hs = host(src.ip, ts);
        hs.packetsOut++;
        hs.bytesOut += len;
        const hd = host(dst.ip, ts);
        hd.packetsIn++;
        hd.bytesIn += len;
      }
      // TCP or UDP without its header (a later fragment, a truncated header) has no flow to count in.
      if ((d.proto === PROTO_TCP || d.proto === PROTO_UDP) && !d.hasPorts) return;
      const isTcp = d.proto === PROTO_TCP;
      let f = state.flows.get(flow.id);
      if (!f) {
        f = { packetsAB: 0, packetsBA: 0, bytesAB: 0, bytesBA: 0, firstAB: -1, firstBA: -1, last: ts, flagsA: 0, flagsB: 0 };
        state.flows.set(flow.id, flow.key, f);
        all.flows++;
      }
      if (flow.forward) {
        f.packetsAB++;
        f.bytesAB += len;
        if (f.firstAB < 0 || ts < f.firstAB) f.firstAB = ts;
        if (isTcp) f.flagsA |= sentBits(d.tcpFlags);
      } else {
        f.packetsBA++;
        f.bytesBA += len;
        if (f.firstBA < 0 || ts < f.firstBA) f.firstBA = ts;
        if (isTcp) f.flagsB |= sentBits(d.tcpFlags);
      }
      if (ts > f.last) f.last = ts;
      if (!config().hosts) return;
      const h = state.groups.get(src.ip)!;
      if (isTcp && (d.tcpFlags & TCP_SYN)) {
        const kind = d.tcpFlags & TCP_ACK ? 'synack' : 'syn';
        h.os = addTo(h.os, `${kind} ttl=${initialTtl(d.ttl)} win=${d.tcpWindow}`, MAX_OS_HINTS);
        if (kind === 'synack') h.services = addTo(h.services, `tcp/${src.port}`, MAX_SERVICES);
      }
      // A UDP answer from a well-known port to an ephemeral one marks a service (order-free, unlike "who spoke first").
      if (d.proto === PROTO_UDP && d.payloadLen > 0 && src.port < 1024 && dst.port >= 1024) {
        h.services = addTo(h.services, `udp/${src.port}`, MAX_SERVICES);
      }
    };

    const outputs = () => {
      const flows: MonitorFlowOutput[] = [];
      for (const [, { key, state: f }] of state.flows.entries()) {
        if (key.proto !== PROTO_TCP && key.proto !== PROTO_UDP) continue;
        flows.push(flowOutput(key, f));
      }
      flows.sort(compareFlows);
      const hosts: MonitorHostOutput[] = [...state.groups.entries()].map(([ip, h]) => ({ ip, ...h })).sort(compareHosts);
      return { flows, hosts, totals: state.all };
    };

    return { process, outputs };
  },
};

function flowOutput(key: FlowKey, f: FlowRecord): MonitorFlowOutput {
  const isTcp = key.proto === PROTO_TCP;
  const first = f.firstAB < 0 ? f.firstBA : f.firstBA < 0 ? f.firstAB : Math.min(f.firstAB, f.firstBA);
  return {
    proto: isTcp ? 'tcp' : 'udp', a: key.a, b: key.b,
    packets: f.packetsAB + f.packetsBA, bytes: f.bytesAB + f.bytesBA,
    packetsAB: f.packetsAB, packetsBA: f.packetsBA, bytesAB: f.bytesAB, bytesBA: f.bytesBA,
    first, last: f.last, client: clientOf(f), tcp: isTcp ? tcpStateOf(f) : null,
  };
}

/** A flow's key as one line of text ("tcp 10.0.0.1 1234 10.0.0.2 80"). */
export function flowKeyText(f: { proto: string; a: { ip: string; port: number }; b: { ip: string; port: number } }): string {
  return `${f.proto} ${f.a.ip} ${f.a.port} ${f.b.ip} ${f.b.port}`;
}
