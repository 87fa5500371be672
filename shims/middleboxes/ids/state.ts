/**
 * The ids's state in its three scopes, with the codecs the shim moves it with (the host codec is in
 * scan.ts).
 *
 * Everything a connection reports is kept as facts that do not depend on the order its packets
 * arrived in (sums, minimum and maximum times, sets of flags, sequence-number bounds), so that a
 * loss-free move, which hands a flow's held packets to the destination after newer ones, yields
 * the same outputs as one instance that saw the trace in order.
 */
import { HTTP_OFF, type HttpStream, MAX_HEADER_BYTES } from './http.js';
import type { RecentSet } from './recent.js';
import type { ScanSettings } from './scan.js';
import { MAX_RULES } from './rules.js';

/** An alert kept in a host's state. */
export interface StoredAlert {
  /** Timestamp of the attempt that raised it. */
  ts: number;
  rule: string;
  detail: string;
}

export type SideName = 'a' | 'b';

/** A signature alert kept in its connection's state. */
export interface FlowAlert {
  /** Capture time: the earliest copy of the packet (packet rules) or of the byte that completed the request (request rules). */
  ts: number;
  rule: string;
  /** The request's description (request rules); the rule's message (packet rules: the direction is added when reported). */
  detail: string;
  /** The endpoint whose packet or request stream raised it. */
  side: SideName;
  /** Request rules: stream offset of the request's last header byte. Null for packet rules. */
  at: number | null;
}

/** What an endpoint has sent, as bits: a set, so the order packets came in does not matter. */
export const SENT_SYN = 1; // SYN without ACK
export const SENT_SYNACK = 2;
export const SENT_ACK = 4; // ACK without SYN
export const SENT_FIN = 8; // FIN in a packet without RST
export const SENT_RST = 16;
export const SENT_DATA = 32; // payload outside a RST
const SENT_ALL = 63;

/** TCP endpoint states, as Zeek's TCP analyzer names them. */
export const TCP_INACTIVE = 0;
export const TCP_SYN_SENT = 1;
export const TCP_SYN_ACK_SENT = 2;
export const TCP_PARTIAL = 3;
export const TCP_ESTABLISHED = 4;
export const TCP_CLOSED = 5;
export const TCP_RESET = 6;

/** Stream bytes not yet given to the parser, with the earliest capture time of any copy of them. */
export interface Piece {
  off: number;
  data: Buffer;
  ts: number;
}

/** Reassembly of one direction's byte stream for the HTTP parser. */
export interface Stream {
  /** Stream offset the parser has consumed up to; null while the stream's start is not known. */
  next: number | null;
  http: HttpStream;
  /** Bytes waiting for a gap before them to fill (or for the start): sorted by offset, disjoint. */
  pieces: Piece[];
  /** Total bytes in `pieces` (not encoded: recomputed). */
  held: number;
}

/**
 * One endpoint of a connection (endpoint `a` or `b` of the canonical key) and what it sent.
 * Stream offsets are sequence numbers relative to `base`, unwrapped (see conn.ts `seqOffset`).
 */
export interface Side {
  packets: number;
  /** Capture time of its earliest packet; -1 before any. */
  first: number;
  /** SENT_* bits. */
  flags: number;
  /** Earliest FIN (in a packet without RST) and earliest RST; -1 when none. */
  finTs: number;
  rstTs: number;
  /** TCP: the sequence number at offset 0 (the first SYN or data seen); -1 before. */
  base: number;
  /** TCP: lowest and highest stream offset seen (data bytes and the ISN + 1 of SYNs). */
  lo: number;
  hi: number;
  /** TCP: offset of the first data byte after this side's SYN (its ISN + 1); null while no SYN was seen. */
  start: number | null;
  /** UDP: payload bytes. */
  bytes: number;
  /** HTTP requests parsed from this side's stream (reported for the originator only). */
  requests: number;
  /** TCP: reassembly and HTTP parsing of this side's stream, while it may be the originator's. */
  stream: Stream | null;
}

/** One connection (per-flow state). Who is the originator is derived from the facts (conn.ts). */
export interface Conn {
  last: number;
  a: Side;
  b: Side;
  /** Signature alerts: one per packet rule, one per request rule and side. */
  alerts: FlowAlert[];
  /** UDP: the connection attempt recorded with the scan detector (side and time), to correct it. */
  attempt: [SideName, number] | null;
}

