/** The ids's state in its three scopes, with the codecs the shim moves it with. */
import { HTTP_FIRST, HTTP_OFF, type HttpStream, MAX_HEADER_BYTES } from './http.js';
import { RecentSet } from './recent.js';
import { MAX_RULES } from './rules.js';

/** An alert kept in the state it belongs to: a connection's or a host's. */
export interface StoredAlert {
  /** Timestamp of the packet that raised it. */
  ts: number;
  rule: string;
  detail: string;
}

/** TCP endpoint states, as Zeek's TCP analyzer names them. */
export const TCP_INACTIVE = 0;
export const TCP_SYN_SENT = 1;
export const TCP_SYN_ACK_SENT = 2;
export const TCP_PARTIAL = 3;
export const TCP_ESTABLISHED = 4;
export const TCP_CLOSED = 5;
export const TCP_RESET = 6;

/** One connection (per-flow state). "orig" is the endpoint that opened it, "resp" the other. */
export interface Conn {
  client: 'a' | 'b';
  first: number;
  last: number;
  origPackets: number;
  respPackets: number;
  /** Payload bytes, each counted once (TCP retransmissions are not). */
  origBytes: number;
  respBytes: number;
  /** TCP endpoint states (TCP_*); unused for UDP. */
  origState: number;
  respState: number;
  /** The originator sent a SYN (tells RSTOS0 from OTH once its state is RESET). */
  origSyn: boolean;
  /** Next expected TCP sequence number of each direction; -1 before any was seen. */
  origNext: number;
  respNext: number;
  /** Request parsing of the originator's stream. */
  http: HttpStream;
  httpRequests: number;
  /** Signature alerts of this connection, at most one per rule, in the order raised. */
  alerts: StoredAlert[];
}

/** Scan-detector state of one host (multi-flow state, keyed by the host's address). */
export interface HostRecord {
  /** As a source: "addr:port/proto" targets it tried, most recent kept. */
  targets: RecentSet | null;
  /** As a destination: addresses that tried it, most recent kept. */
  sources: RecentSet | null;
  /** When this host last raised each scan alert: at most one per window. */
  lastPortScan: number | null;
  lastDistributedScan: number | null;
  /** Scan alerts raised for this host: the earliest MAX_HOST_ALERTS, sorted. */
  alerts: StoredAlert[];
}

/** Instance-wide counters (all-flows state). */
export interface Counters {
  packets: number;
  connections: number;
  httpRequests: number;
  /** Alerts raised, by rule id. */
  alerts: Map<string, number>;
}

export const MAX_HOST_ALERTS = 32;
/** The largest scan threshold; a recent set holds at most one more key than its threshold. */
export const MAX_THRESHOLD = 10000;
const MAX_TRACKED = MAX_THRESHOLD + 1;
const MAX_DETAIL = 512;

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

