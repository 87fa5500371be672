/**
 * Source NAT after iptables MASQUERADE with conntrack. An IPv4 TCP/UDP flow whose opener is
 * inside the internal prefixes and whose other end is outside gets an external address:port for
 * its lifetime; its outbound packets leave with that source (checksums updated incrementally).
 * A flow opened from outside is tracked too, so that its inside end's replies are never
 * translated. Idle flows expire by packet time and free their port, but keep their record (see
 * NatFlow in state.ts): `translations` lists every translation the NAT made, live or expired,
 * once per flow with all its packets, whichever instance's clock passed its timeout or did not.
 * A later packet of an expired flow revives the same record with a fresh pair.
 *
 * No two live flows share an external address:port, across instances too: a moved translation
 * reserves its pair where it is put and stays reserved where it was deleted (lent away), and
 * each hash bucket of the pool translates into a port class of its own (see partitionBuckets).
 *
 * Return traffic: the captures were taken inside the NAT, so a packet from outside to the inside
 * end of a translated flow already carries the translation's internal address:port as its
 * destination, which is how the inside host receives it after the NAT. It is emitted as it came
 * and counted as a return-translation hit.
 */
import { type Decoded, PROTO_TCP, PROTO_UDP, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../../flow/decode.js';
import { packetHash, type PartitionKeyKind } from '../../flow/hash.js';
import type { FlowKey } from '../../flow/key.js';
import type { WirePacket } from '../../protocol/packets.js';
import { compareByFields, type MbState, type MiddleboxDefinition, type OutputMerge, type PacketInput } from '../../shim/definition.js';
import { ipv4Number, ipv4String, isInside, NAT_DEFAULTS, type NatConfig, parseNatConfig } from './config.js';
import { NatEgress } from './egress.js';
import { TranslationIndex, timeoutOf } from './reservations.js';
import { checksumsValid, rewriteSource } from './rewrite.js';
import { COUNTER_NAMES, type NatCounters, type NatFlow, natFlowCodec, type NatShared, natSharedCodec, noMultiFlowCodec, pairOf, type TcpState } from './state.js';

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
  /** Idle past its timeout: `external` is the pair it held, now released. */
  expired: boolean;
}

export type NatOutputs = {
  /** Every translation made, live ones first. */
  translations: NatTranslationOutput[];
  counters: NatCounters;
  live: { translations: number; inboundFlows: number };
};

/** The TCP state of a flow after its first packet; one picked up midstream counts as established, as in conntrack. */
export function firstTcpState(flags: number): TcpState {
  if (flags & TCP_RST) return 'closed';
  if (flags & TCP_SYN) return flags & TCP_ACK ? 'syn-received' : 'syn-sent';
  return flags & TCP_FIN ? 'closing' : 'established';
}

/** The TCP state after a later packet; `fromClient` says whether the flow's opener sent it. */
export function nextTcpState(s: TcpState, flags: number, fromClient: boolean): TcpState {
  if (flags & TCP_RST) return 'closed';
  const syn = (flags & TCP_SYN) !== 0;
  const ack = (flags & TCP_ACK) !== 0;
  const fin = (flags & TCP_FIN) !== 0;
  // A new connection on the same ports keeps the translation, as in conntrack's TIME_WAIT reopen.
  if (syn && !ack && fromClient && (s === 'closing' || s === 'closed')) return 'syn-sent';
  if (fin) return s === 'closing' || s === 'closed' ? 'closed' : 'closing';
  if (s === 'syn-sent' && syn && ack && !fromClient) return 'syn-received';
  if (s === 'syn-received' && ack && !syn && fromClient) return 'established';
  return s;
}

/**
 * Whether the sender of a flow's first packet opened it: yes for a SYN, no for a SYN-ACK. Without
 * a handshake in sight (UDP, TCP picked up midstream) the opener is the end on the higher port
 * when only the other end's port is a well-known service port (below 1024), as flow meters guess
 * servers; else the sender. So a reply that overtakes its request, as a loss-free move may let
 * it, still leaves the flow to the end that asked.
 */
export function openedBySource(d: Decoded): boolean {
  if (d.proto === PROTO_TCP && d.tcpFlags & TCP_SYN) return (d.tcpFlags & TCP_ACK) === 0;
  const srcService = d.sport < 1024;
  const dstService = d.dport < 1024;
  return srcService === dstService || dstService;
}

/** Spreads inside hosts over the external addresses, each host always on the same one (paired pooling, RFC 4787). */
function addressSlot(insideAddr: number, n: number): number {
  return n === 1 ? 0 : (Math.imul(insideAddr, 0x9e3779b1) >>> 0) % n;
}