/** An attempt in a scan log: [key, time]. */
export type Attempt = [string, number];

/**
 * One scan detector of a host (PortScan as a source, DistributedScan as a destination). Attempts
 * are taken in time order (then key order) whatever order they arrive in: the newest LOG_MAX wait
 * in `log`, where a late one is sorted in, and the alerts they raise are recomputed from the
 * checkpoint when read; older ones are folded into the checkpoint, whose alerts are final.
 * (Its codec, with the host's, is in scan.ts.)
 */
export interface ScanLog {
  /** The checkpoint: the most recent keys with their latest time, and when the last alert was raised. Null before the first fold. */
  recent: RecentSet | null;
  last: number | null;
  /** Attempts after the checkpoint, sorted by time, then key. */
  log: Attempt[];
  /** The alerts the log's attempts raise; null when stale (recomputed from the checkpoint when read). */
  provisional: StoredAlert[] | null;
  /** The settings the log was last changed with, to recompute its alerts (not encoded). */
  settings: ScanSettings | null;
}

/** Scan-detector state of one host (multi-flow state, keyed by the host's address). */
export interface HostRecord {
  /** As a source: "addr:port/proto" targets it tried. */
  targets: ScanLog | null;
  /** As a destination: addresses that tried it. */
  sources: ScanLog | null;
  /** Final scan alerts (raised by folded attempts): the earliest MAX_HOST_ALERTS, sorted. */
  alerts: StoredAlert[];
}

/** Instance-wide counters (all-flows state). */
export interface Counters {
  packets: number;
  connections: number;
  /** Final scan alerts raised here, by rule (connection alerts and provisional scan alerts are counted from their state). */
  scanAlerts: Map<string, number>;
}

export const MAX_HOST_ALERTS = 32;
/** The largest scan threshold; a recent set holds at most one more key than its threshold. */
export const MAX_THRESHOLD = 10000;
export const MAX_TRACKED = MAX_THRESHOLD + 1;
/** Attempts a scan log keeps before folding the oldest (a late attempt among them is placed exactly). */
export const LOG_MAX = 1024;
/** A merge may leave a longer log (folded at the next attempt); decoding accepts up to this many. */
export const LOG_DECODE_MAX = 65536;
/** The largest reassembly limit (config `reassemblyBytes`), per direction. */
export const MAX_REASSEMBLY = 16 * 1024 * 1024;
const MAX_DETAIL = 512;

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

export function isTime(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function isTimeOrNone(v: unknown): v is number {
  return isTime(v) && (v >= 0 || v === -1);
}

function isOffset(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v);
}

function isSeq(v: unknown): v is number {
  return isCount(v) ? v <= 0xffffffff : v === -1;
}

function isSide(v: unknown): v is SideName {
  return v === 'a' || v === 'b';
}

function isDetail(v: unknown): v is string {
  return typeof v === 'string' && v.length <= MAX_DETAIL;
}

function decodeBase64(v: unknown, what: string, max: number): Buffer {
  if (typeof v !== 'string') throw new Error(`${what} must be base64`);
  const buf = Buffer.from(v, 'base64');
  if (buf.length === 0 || buf.length > max || buf.toString('base64') !== v) throw new Error(`${what} must be 1-${max} bytes in base64`);
  return buf;
}

export function compareAlerts(x: StoredAlert, y: StoredAlert): number {
  return x.ts - y.ts || (x.rule < y.rule ? -1 : x.rule > y.rule ? 1 : 0) || (x.detail < y.detail ? -1 : x.detail > y.detail ? 1 : 0);
}

/** Adds an alert to a sorted list, keeping the earliest `max`. */
export function insertAlert(list: StoredAlert[], a: StoredAlert, max: number): void {
  let i = list.length;
  while (i > 0 && compareAlerts(list[i - 1], a) > 0) i--;
  if (i >= max) return;
  list.splice(i, 0, a);
  if (list.length > max) list.length = max;
}

/** Cuts an alert's detail to what the state codec accepts. */
export function clipDetail(s: string): string {
  return s.length <= MAX_DETAIL ? s : `${s.slice(0, MAX_DETAIL - 3)}...`;
}

export function newSide(): Side {
  return { packets: 0, first: -1, flags: 0, finTs: -1, rstTs: -1, base: -1, lo: 0, hi: 0, start: null, bytes: 0, requests: 0, stream: null };
}