function isTime(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function isSeq(v: unknown): v is number {
  return isCount(v) ? v <= 0xffffffff : v === -1;
}

function encodeAlerts(alerts: StoredAlert[]): unknown {
  return alerts.map((a) => [a.ts, a.rule, a.detail]);
}

function decodeAlerts(j: unknown, what: string, max: number): StoredAlert[] {
  if (!Array.isArray(j)) throw new Error(`${what} must be an array of [ts, rule, detail]`);
  if (j.length > max) throw new Error(`${what} holds ${j.length} alerts, more than ${max}`);
  return j.map((a) => {
    if (!Array.isArray(a) || a.length !== 3 || !isTime(a[0]) || typeof a[1] !== 'string' || a[1] === '' || typeof a[2] !== 'string' || a[2].length > MAX_DETAIL) {
      throw new Error(`${what}: ${JSON.stringify(a)} is not an alert [ts, rule, detail]`);
    }
    return { ts: a[0], rule: a[1], detail: a[2] };
  });
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

export function newConn(client: 'a' | 'b', ts: number): Conn {
  return {
    client, first: ts, last: ts, origPackets: 0, respPackets: 0, origBytes: 0, respBytes: 0,
    origState: TCP_INACTIVE, respState: TCP_INACTIVE, origSyn: false, origNext: -1, respNext: -1,
    http: { mode: HTTP_FIRST, skip: 0, pending: null }, httpRequests: 0, alerts: [],
  };
}

/**
 * Connections travel as arrays (a move carries one per flow): [client, first, last, origPackets,
 * respPackets, origBytes, respBytes, origState, respState, origSyn, origNext, respNext, httpMode,
 * httpSkip, httpPending (base64 or null), httpRequests, alerts [[ts, rule, detail]...]].
 */
export const connCodec = {
  encode: (c: Conn): unknown => [
    c.client, c.first, c.last, c.origPackets, c.respPackets, c.origBytes, c.respBytes, c.origState, c.respState, c.origSyn ? 1 : 0,
    c.origNext, c.respNext, c.http.mode, c.http.skip, c.http.pending ? c.http.pending.toString('base64') : null, c.httpRequests, encodeAlerts(c.alerts),
  ],
  decode: (j: unknown): Conn => {
    if (!Array.isArray(j) || j.length !== 17) throw new Error('connection state must be an array of 17 fields [client, first, last, ...]');
    const [client, first, last, origPackets, respPackets, origBytes, respBytes, origState, respState, origSyn, origNext, respNext,
      mode, skip, pending, httpRequests, alerts] = j;
    if (client !== 'a' && client !== 'b') throw new Error(`client must be "a" or "b", got ${JSON.stringify(client)}`);
    if (!isTime(first) || !isTime(last)) throw new Error('first and last must be timestamps');
    if (!isCount(origPackets) || !isCount(respPackets) || !isCount(origBytes) || !isCount(respBytes) || !isCount(httpRequests)) {
      throw new Error('packet, byte and request counters must be non-negative integers');
    }
    if (!isCount(origState) || origState > TCP_RESET || !isCount(respState) || respState > TCP_RESET) throw new Error(`TCP endpoint states must be 0-${TCP_RESET}`);
    if (origSyn !== 0 && origSyn !== 1) throw new Error('origSyn must be 0 or 1');
    if (!isSeq(origNext) || !isSeq(respNext)) throw new Error('sequence numbers must be 32-bit unsigned integers or -1');
    if (!isCount(mode) || mode > HTTP_OFF || !isCount(skip)) throw new Error(`HTTP mode must be 0-${HTTP_OFF} and skip a non-negative integer`);
    if (pending !== null && typeof pending !== 'string') throw new Error('HTTP pending bytes must be base64 or null');
    const buf = pending === null ? null : Buffer.from(pending, 'base64');
    if (buf && (buf.length === 0 || buf.length > MAX_HEADER_BYTES || buf.toString('base64') !== pending)) {
      throw new Error(`HTTP pending bytes must be 1-${MAX_HEADER_BYTES} bytes in base64`);
    }
    return {
      client, first, last, origPackets, respPackets, origBytes, respBytes, origState, respState, origSyn: origSyn === 1, origNext, respNext,
      http: { mode, skip, pending: buf }, httpRequests, alerts: decodeAlerts(alerts, 'alerts', MAX_RULES),
    };
  },
};

export function newHost(): HostRecord {
  return { targets: null, sources: null, lastPortScan: null, lastDistributedScan: null, alerts: [] };
}

function maxOrNull(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.max(a, b);
}

function mergeSets(a: RecentSet | null, b: RecentSet | null): RecentSet | null {
  return a === null ? b : b === null ? a : RecentSet.merge(a, b, MAX_TRACKED);
}

export const hostCodec = {
  encode: (h: HostRecord): unknown => ({
    targets: h.targets?.encode() ?? null,
    sources: h.sources?.encode() ?? null,
    lastPortScan: h.lastPortScan,
    lastDistributedScan: h.lastDistributedScan,
    alerts: encodeAlerts(h.alerts),
  }),
  decode: (j: unknown): HostRecord => {
    if (j === null || typeof j !== 'object' || Array.isArray(j)) throw new Error('host state must be an object');
    const o = j as Record<string, unknown>;
    const known = ['targets', 'sources', 'lastPortScan', 'lastDistributedScan', 'alerts'];
    for (const k of Object.keys(o)) if (!known.includes(k)) throw new Error(`host state has an unknown field "${k}"`);
    for (const k of ['lastPortScan', 'lastDistributedScan']) if (o[k] !== null && !isTime(o[k])) throw new Error(`${k} must be a timestamp or null`);
    const alerts = decodeAlerts(o.alerts, 'alerts', MAX_HOST_ALERTS);
    for (let i = 1; i < alerts.length; i++) if (compareAlerts(alerts[i - 1], alerts[i]) > 0) throw new Error('host alerts must be sorted');
    return {
      targets: o.targets === null ? null : RecentSet.decode(o.targets, 'targets', MAX_TRACKED),
      sources: o.sources === null ? null : RecentSet.decode(o.sources, 'sources', MAX_TRACKED),
      lastPortScan: o.lastPortScan as number | null,
      lastDistributedScan: o.lastDistributedScan as number | null,
      alerts,
    };
  },
  merge: (into: HostRecord, from: HostRecord): HostRecord => {
    const alerts = [...into.alerts];
    for (const a of from.alerts) {
      if (!alerts.some((b) => compareAlerts(a, b) === 0)) insertAlert(alerts, a, MAX_HOST_ALERTS);
    }
    return {
      targets: mergeSets(into.targets, from.targets),
      sources: mergeSets(into.sources, from.sources),
      lastPortScan: maxOrNull(into.lastPortScan, from.lastPortScan),
      lastDistributedScan: maxOrNull(into.lastDistributedScan, from.lastDistributedScan),
      alerts,
    };
  },
};

export const countersCodec = {
  init: (): Counters => ({ packets: 0, connections: 0, httpRequests: 0, alerts: new Map() }),
  encode: (c: Counters): unknown => ({
    packets: c.packets, connections: c.connections, httpRequests: c.httpRequests,
    alerts: [...c.alerts].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0)),
  }),
  decode: (j: unknown): Counters => {
    if (j === null || typeof j !== 'object' || Array.isArray(j)) throw new Error('counters must be an object');
    const o = j as Record<string, unknown>;
    for (const k of Object.keys(o)) if (!['packets', 'connections', 'httpRequests', 'alerts'].includes(k)) throw new Error(`counters have an unknown field "${k}"`);
    if (!isCount(o.packets) || !isCount(o.connections) || !isCount(o.httpRequests)) throw new Error('packets, connections and httpRequests must be non-negative integers');
    if (!Array.isArray(o.alerts)) throw new Error('alerts must be an array of [rule, count]');
    const alerts = new Map<string, number>();
    for (const p of o.alerts) {
      if (!Array.isArray(p) || p.length !== 2 || typeof p[0] !== 'string' || p[0] === '' || !isCount(p[1]) || alerts.has(p[0])) {
        throw new Error(`alerts: ${JSON.stringify(p)} is not a [rule, count] pair with a rule named once`);
      }
      alerts.set(p[0], p[1]);
    }
    return { packets: o.packets, connections: o.connections, httpRequests: o.httpRequests, alerts };
  },
  merge: (into: Counters, from: Counters): Counters => {
    const alerts = new Map(into.alerts);
    for (const [rule, n] of from.alerts) alerts.set(rule, (alerts.get(rule) ?? 0) + n);
    return {
      packets: into.packets + from.packets,
      connections: into.connections + from.connections,
      httpRequests: into.httpRequests + from.httpRequests,
      alerts,
    };
  },
};
