/**
 * Source NAT after iptables MASQUERADE with conntrack. An IPv4 TCP/UDP flow whose opener is
 * inside the internal prefixes and whose other end is outside gets an external address:port for
 * its lifetime; its outbound packets leave with that source (checksums updated incrementally).
 * A flow opened from outside is tracked too, so that its inside end's replies are never
 * translated. Idle flows expire by packet time and free their port.
 *
 * Return traffic: the captures were taken inside the NAT, so a packet from outside to the inside
 * end of a translated flow already carries the translation's internal address:port as its
 * destination, which is how the inside host receives it after the NAT. It is emitted as it came
 * and counted as a return-translation hit.
 */
import { PROTO_TCP, PROTO_UDP, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../../flow/decode.js';
import type { FlowKey } from '../../flow/key.js';
import type { WirePacket } from '../../protocol/packets.js';
import type { MbState, MiddleboxDefinition, PacketInput } from '../../shim/definition.js';
import { ipv4Number, ipv4String, isInside, NAT_DEFAULTS, type NatConfig, parseNatConfig } from './config.js';
import { NatEgress } from './egress.js';
import { TranslationIndex, timeoutOf } from './reservations.js';
import { checksumsValid, rewriteSource } from './rewrite.js';
import { type NatCounters, type NatFlow, natFlowCodec, type NatShared, natSharedCodec, noMultiFlowCodec, pairOf, type TcpState } from './state.js';

export interface NatEndpoint {
  ip: string;
  port: number;
}

export interface NatTranslationOutput {
  proto: 'tcp' | 'udp';
  internal: NatEndpoint;
  external: NatEndpoint;
  remote: NatEndpoint;
  packetsOut: number;
  packetsIn: number;
  /** TCP state; null for UDP. */
  state: TcpState | null;
  lastSeen: number;
}

export type NatOutputs = {
  translations: NatTranslationOutput[];
  counters: NatCounters;
  live: { translations: number; inboundFlows: number };
};

/** The TCP state after a packet; `fromClient` says whether the flow's opener sent it. */
export function nextTcpState(s: TcpState | null, flags: number, fromClient: boolean): TcpState {
  if (flags & TCP_RST) return 'closed';
  const syn = (flags & TCP_SYN) !== 0;
  const ack = (flags & TCP_ACK) !== 0;
  const fin = (flags & TCP_FIN) !== 0;
  if (s === null) return syn ? (ack ? 'syn-received' : 'syn-sent') : fin ? 'closing' : 'established'; // picked up midstream, as conntrack does
  // A new connection on the same ports keeps the translation, as in conntrack's TIME_WAIT reopen.
  if (syn && !ack && fromClient && (s === 'closing' || s === 'closed')) return 'syn-sent';
  if (fin) return s === 'closing' || s === 'closed' ? 'closed' : 'closing';
  if (s === 'syn-sent' && syn && ack && !fromClient) return 'syn-received';
  if (s === 'syn-received' && ack && !syn && fromClient) return 'established';
  return s;
}

/** Spreads inside hosts over the external addresses, each host always on the same one (paired pooling, RFC 4787). */
function addressSlot(insideAddr: number, n: number): number {
  return n === 1 ? 0 : (Math.imul(insideAddr, 0x9e3779b1) >>> 0) % n;
}

/**
 * Picks the external address:port of a new translation into `f`: the inside port itself when it
 * is in range and free (MASQUERADE keeps source ports it can), else the next free port after the
 * cursor. Deterministic: it depends on the state and the packet only. False when all are taken.
 */
function allocate(f: NatFlow, idx: TranslationIndex, sh: NatShared, c: NatConfig, insideAddr: number, insidePort: number): boolean {
  const tcp = f.tcp !== null;
  const n = c.externalAddresses.length;
  const first = addressSlot(insideAddr, n);
  for (let i = 0; i < n; i++) {
    const addr = c.externalAddresses[(first + i) % n];
    if (idx.isFull(tcp, addr)) continue;
    let port = insidePort;
    if (port < c.portFirst || port > c.portLast || !idx.isFree(tcp, addr, port)) {
      port = sh.cursor;
      do port = port < c.portFirst || port >= c.portLast ? c.portFirst : port + 1;
      while (!idx.isFree(tcp, addr, port));
      sh.cursor = port;
    }
    f.extAddr = addr;
    f.extPort = port;
    return true;
  }
  return false;
}

function endpoint(key: FlowKey, side: 'a' | 'b'): NatEndpoint {
  const e = side === 'a' ? key.a : key.b;
  return { ip: e.ip, port: e.port };
}

export const nat: MiddleboxDefinition<NatConfig, NatFlow, never, NatShared> = {
  type: 'nat',
  description: 'source NAT after iptables MASQUERADE with conntrack (per-flow translations whose external ports stay reserved across moves)',
  partitionKey: 'flow',
  defaultConfig: NAT_DEFAULTS,
  parseConfig: parseNatConfig,
  perFlow: natFlowCodec,
  multiFlow: noMultiFlowCodec,
  allFlows: natSharedCodec,

  createLogic(state: MbState<NatFlow, never, NatShared>, config: () => NatConfig, out) {
    /** The index for the current configuration, rebuilt from the per-flow table when missing or stale. */
    const indexFor = (sh: NatShared, c: NatConfig): TranslationIndex => {
      if (sh.index === null || sh.index.config !== c) sh.index = TranslationIndex.build(c, state.flows, sh.lent);
      return sh.index;
    };

    const expire = (idx: TranslationIndex, sh: NatShared, c: NatConfig): void => {
      for (let id = idx.nextDue(sh.clock); id !== undefined; id = idx.nextDue(sh.clock)) {
        const f = state.flows.get(id);
        if (!f) continue;
        if (f.last + timeoutOf(c, f) > sh.clock) {
          idx.schedule(id, f);
          continue;
        }
        idx.remove(id);
        state.flows.delete(id);
        if (f.mode === 'nat') sh.counters.translationsExpired++;
        else sh.counters.inboundFlowsExpired++;
      }
    };

    /** Tracks the packet's flow and returns what leaves: the packet itself, or its translation. */
    const handle = ({ packet, d, flow, ts }: PacketInput): WirePacket => {
      const c = config();
      const sh = state.all;
      const k = sh.counters;
      const idx = indexFor(sh, c);
      k.packets++;
      if (ts > sh.clock) sh.clock = ts;
      expire(idx, sh, c);
      if (!flow) {
        k.passedNonIp++;
        return packet;
      }
      if (d.ipVersion !== 4) {
        k.passedIpv6++;
        return packet;
      }
      if (d.proto !== PROTO_TCP && d.proto !== PROTO_UDP) {
        k.passedOtherProto++;
        return packet;
      }
      if (!d.hasPorts) {
        k.passedNoPorts++;
        return packet;
      }
      const data = packet.data;
      const srcIn = isInside(c, ipv4Number(data, d.srcOff));
      const dstIn = isInside(c, ipv4Number(data, d.dstOff));
      if (srcIn === dstIn) {
        k.passedLocal++;
        return packet;
      }
      const tcp = d.proto === PROTO_TCP;
      let f = state.flows.get(flow.id);
      if (f) {
        f.last = sh.clock;
        if (tcp) {
          const before = timeoutOf(c, f);
          f.tcp = nextTcpState(f.tcp, d.tcpFlags, (f.mode === 'nat') === srcIn);
          if (timeoutOf(c, f) < before) idx.schedule(flow.id, f);
        }
      } else {
        // The opener sent the first packet, unless that packet is a SYN-ACK.
        const synAck = tcp && (d.tcpFlags & (TCP_SYN | TCP_ACK)) === (TCP_SYN | TCP_ACK);
        const natted = synAck ? dstIn : srcIn;
        f = {
          mode: natted ? 'nat' : 'pass', inside: flow.forward === srcIn ? 'a' : 'b', extAddr: 0, extPort: 0,
          tcp: tcp ? nextTcpState(null, d.tcpFlags, !synAck) : null, last: sh.clock, packetsOut: 0, packetsIn: 0,
        };
        if (natted) {
          const inside = srcIn ? d.srcOff : d.dstOff;
          if (!allocate(f, idx, sh, c, ipv4Number(data, inside), srcIn ? d.sport : d.dport)) {
            k.portsExhausted++;
            return packet;
          }
          k.translationsCreated++;
        } else {
          k.inboundFlowsCreated++;
        }
        state.flows.set(flow.id, flow.key, f);
        idx.add(flow.id, f);
      }
      if (srcIn) f.packetsOut++;
      else f.packetsIn++;
      if (f.mode === 'pass') {
        k.passedInbound++;
        return packet;
      }
      if (!srcIn) {
        k.returnHits++;
        return packet;
      }
      const ipOff = d.srcOff - 12;
      const l4Off = ipOff + (data[ipOff] & 0x0f) * 4;
      if (!checksumsValid(data, ipOff, l4Off, d.proto)) k.inputBadChecksums++;
      // A copy: the runtime may still hand the original on (an event to re-process it elsewhere).
      const copy = Buffer.from(data);
      rewriteSource(copy, ipOff, l4Off, d.proto, f.extAddr, f.extPort);
      k.translatedOut++;
      return { ...packet, data: copy };
    };

    // Every packet leaves, translated or as it came: egress counts equal processed counts.
    const process = (input: PacketInput): void => out.emit(handle(input));

    const outputs = (): NatOutputs => {
      const natted: { id: string; key: FlowKey; f: NatFlow }[] = [];
      let inboundFlows = 0;
      for (const [id, { key, state: f }] of state.flows.entries()) {
        if (f.mode === 'nat') natted.push({ id, key, f });
        else inboundFlows++;
      }
      // Sorted by protocol, then external address and port: the allocation table as it stands.
      natted.sort((x, y) => (x.f.tcp === null ? 1 : 0) - (y.f.tcp === null ? 1 : 0) || x.f.extAddr - y.f.extAddr || x.f.extPort - y.f.extPort
        || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
      const translations = natted.map(({ key, f }): NatTranslationOutput => ({
        proto: key.proto === PROTO_TCP ? 'tcp' : 'udp', internal: endpoint(key, f.inside), external: { ip: ipv4String(f.extAddr), port: f.extPort },
        remote: endpoint(key, f.inside === 'a' ? 'b' : 'a'), packetsOut: f.packetsOut, packetsIn: f.packetsIn, state: f.tcp, lastSeen: f.last,
      }));
      return { translations, counters: { ...state.all.counters }, live: { translations: translations.length, inboundFlows } };
    };

    return { process, outputs };
  },

  // A flow put here reserves its external pair at once, so no new flow here is given it; a pair
  // it brings back from a move is no longer lent away, nor is one merged in that a flow here holds.
  onPut(state, scope, keys) {
    const sh = state.all;
    if (scope === 'all-flows') {
      for (const [, { state: f }] of state.flows.entries()) if (f.mode === 'nat') sh.lent.delete(pairOf(f));
    }
    if (scope !== 'per-flow') return;
    for (const id of keys) {
      const f = state.flows.get(id)!;
      if (sh.index) sh.index.add(id, f);
      else if (f.mode === 'nat') sh.lent.delete(pairOf(f));
    }
  },

  // A translation deleted while live goes on elsewhere (the source side of a move): its pair stays taken here.
  onDelete(state, scope, keys) {
    if (scope !== 'per-flow') return;
    const sh = state.all;
    for (const id of keys) {
      const f = state.flows.get(id)!;
      if (f.mode !== 'nat') continue;
      if (sh.index) sh.index.lend(id);
      else sh.lent.add(pairOf(f));
    }
  },

  createEgress: (c) => new NatEgress(c),
};