export function newConn(): Conn {
  return { last: -1, a: newSide(), b: newSide(), alerts: [], attempt: null };
}

function encodeStream(s: Stream): unknown {
  return [s.next, s.http.mode, s.http.skip, s.http.pending ? s.http.pending.toString('base64') : null, s.pieces.map((p) => [p.off, p.data.toString('base64'), p.ts])];
}

function decodeStream(j: unknown): Stream {
  if (!Array.isArray(j) || j.length !== 5) throw new Error('a stream must be [next, httpMode, httpSkip, httpPending, pieces]');
  const [next, mode, skip, pending, pieces] = j;
  if (next !== null && !isOffset(next)) throw new Error('stream next must be an integer offset or null');
  if (!isCount(mode) || mode > HTTP_OFF || !isCount(skip)) throw new Error(`HTTP mode must be 0-${HTTP_OFF} and skip a non-negative integer`);
  const buf = pending === null ? null : decodeBase64(pending, 'HTTP pending bytes', MAX_HEADER_BYTES);
  if (!Array.isArray(pieces)) throw new Error('stream pieces must be an array of [offset, base64, ts]');
  let held = 0;
  let end = -Infinity;
  const out: Piece[] = pieces.map((p) => {
    if (!Array.isArray(p) || p.length !== 3 || !isOffset(p[0]) || !isTime(p[2])) throw new Error(`stream piece ${JSON.stringify(p).slice(0, 60)} is not [offset, base64, ts]`);
    if (p[0] < end) throw new Error('stream pieces must be sorted and disjoint');
    const data = decodeBase64(p[1], 'a stream piece', MAX_REASSEMBLY);
    held += data.length;
    end = p[0] + data.length;
    return { off: p[0], data, ts: p[2] };
  });
  if (held > MAX_REASSEMBLY) throw new Error(`stream pieces hold ${held} bytes, more than ${MAX_REASSEMBLY}`);
  if (mode === HTTP_OFF && out.length > 0) throw new Error('a stream no longer parsed holds no pieces');
  return { next, http: { mode, skip, pending: buf }, pieces: out, held };
}

function encodeSide(s: Side): unknown {
  return [s.packets, s.first, s.flags, s.finTs, s.rstTs, s.base, s.lo, s.hi, s.start, s.bytes, s.requests, s.stream ? encodeStream(s.stream) : null];
}

function decodeSide(j: unknown, name: SideName): Side {
  if (!Array.isArray(j) || j.length !== 12) throw new Error(`side ${name} must be an array of 12 fields [packets, first, flags, ...]`);
  const [packets, first, flags, finTs, rstTs, base, lo, hi, start, bytes, requests, stream] = j;
  if (!isCount(packets) || !isCount(bytes) || !isCount(requests)) throw new Error(`side ${name}: packet, byte and request counters must be non-negative integers`);
  if (!isTimeOrNone(first) || !isTimeOrNone(finTs) || !isTimeOrNone(rstTs)) throw new Error(`side ${name}: first, finTs and rstTs must be timestamps or -1`);
  if (!isCount(flags) || flags > SENT_ALL) throw new Error(`side ${name}: flags must be 0-${SENT_ALL}`);
  if (!isSeq(base)) throw new Error(`side ${name}: base must be a 32-bit unsigned sequence number or -1`);
  if (!isOffset(lo) || !isOffset(hi) || (start !== null && !isOffset(start))) throw new Error(`side ${name}: lo, hi and start must be integer offsets`);
  return { packets, first, flags, finTs, rstTs, base, lo, hi, start, bytes, requests, stream: stream === null ? null : decodeStream(stream) };
}

function encodeFlowAlerts(alerts: FlowAlert[]): unknown {
  return alerts.map((a) => [a.ts, a.rule, a.detail, a.side, a.at]);
}

function decodeFlowAlerts(j: unknown): FlowAlert[] {
  if (!Array.isArray(j)) throw new Error('alerts must be an array of [ts, rule, detail, side, at]');
  if (j.length > 2 * MAX_RULES) throw new Error(`alerts holds ${j.length} alerts, more than ${2 * MAX_RULES}`);
  return j.map((a) => {
    if (!Array.isArray(a) || a.length !== 5 || !isTime(a[0]) || typeof a[1] !== 'string' || a[1] === '' || !isDetail(a[2]) || !isSide(a[3]) || (a[4] !== null && !isOffset(a[4]))) {
      throw new Error(`alerts: ${JSON.stringify(a)} is not an alert [ts, rule, detail, side, at]`);
    }
    return { ts: a[0], rule: a[1], detail: a[2], side: a[3], at: a[4] };
  });
}

