/** The NAT's state in its scopes, with the codecs the shim moves it with. */
import { z } from 'zod';
import { parseIp } from '../../flow/address.js';
import { ipv4Number, ipv4String } from './config.js';
import type { TranslationIndex } from './reservations.js';

/** Connection tracking of a TCP flow, as far as timeouts need it (after conntrack's states). */
export const TCP_STATES = ['syn-sent', 'syn-received', 'established', 'closing', 'closed'] as const;
export type TcpState = (typeof TCP_STATES)[number];

/**
 * Per-flow: a boundary-crossing IPv4 TCP/UDP flow, translated or (opened from outside) passed as it is.
 *
 * A record lasts for the instance's life (as the monitor's and the ids's per-flow records do), so
 * what the NAT reports does not hang on which instance's clock passed a flow's timeout: an idle
 * flow expires (its external pair is released for reuse, `expired` is set) but keeps its record,
 * its mode and its packet counts. A later packet of the flow (either direction) revives the same
 * record: a 'nat' flow is given a pair afresh, as a new flow would be (the inside port when free
 * and in class, else the next free port of its class; so it may or may not be the pair it had),
 * its TCP state starts over from that packet, and its counts go on. So a flow has one record
 * whether or not it expired in between, and its mode is the one its first packet ever gave it.
 */
export interface NatFlow {
  /** 'nat' when the inside endpoint opened the flow; 'pass' when the outside one did (never translated). */
  mode: 'nat' | 'pass';
  /** Which endpoint of the canonical flow key is inside: 'a' or 'b'. */
  inside: 'a' | 'b';
  /** The external address (unsigned 32-bit) and port the inside endpoint is translated to; 0 for 'pass'. */
  extAddr: number;
  extPort: number;
  /** Null for UDP. */
  tcp: TcpState | null;
  /** Packet time of the flow's latest packet (the instance clock then). */
  last: number;
  /** Packets from the inside endpoint, and to it. */
  packetsOut: number;
  packetsIn: number;
  /** True once the flow idled past its timeout: it holds no pair (extAddr/extPort are the last it held) until a packet revives it. */
  expired: boolean;
}

export interface NatCounters {
  packets: number;
  /** Outbound packets rewritten to the external address and port. */
  translatedOut: number;
  /** Packets from outside to the inside endpoint of a translated flow. */
  returnHits: number;
  /** Packets of flows opened from outside, and of flows with both ends inside or both outside. */
  passedInbound: number;
  passedLocal: number;
  passedIpv6: number;
  passedNonIp: number;
  /** IPv4 packets that are neither TCP nor UDP. */
  passedOtherProto: number;
  /** TCP/UDP packets without their ports (later fragments, headers cut short). */
  passedNoPorts: number;
  /** Packets of a new outbound flow that found no free external address:port (sent on untranslated). */
  portsExhausted: number;
  /** Translated packets whose original IPv4 header or TCP/UDP checksum was already wrong. */
  inputBadChecksums: number;
  /** Translations made, revivals included (summed over a pool, created less expired is the number live). */
  translationsCreated: number;
  translationsExpired: number;
  /** Of translationsCreated, those that revived an expired flow's record with a fresh pair. */
  translationsRevived: number;
  inboundFlowsCreated: number;
  inboundFlowsExpired: number;
  inboundFlowsRevived: number;
}

/**
 * All-flows state. The external address:port pairs in use are those the live (not expired)
 * per-flow translations hold, which a moved translation reserves where it lands through its per-flow put, plus the
 * pairs lent away. `index` makes them fast to look up: it is derived from the per-flow table and
 * `lent`, never serialized, and rebuilt when missing.
 */
export interface NatShared {
  counters: NatCounters;
  /** The port the allocation cursor handed out last; 0 before the first. */
  cursor: number;
  /** Packet time: the latest capture timestamp seen (captures may step back; this does not). */
  clock: number;
  /**
   * Pairs of translations a `del` removed while they were live (the source side of a move, see
   * pairKey): the flow goes on elsewhere with its pair, so the pair stays taken here until a put
   * brings it back. Nothing here can tell when the flow ends elsewhere, so a pair lent away is
   * never reused here on a guess.
   */
  lent: Set<number>;
  index: TranslationIndex | null;
}

const ADDR_SPACE = 0x100000000;
const PORT_SPACE = 0x10000;

/** A protocol and external address as one number: TCP below 2^32, UDP above. */
export function addrKey(tcp: boolean, addr: number): number {
  return (tcp ? 0 : ADDR_SPACE) + addr;
}

/** A protocol, external address and port as one number (exact: below 2^49). */
export function pairKey(tcp: boolean, addr: number, port: number): number {
  return addrKey(tcp, addr) * PORT_SPACE + port;
}

/** The pair a translation holds (or held last, when expired); a flow's protocol is TCP exactly when it has a TCP state. */
export function pairOf(f: NatFlow): number {
  return pairKey(f.tcp !== null, f.extAddr, f.extPort);
}

export function pairPort(k: number): number {
  return k % PORT_SPACE;
}

/** "tcp 203.0.113.1:1024" */
function pairText(k: number): string {
  const a = Math.floor(k / PORT_SPACE);
  return `${a >= ADDR_SPACE ? 'udp' : 'tcp'} ${ipv4String(a % ADDR_SPACE)}:${k % PORT_SPACE}`;
}

