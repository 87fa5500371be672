/** The monitor's state in its three scopes, with the codecs the shim moves it with. */
import { z } from 'zod';

/** TCP connection states, derived from the flags each side has sent. */
export const TCP_STATES = ['syn', 'syn-ack', 'established', 'closing', 'closed', 'reset', 'midstream'] as const;
export type TcpState = (typeof TCP_STATES)[number];

/** What one side of a TCP flow has sent, as bits: a set, so the order packets came in does not matter. */
export const SENT_SYN = 1;
export const SENT_SYNACK = 2;
export const SENT_ACK = 4;
export const SENT_FIN = 8;
export const SENT_RST = 16;

/**
 * Everything in a flow record is order-independent (sums, minima, maxima, sets of flags), so a
 * loss-free move that releases held packets after newer ones still yields the same record.
 */
export interface FlowRecord {
  packetsAB: number;
  packetsBA: number;
  bytesAB: number;
  bytesBA: number;
  /** First packet time from each side; -1 when that side has sent nothing. */
  firstAB: number;
  firstBA: number;
  last: number;
  /** SENT_* bits of what `a` and `b` have sent (TCP only). */
  flagsA: number;
  flagsB: number;
}

export interface HostRecord {
  packetsOut: number;
  packetsIn: number;
  bytesOut: number;
  bytesIn: number;
  first: number;
  last: number;
  /** "tcp/80", "udp/53": ports this host answered on. Sorted, at most MAX_SERVICES. */
  services: string[];
  /** "syn ttl=64 win=29200": handshake fingerprints (initial TTL, window). Sorted, at most MAX_OS_HINTS. */
  os: string[];
}

export interface Totals {
  packets: number;
  bytes: number;
  nonIpPackets: number;
  flows: number;
}

export const MAX_SERVICES = 64;
export const MAX_OS_HINTS = 16;

const count = z.number().int().nonnegative();

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

/** Capture timestamps in seconds: finite and not negative (NaN and Infinity do not survive JSON). */
function isTime(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0;
}

const isFirst = (v: unknown): v is number => v === -1 || isTime(v);

const hostSchema = z.object({
  packetsOut: count, packetsIn: count, bytesOut: count, bytesIn: count,
  first: z.number().finite().nonnegative(), last: z.number().finite().nonnegative(),
  services: z.array(z.string()).max(MAX_SERVICES), os: z.array(z.string()).max(MAX_OS_HINTS),
}).strict();
const totalsSchema = z.object({ packets: count, bytes: count, nonIpPackets: count, flows: count }).strict();

function parse<T>(schema: z.ZodType<T>, json: unknown): T {
  const r = schema.safeParse(json);
  if (!r.success) throw new Error(r.error.issues.map((i) => `${i.path.join('.') || 'state'}: ${i.message}`).join('; '));
  return r.data;
}

/** The smallest `max` of the union: the same whatever order sets are merged in. */
export function unionBounded(a: string[], b: string[], max: number): string[] {
  return [...new Set([...a, ...b])].sort().slice(0, max);
}

/**
 * Flow records travel as arrays [packetsAB, packetsBA, bytesAB, bytesBA, firstAB, firstBA, last,
 * flagsA, flagsB]: a move carries one per flow, so the compact form and a hand-written check pay off.
 */
export const flowCodec = {
  encode: (s: FlowRecord): unknown => [s.packetsAB, s.packetsBA, s.bytesAB, s.bytesBA, s.firstAB, s.firstBA, s.last, s.flagsA, s.flagsB],
  decode: (j: unknown): FlowRecord => {
    if (!Array.isArray(j) || j.length !== 9) throw new Error('flow state must be [packetsAB, packetsBA, bytesAB, bytesBA, firstAB, firstBA, last, flagsA, flagsB]');
    const [packetsAB, packetsBA, bytesAB, bytesBA, firstAB, firstBA, last, flagsA, flagsB] = j;
    if (!isCount(packetsAB) || !isCount(packetsBA) || !isCount(bytesAB) || !isCount(bytesBA)) throw new Error('packet and byte counters must be non-negative integers');
    if (!isFirst(firstAB) || !isFirst(firstBA) || !isTime(last)) throw new Error('firstAB and firstBA must be timestamps or -1 (nothing sent), last a timestamp');
    if (!isCount(flagsA) || !isCount(flagsB) || flagsA > 31 || flagsB > 31) throw new Error('flagsA and flagsB must be flag sets 0-31');
    return { packetsAB, packetsBA, bytesAB, bytesBA, firstAB, firstBA, last, flagsA, flagsB };
  },
};

export const hostCodec = {
  encode: (s: HostRecord): unknown => s,
  decode: (j: unknown): HostRecord => parse(hostSchema, j),
  merge: (into: HostRecord, from: HostRecord): HostRecord => ({
    packetsOut: into.packetsOut + from.packetsOut,
    packetsIn: into.packetsIn + from.packetsIn,
    bytesOut: into.bytesOut + from.bytesOut,
    bytesIn: into.bytesIn + from.bytesIn,
    first: Math.min(into.first, from.first),
    last: Math.max(into.last, from.last),
    services: unionBounded(into.services, from.services, MAX_SERVICES),
    os: unionBounded(into.os, from.os, MAX_OS_HINTS),
  }),
};

export const totalsCodec = {
  init: (): Totals => ({ packets: 0, bytes: 0, nonIpPackets: 0, flows: 0 }),
  encode: (s: Totals): unknown => s,
  decode: (j: unknown): Totals => parse(totalsSchema, j),
  merge: (into: Totals, from: Totals): Totals => ({
    packets: into.packets + from.packets,
    bytes: into.bytes + from.bytes,
    nonIpPackets: into.nonIpPackets + from.nonIpPackets,
    flows: into.flows + from.flows,
  }),
};