/**
 * Connections travel as arrays (a move carries one per flow): [last, sideA, sideB, alerts,
 * attempt], a side being [packets, first, flags, finTs, rstTs, base, lo, hi, start, bytes,
 * requests, stream], a stream [next, httpMode, httpSkip, httpPending, [[offset, base64, ts]...]].
 */
export const connCodec = {
  encode: (c: Conn): unknown => [c.last, encodeSide(c.a), encodeSide(c.b), encodeFlowAlerts(c.alerts), c.attempt],
  decode: (j: unknown): Conn => {
    if (!Array.isArray(j) || j.length !== 5) throw new Error('connection state must be an array of 5 fields [last, sideA, sideB, alerts, attempt]');
    const [last, a, b, alerts, attempt] = j;
    if (!isTimeOrNone(last)) throw new Error('last must be a timestamp');
    if (attempt !== null && (!Array.isArray(attempt) || attempt.length !== 2 || !isSide(attempt[0]) || !isTime(attempt[1]))) {
      throw new Error('attempt must be [side, ts] or null');
    }
    return { last, a: decodeSide(a, 'a'), b: decodeSide(b, 'b'), alerts: decodeFlowAlerts(alerts), attempt: attempt as [SideName, number] | null };
  },
};

export function encodeAlerts(alerts: StoredAlert[]): unknown {
  return alerts.map((a) => [a.ts, a.rule, a.detail]);
}

export function decodeAlerts(j: unknown, what: string, max: number): StoredAlert[] {
  if (!Array.isArray(j)) throw new Error(`${what} must be an array of [ts, rule, detail]`);
  if (j.length > max) throw new Error(`${what} holds ${j.length} alerts, more than ${max}`);
  return j.map((a) => {
    if (!Array.isArray(a) || a.length !== 3 || !isTime(a[0]) || typeof a[1] !== 'string' || a[1] === '' || !isDetail(a[2])) {
      throw new Error(`${what}: ${JSON.stringify(a)} is not an alert [ts, rule, detail]`);
    }
    return { ts: a[0], rule: a[1], detail: a[2] };
  });
}

export function compareAttempts(x: Attempt, y: Attempt): number {
  return x[1] - y[1] || (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0);
}

export function newScanLog(): ScanLog {
  return { recent: null, last: null, log: [], provisional: [], settings: null };
}

export function newHost(): HostRecord {
  return { targets: null, sources: null, alerts: [] };
}

export const countersCodec = {
  init: (): Counters => ({ packets: 0, connections: 0, scanAlerts: new Map() }),
  encode: (c: Counters): unknown => ({
    packets: c.packets, connections: c.connections,
    scanAlerts: [...c.scanAlerts].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0)),
  }),
  decode: (j: unknown): Counters => {
    if (j === null || typeof j !== 'object' || Array.isArray(j)) throw new Error('counters must be an object');
    const o = j as Record<string, unknown>;
    for (const k of Object.keys(o)) if (!['packets', 'connections', 'scanAlerts'].includes(k)) throw new Error(`counters have an unknown field "${k}"`);
    if (!isCount(o.packets) || !isCount(o.connections)) throw new Error('packets and connections must be non-negative integers');
    if (!Array.isArray(o.scanAlerts)) throw new Error('scanAlerts must be an array of [rule, count]');
    const scanAlerts = new Map<string, number>();
    for (const p of o.scanAlerts) {
      if (!Array.isArray(p) || p.length !== 2 || typeof p[0] !== 'string' || p[0] === '' || !isCount(p[1]) || scanAlerts.has(p[0])) {
        throw new Error(`scanAlerts: ${JSON.stringify(p)} is not a [rule, count] pair with a rule named once`);
      }
      scanAlerts.set(p[0], p[1]);
    }
    return { packets: o.packets, connections: o.connections, scanAlerts };
  },
  merge: (into: Counters, from: Counters): Counters => {
    const scanAlerts = new Map(into.scanAlerts);
    for (const [rule, n] of from.scanAlerts) scanAlerts.set(rule, (scanAlerts.get(rule) ?? 0) + n);
    return { packets: into.packets + from.packets, connections: into.connections + from.connections, scanAlerts };
  },
};