function parsePairText(text: unknown): number {
  const m = typeof text === 'string' ? /^(tcp|udp) ([0-9.]+):(\d{1,5})$/.exec(text) : null;
  const b = m ? parseIp(m[2]) : null;
  const port = m ? Number(m[3]) : 0;
  if (!m || !b || b.length !== 4 || port < 1 || port > 65535) throw new Error(`lent pair ${JSON.stringify(text)} is not like "tcp 203.0.113.1:1024"`);
  return pairKey(m[1] === 'tcp', ipv4Number(b, 0), port);
}

export const COUNTER_NAMES = [
  'packets', 'translatedOut', 'returnHits', 'passedInbound', 'passedLocal', 'passedIpv6', 'passedNonIp', 'passedOtherProto',
  'passedNoPorts', 'portsExhausted', 'inputBadChecksums', 'translationsCreated', 'translationsExpired', 'translationsRevived',
  'inboundFlowsCreated', 'inboundFlowsExpired', 'inboundFlowsRevived',
] as const satisfies readonly (keyof NatCounters)[];

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

/**
 * A flow travels as [mode, inside, extIp, extPort, tcp, last, packetsOut, packetsIn, expired]
 * (extIp null and extPort 0 for 'pass'): a move carries one per flow, so the compact form and a
 * hand-written check pay off.
 */
export const natFlowCodec = {
  encode: (f: NatFlow): unknown => [
    f.mode, f.inside, f.mode === 'nat' ? ipv4String(f.extAddr) : null, f.extPort, f.tcp, f.last, f.packetsOut, f.packetsIn, f.expired,
  ],
  decode: (j: unknown): NatFlow => {
    if (!Array.isArray(j) || j.length !== 9) throw new Error('nat flow state must be [mode, inside, extIp, extPort, tcp, last, packetsOut, packetsIn, expired]');
    const [mode, inside, extIp, extPort, tcp, last, packetsOut, packetsIn, expired] = j;
    if (mode !== 'nat' && mode !== 'pass') throw new Error(`mode must be "nat" or "pass", got ${JSON.stringify(mode)}`);
    if (inside !== 'a' && inside !== 'b') throw new Error(`inside must be "a" or "b", got ${JSON.stringify(inside)}`);
    let extAddr = 0;
    if (mode === 'nat') {
      const b = typeof extIp === 'string' ? parseIp(extIp) : null;
      if (!b || b.length !== 4) throw new Error(`extIp must be an IPv4 address, got ${JSON.stringify(extIp)}`);
      if (!Number.isInteger(extPort) || extPort < 1 || extPort > 65535) throw new Error(`extPort must be 1-65535, got ${JSON.stringify(extPort)}`);
      extAddr = ipv4Number(b, 0);
    } else if (extIp !== null || extPort !== 0) {
      throw new Error('a "pass" flow has no external address (extIp null, extPort 0)');
    }
    if (tcp !== null && !TCP_STATES.includes(tcp)) throw new Error(`tcp state ${JSON.stringify(tcp)} is not one of ${TCP_STATES.join(', ')}`);
    if (typeof last !== 'number' || !Number.isFinite(last)) throw new Error('last must be a timestamp');
    if (!isCount(packetsOut) || !isCount(packetsIn)) throw new Error('packet counters must be non-negative integers');
    if (typeof expired !== 'boolean') throw new Error(`expired must be true or false, got ${JSON.stringify(expired)}`);
    return { mode, inside, extAddr, extPort, tcp, last, packetsOut, packetsIn, expired };
  },
};

const sharedSchema = z.object({
  counters: z.object(Object.fromEntries(COUNTER_NAMES.map((n) => [n, z.number().int().nonnegative()]))).strict(),
  cursor: z.number().int().min(0).max(65535),
  clock: z.number().finite(),
  lent: z.array(z.unknown()),
}).strict();

function emptyCounters(): NatCounters {
  return Object.fromEntries(COUNTER_NAMES.map((n) => [n, 0])) as unknown as NatCounters;
}

export const natSharedCodec = {
  init: (): NatShared => ({ counters: emptyCounters(), cursor: 0, clock: 0, lent: new Set(), index: null }),
  encode: (s: NatShared): unknown => ({ counters: s.counters, cursor: s.cursor, clock: s.clock, lent: [...s.lent].sort((x, y) => x - y).map(pairText) }),
  decode: (j: unknown): NatShared => {
    const r = sharedSchema.safeParse(j);
    if (!r.success) throw new Error(r.error.issues.map((i) => `${i.path.join('.') || 'state'}: ${i.message}`).join('; '));
    const { counters, cursor, clock, lent } = r.data;
    return { counters: counters as unknown as NatCounters, cursor, clock, lent: new Set(lent.map(parsePairText)), index: null };
  },
  /**
   * Counters add; the cursor and the clock take the later of the two; lent pairs unite (all
   * order-independent). The index is rebuilt, as the lent pairs changed.
   */
  merge: (into: NatShared, from: NatShared): NatShared => {
    const counters = emptyCounters();
    for (const n of COUNTER_NAMES) counters[n] = into.counters[n] + from.counters[n];
    return {
      counters, cursor: Math.max(into.cursor, from.cursor), clock: Math.max(into.clock, from.clock), lent: new Set([...into.lent, ...from.lent]), index: null,
    };
  },
};

/** The NAT keeps nothing per host: a translation belongs to one flow. */
export const noMultiFlowCodec = {
  encode: (s: never): unknown => s,
  decode: (): never => {
    throw new Error('the nat keeps no multi-flow state');
  },
  merge: (into: never): never => into,
};