/** The first port above `after` in class `cls` (port mod n), wrapping around the range. */
function nextInClass(after: number, cls: number, c: NatConfig): number {
  const n = c.partitionBuckets;
  const from = after < c.portFirst || after >= c.portLast ? c.portFirst : after + 1;
  const port = from + ((cls - (from % n) + n) % n);
  return port <= c.portLast ? port : nextInClass(c.portFirst - 1, cls, c);
}

/**
 * Picks the external address:port of a new translation into `f`, in the flow's port class: the
 * inside port itself when it is in range, in class and free (MASQUERADE keeps source ports it
 * can), else the next free port of the class after the cursor. Deterministic: it depends on the
 * state and the packet only. False when all are taken.
 */
function allocate(f: NatFlow, idx: TranslationIndex, sh: NatShared, c: NatConfig, insideAddr: number, insidePort: number, cls: number): boolean {
  const tcp = f.tcp !== null;
  const n = c.externalAddresses.length;
  const first = addressSlot(insideAddr, n);
  for (let i = 0; i < n; i++) {
    const addr = c.externalAddresses[(first + i) % n];
    if (idx.isFull(tcp, addr, cls)) continue;
    let port = insidePort;
    if (port < c.portFirst || port > c.portLast || port % c.partitionBuckets !== cls || !idx.isFree(tcp, addr, port)) {
      port = nextInClass(sh.cursor, cls, c);
      while (!idx.isFree(tcp, addr, port)) port = nextInClass(port, cls, c);
      sh.cursor = port;
    }
    f.extAddr = addr;
    f.extPort = port;
    return true;
  }
  return false;
}

/** The port class of a packet's flow: its hash bucket under the pool's partition key, as the switch computes it. */
function portClass(c: NatConfig, data: Uint8Array, d: Decoded): number {
  return packetHash(c.partitionKey, c.partitionInside, data, d) % c.partitionBuckets;
}

/**
 * The configuration a pool partitioned by `key` into `buckets` gives each NAT instance: one port
 * class per bucket, computed with the pool's key (and its inside prefixes for `host`), so that
 * the instance owning a bucket is the only one handing out that class's ports.
 */
export function natPoolConfig(p: { key: PartitionKeyKind; buckets: number; inside?: string[] }): Record<string, unknown> {
  return { partitionBuckets: p.buckets, partitionKey: p.key, partitionInside: p.key === 'host' ? [...(p.inside ?? [])] : [] };
}

function endpoint(key: FlowKey, side: 'a' | 'b'): NatEndpoint {
  const e = side === 'a' ? key.a : key.b;
  return { ip: e.ip, port: e.port };
}

/**
 * Live translations first, by protocol, then external address and port (the allocation table as
 * it stands); then the expired ones in the same order, by the pair each held last.
 */
const TRANSLATION_ORDER = ['expired', 'proto', 'external.ip', 'external.port', 'internal.ip', 'internal.port', 'remote.ip', 'remote.port'];
const compareTranslations = compareByFields(TRANSLATION_ORDER);

/** Translations are per-flow state, each on one instance; the counters are per-instance tallies that add up. */
const OUTPUTS: OutputMerge = {
  translations: { merge: 'concat', orderBy: TRANSLATION_ORDER },
  counters: { merge: 'record', fields: Object.fromEntries(COUNTER_NAMES.map((n) => [n, { merge: 'sum' }])) },
  live: { merge: 'record', fields: { translations: { merge: 'sum' }, inboundFlows: { merge: 'sum' } } },
};

