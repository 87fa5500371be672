/**
 * The traffic monitor, after a flow meter and PRADS: per-flow packet and byte counters (bytes =
 * frame length on the wire) with first/last seen and TCP state; per-host records of services a
 * host answered on and OS hints from handshakes; instance totals.
 */
import { PROTO_TCP, PROTO_UDP, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../../flow/decode.js';
import { type FlowKey, protoName } from '../../flow/key.js';
import { ConfigError, type MbState, type MiddleboxDefinition, type PacketInput } from '../../shim/definition.js';
import {
  type FlowRecord, flowCodec, type HostRecord, hostCodec, MAX_OS_HINTS, MAX_SERVICES, type TcpState, type Totals, totalsCodec, unionBounded,
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

function nextTcpState(s: TcpState | null, flags: number): TcpState {
  if (flags & TCP_RST) return 'reset';
  const syn = (flags & TCP_SYN) !== 0;
  const ack = (flags & TCP_ACK) !== 0;
  if (s === null) return syn ? (ack ? 'syn-ack' : 'syn') : 'midstream';
  if (s === 'reset' || s === 'closed') return s;
  if (flags & TCP_FIN) return s === 'closing' ? 'closed' : 'closing';
  if (s === 'syn' && syn && ack) return 'syn-ack';
  if (s === 'syn-ack' && ack && !syn) return 'established';
  return s;
}

function newHost(ts: number): HostRecord {
  return { packetsOut: 0, packetsIn: 0, bytesOut: 0, bytesIn: 0, first: ts, last: ts, services: [], os: [] };
}

function addTo(list: string[], item: string, max: number): string[] {
  return list.includes(item) ? list : unionBounded(list, [item], max);
}

export const monitor: MiddleboxDefinition<MonitorConfig, FlowRecord, HostRecord, Totals> = {
  type: 'monitor',
  description: 'flow meter and passive asset detection (per-flow counters, per-host services and OS hints)',
  partitionKey: 'flow',
  defaultConfig: { hosts: true },
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
        // The opener is the sender of the first packet, unless that packet is a SYN-ACK.
        const synAck = isTcp && (d.tcpFlags & (TCP_SYN | TCP_ACK)) === (TCP_SYN | TCP_ACK);
        const senderIsA = flow.forward;
        f = {
          client: senderIsA !== synAck ? 'a' : 'b',
          packetsAB: 0, packetsBA: 0, bytesAB: 0, bytesBA: 0, first: ts, last: ts, tcp: null,
        };
        state.flows.set(flow.id, flow.key, f);
        all.flows++;
      }
      if (flow.forward) { f.packetsAB++; f.bytesAB += len; } else { f.packetsBA++; f.bytesBA += len; }
      if (ts < f.first) f.first = ts;
      if (ts > f.last) f.last = ts;
      if (isTcp) f.tcp = nextTcpState(f.tcp, d.tcpFlags);
      if (!config().hosts) return;
      const senderIsClient = (f.client === 'a') === flow.forward;
      const proto = protoName(d.proto);
      const h = state.groups.get(src.ip)!;
      if (isTcp && (d.tcpFlags & TCP_SYN)) {
        const kind = d.tcpFlags & TCP_ACK ? 'synack' : 'syn';
        h.os = addTo(h.os, `${kind} ttl=${initialTtl(d.ttl)} win=${d.tcpWindow}`, MAX_OS_HINTS);
        if (kind === 'synack') h.services = addTo(h.services, `tcp/${src.port}`, MAX_SERVICES);
      }
      if (!senderIsClient && d.payloadLen > 0 && (isTcp || d.proto === PROTO_UDP)) {
        h.services = addTo(h.services, `${proto}/${src.port}`, MAX_SERVICES);
      }
    };

    const outputs = () => {
      const flows: MonitorFlowOutput[] = [];
      for (const [, { key, state: f }] of state.flows.entries()) {
        if (key.proto !== PROTO_TCP && key.proto !== PROTO_UDP) continue;
        flows.push(flowOutput(key, f));
      }
      flows.sort(compareFlows);
      const hosts: MonitorHostOutput[] = [...state.groups.entries()].map(([ip, h]) => ({ ip, ...h })).sort((x, y) => (x.ip < y.ip ? -1 : x.ip > y.ip ? 1 : 0));
      return { flows, hosts, totals: state.all };
    };

    return { process, outputs };
  },
};

function flowOutput(key: FlowKey, f: FlowRecord): MonitorFlowOutput {
  return {
    proto: key.proto === PROTO_TCP ? 'tcp' : 'udp', a: key.a, b: key.b,
    packets: f.packetsAB + f.packetsBA, bytes: f.bytesAB + f.bytesBA,
    packetsAB: f.packetsAB, packetsBA: f.packetsBA, bytesAB: f.bytesAB, bytesBA: f.bytesBA,
    first: f.first, last: f.last, client: f.client, tcp: f.tcp,
  };
}

export function flowSortKey(f: { proto: string; a: { ip: string; port: number }; b: { ip: string; port: number } }): string {
  return `${f.proto} ${f.a.ip} ${f.a.port} ${f.b.ip} ${f.b.port}`;
}

function compareFlows(x: MonitorFlowOutput, y: MonitorFlowOutput): number {
  const a = flowSortKey(x);
  const b = flowSortKey(y);
  return a < b ? -1 : a > b ? 1 : 0;
}