export const nat: MiddleboxDefinition<NatConfig, NatFlow, never, NatShared> = {
  type: 'nat',
  description: 'source NAT after iptables MASQUERADE with conntrack (per-flow translations whose external ports stay reserved across moves)',
  partitionKey: 'flow',
  defaultConfig: NAT_DEFAULTS,
  parseConfig: parseNatConfig,
  poolConfig: natPoolConfig,
  outputs: OUTPUTS,
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
        if (!f || f.expired) continue;
        if (f.last + timeoutOf(c, f) > sh.clock) {
          idx.schedule(id, f);
          continue;
        }
        // The pair is free for new flows; the record stays, with its counts.
        idx.remove(id);
        f.expired = true;
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
      let f = state.flows.get(flow.id);
      // A live flow keeps the inside its first packet gave it, whatever internalPrefixes say since
      // (a reconfiguration keeps existing translations); new and revived flows go by the prefixes.
      const live = f !== undefined && !f.expired;
      const srcIn = live ? (flow.forward ? 'a' : 'b') === f!.inside : isInside(c, ipv4Number(data, d.srcOff));
      const dstIn = live ? !srcIn : isInside(c, ipv4Number(data, d.dstOff));
      if (srcIn === dstIn) {
        k.passedLocal++;
        return packet;
      }
      const tcp = d.proto === PROTO_TCP;
      const insideAddr = ipv4Number(data, srcIn ? d.srcOff : d.dstOff);
      const insidePort = srcIn ? d.sport : d.dport;
      if (f && !f.expired) {
        f.last = sh.clock;
        if (tcp) {
          const before = timeoutOf(c, f);
          f.tcp = nextTcpState(f.tcp!, d.tcpFlags, (f.mode === 'nat') === srcIn);
          if (timeoutOf(c, f) < before) idx.schedule(flow.id, f);
        }
      } else if (f) {
        // Revival: the same record, the mode its first packet gave it, a fresh pair and TCP state.
        f.last = sh.clock;
        f.tcp = tcp ? firstTcpState(d.tcpFlags) : null;
        if (f.mode === 'nat') {
          if (!allocate(f, idx, sh, c, insideAddr, insidePort, portClass(c, data, d))) {
            // It stays expired; its packets still count, as they would where it had not expired.
            k.portsExhausted++;
            if (srcIn) f.packetsOut++;
            else f.packetsIn++;
            return packet;
          }
          k.translationsCreated++;
          k.translationsRevived++;
        } else {
          k.inboundFlowsCreated++;
          k.inboundFlowsRevived++;
        }
        f.expired = false;
        idx.add(flow.id, f);
      } else {
        const natted = openedBySource(d) ? srcIn : dstIn;
        f = {
          mode: natted ? 'nat' : 'pass', inside: flow.forward === srcIn ? 'a' : 'b', extAddr: 0, extPort: 0,
          tcp: tcp ? firstTcpState(d.tcpFlags) : null, last: sh.clock, packetsOut: 0, packetsIn: 0, expired: false,
        };
        if (natted) {
          if (!allocate(f, idx, sh, c, insideAddr, insidePort, portClass(c, data, d))) {
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
      // A copy: the caller keeps the original packet as it came.
      const copy = Buffer.from(data);
      rewriteSource(copy, ipOff, l4Off, d.proto, f.extAddr, f.extPort);
      k.translatedOut++;
      return { ...packet, data: copy };
    };

    // Every packet leaves, translated or as it came: egress counts equal processed counts.
    const process = (input: PacketInput): void => out.emit(handle(input));

    const outputs = (): NatOutputs => {
      const translations: NatTranslationOutput[] = [];
      let liveTranslations = 0;
      let inboundFlows = 0;
      for (const [, { key, state: f }] of state.flows.entries()) {
        if (f.mode === 'nat') {
          translations.push({
            proto: key.proto === PROTO_TCP ? 'tcp' : 'udp', internal: endpoint(key, f.inside), external: { ip: ipv4String(f.extAddr), port: f.extPort },
            remote: endpoint(key, f.inside === 'a' ? 'b' : 'a'), packetsOut: f.packetsOut, packetsIn: f.packetsIn, state: f.tcp, lastSeen: f.last,
            expired: f.expired,
          });
          if (!f.expired) liveTranslations++;
        } else if (!f.expired) {
          inboundFlows++;
        }
      }
      translations.sort(compareTranslations);
      return { translations, counters: { ...state.all.counters }, live: { translations: liveTranslations, inboundFlows } };
    };

    return { process, outputs };
  },

  // A live flow put here reserves its external pair at once, so no new flow here is given it; a
  // pair it brings back from a move is no longer lent away, nor is one merged in that a live flow
  // here holds. An expired record holds no pair and reserves nothing.
  onPut(state, scope, keys) {
    const sh = state.all;
    if (scope === 'all-flows') {
      for (const [, { state: f }] of state.flows.entries()) if (f.mode === 'nat' && !f.expired) sh.lent.delete(pairOf(f));
    }
    if (scope !== 'per-flow') return;
    for (const id of keys) {
      const f = state.flows.get(id)!;
      if (sh.index) sh.index.add(id, f);
      else if (f.mode === 'nat' && !f.expired) sh.lent.delete(pairOf(f));
    }
  },

  // A translation deleted while live goes on elsewhere (the source side of a move): its pair stays
  // taken here. An expired one held no pair, so there is nothing to keep.
  onDelete(state, scope, keys) {
    if (scope !== 'per-flow') return;
    const sh = state.all;
    for (const id of keys) {
      const f = state.flows.get(id)!;
      if (f.mode !== 'nat' || f.expired) continue;
      if (sh.index) sh.index.lend(id);
      else sh.lent.add(pairOf(f));
    }
  },

  createEgress: (c) => new NatEgress(c),
};
