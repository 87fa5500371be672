/**
 * The scan detector, after Zeek's scan policy but over every connection attempt (a TCP SYN, the
 * earliest packet of a UDP flow) rather than failed ones only: a source that tries more than
 * `portScanThreshold` distinct (host, port) targets within `scanWindow` seconds of packet time
 * raises PortScan; a destination tried by more than `distributedScanThreshold` distinct sources
 * raises DistributedScan. Each host raises each alert at most once per window.
 *
 * Attempts count in capture-time order (then key order), not arrival order: each detector keeps
 * its newest attempts in a log (state.ts ScanLog) and places a late one among them exactly, so the
 * alerts, their times and details do not depend on the order packets arrived in. An attempt can
 * also be withdrawn (a UDP flow whose first packet turns out to be another one). A log's alerts are
 * computed when they are read (outputs, a move), from its checkpoint.
 */
import type { MultiFlowTable } from '../../shim/definition.js';
import { RecentSet } from './recent.js';
import {
  type Attempt, clipDetail, compareAlerts, compareAttempts, decodeAlerts, encodeAlerts, type HostRecord, insertAlert, isTime, LOG_DECODE_MAX, LOG_MAX,
  MAX_HOST_ALERTS, MAX_TRACKED, newHost, newScanLog, type ScanLog, type StoredAlert,
} from './state.js';

export interface ScanSettings {
  portScanThreshold: number;
  distributedScanThreshold: number;
  scanWindow: number;
}

/** Folding waits for this many attempts beyond LOG_MAX, so that it moves the log in batches. */
const FOLD_BATCH = 256;

type Role = 'targets' | 'sources';

/** "10.0.0.1:80/tcp", "[2001:db8::1]:80/tcp". */
export function targetKey(ip: string, port: number, proto: string): string {
  return ip.includes(':') ? `[${ip}]:${port}/${proto}` : `${ip}:${port}/${proto}`;
}

function count(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}

function portScanDetail(targets: RecentSet, s: ScanSettings): string {
  const addrs = new Set<string>();
  const ports = new Set<string>();
  for (const k of targets.keys()) {
    const colon = k.lastIndexOf(':');
    addrs.add(k.slice(0, colon));
    ports.add(k.slice(colon + 1));
  }
  return `more than ${s.portScanThreshold} distinct targets within ${s.scanWindow} s (latest ${targets.size}: ${count(addrs.size, 'host')}, ${count(ports.size, 'port')})`;
}

/** Takes one attempt in time order: true when it raises the role's alert. */
function step(set: RecentSet, last: number | null, [key, ts]: Attempt, cap: number, window: number): boolean {
  set.touch(key, ts, cap);
  return set.allAfter(cap, ts - window) && (last === null || ts >= last + window);
}

function cap(role: Role, s: ScanSettings): number {
  return (role === 'targets' ? s.portScanThreshold : s.distributedScanThreshold) + 1;
}

function makeAlert(role: Role, set: RecentSet, ts: number, s: ScanSettings): StoredAlert {
  return role === 'targets'
    ? { ts, rule: 'PortScan', detail: clipDetail(portScanDetail(set, s)) }
    : { ts, rule: 'DistributedScan', detail: `more than ${s.distributedScanThreshold} distinct sources within ${s.scanWindow} s` };
}

/**
 * Takes attempts in time order from a state (`set`, and when its last alert was raised), adding
 * the alerts they raise to `alerts`; returns the new last alert time. Attempts at the same time
 * may come in any order: the first that makes the condition hold raises the alert (the condition
 * only grows with them), and the others at that time refresh its detail, so that it describes
 * the set after all of them.
 */
function run(set: RecentSet, last: number | null, attempts: Attempt[], to: number, role: Role, s: ScanSettings, alerts: StoredAlert[]): number | null {
  const c = cap(role, s);
  for (let i = 0; i < to; i++) {
    const a = attempts[i];
    const ts = a[1];
    if (step(set, last, a, c, s.scanWindow)) {
      last = ts;
      alerts.push(makeAlert(role, set, ts, s));
    } else if (role === 'targets' && last === ts && alerts.length > 0 && alerts[alerts.length - 1].ts === ts) {
      alerts[alerts.length - 1] = makeAlert(role, set, ts, s);
    }
  }
  return last;
}

/** True when a log cannot raise an alert: it holds fewer attempts than the alert needs distinct keys. */
function quiet(log: ScanLog, role: Role, s: ScanSettings): boolean {
  return log.recent === null && log.log.length < cap(role, s);
}

/** The alerts a log's attempts raise, recomputed from the checkpoint when they are stale. */
function provisional(log: ScanLog, role: Role): StoredAlert[] {
  if (log.provisional === null) {
    const alerts: StoredAlert[] = [];
    run(log.recent ? log.recent.clone() : new RecentSet(), log.last, log.log, log.log.length, role, log.settings!, alerts);
    log.provisional = alerts;
  }
  return log.provisional;
}

/** After a change to a log: its alerts are recomputed when next read. */
function changed(log: ScanLog, role: Role, s: ScanSettings): void {
  log.settings = s;
  log.provisional = quiet(log, role, s) ? [] : null;
}

/**
 * Folds the oldest attempts into the checkpoint once the log is long (never splitting attempts
 * of one time): the alerts they raise become final.
 */
function fold(h: HostRecord, log: ScanLog, role: Role, s: ScanSettings, onFinal: (a: StoredAlert) => void): void {
  const entries = log.log;
  if (entries.length <= LOG_MAX + FOLD_BATCH) return;
  let n = entries.length - LOG_MAX;
  while (n < entries.length && entries[n][1] === entries[n - 1][1]) n++;
  if (n === entries.length) return;
  log.recent ??= new RecentSet();
  const final: StoredAlert[] = [];
  log.last = run(log.recent, log.last, entries, n, role, s, final);
  for (const alert of final) {
    insertAlert(h.alerts, alert, MAX_HOST_ALERTS);
    onFinal(alert);
  }
  entries.splice(0, n);
  changed(log, role, s);
}

/** Index of the first attempt not before `a`. */
function lowerBound(log: Attempt[], a: Attempt): number {
  let lo = 0;
  let hi = log.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compareAttempts(log[mid], a) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function addAttempt(h: HostRecord, role: Role, key: string, ts: number, s: ScanSettings, onFinal: (a: StoredAlert) => void): void {
  const log = (h[role] ??= newScanLog());
  const a: Attempt = [key, ts];
  const entries = log.log;
  const n = entries.length;
  if (n > 0 && ts < entries[0][1] && log.recent !== null) {
    // Older than every attempt still in the log: it only counts as a contact.
    log.recent.touch(key, ts, cap(role, s));
  } else if (n === 0 || compareAttempts(entries[n - 1], a) <= 0) {
    entries.push(a);
  } else {
    entries.splice(lowerBound(entries, a), 0, a);
  }
  changed(log, role, s);
  fold(h, log, role, s, onFinal);
}

function withdrawFrom(h: HostRecord | undefined, role: Role, key: string, ts: number, s: ScanSettings): void {
  const log = h?.[role];
  if (!log) return;
  const a: Attempt = [key, ts];
  const i = lowerBound(log.log, a);
  if (i === log.log.length || compareAttempts(log.log[i], a) !== 0) return; // folded already, or on another instance
  log.log.splice(i, 1);
  changed(log, role, s);
}

function hostRecord(hosts: MultiFlowTable<HostRecord>, ip: string): HostRecord {
  let h = hosts.get(ip);
  if (!h) {
    h = newHost();
    hosts.set(ip, h);
  }
  return h;
}

/**
 * Records that `src` tried `dst`:`port` over `proto` at `ts`; `onFinal` sees each alert that
 * becomes final (its attempt left the log).
 */
export function recordAttempt(hosts: MultiFlowTable<HostRecord>, src: string, dst: string, port: number, proto: string, ts: number,
  s: ScanSettings, onFinal: (a: StoredAlert) => void): void {
  addAttempt(hostRecord(hosts, src), 'targets', targetKey(dst, port, proto), ts, s, onFinal);
  addAttempt(hostRecord(hosts, dst), 'sources', src, ts, s, onFinal);
}

/** Withdraws an attempt `recordAttempt` recorded, while it is still in the logs. */
export function withdrawAttempt(hosts: MultiFlowTable<HostRecord>, src: string, dst: string, port: number, proto: string, ts: number, s: ScanSettings): void {
  withdrawFrom(hosts.get(src), 'targets', targetKey(dst, port, proto), ts, s);
  withdrawFrom(hosts.get(dst), 'sources', src, ts, s);
}

/** The alerts a host's logs raise; its final ones are in `h.alerts`. */
export function provisionalOf(h: HostRecord): StoredAlert[] {
  return [...(h.targets ? provisional(h.targets, 'targets') : []), ...(h.sources ? provisional(h.sources, 'sources') : [])];
}

function encodeScanLog(log: ScanLog, role: Role): unknown {
  return { recent: log.recent?.encode() ?? null, last: log.last, log: log.log, provisional: encodeAlerts(provisional(log, role)) };
}

function decodeScanLog(j: unknown, what: string): ScanLog {
  if (j === null || typeof j !== 'object' || Array.isArray(j)) throw new Error(`${what} must be an object {recent, last, log, provisional}`);
  const o = j as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!['recent', 'last', 'log', 'provisional'].includes(k)) throw new Error(`${what} has an unknown field "${k}"`);
  if (o.last !== null && !isTime(o.last)) throw new Error(`${what}.last must be a timestamp or null`);
  if (!Array.isArray(o.log)) throw new Error(`${what}.log must be an array of [key, time]`);
  if (o.log.length > LOG_DECODE_MAX) throw new Error(`${what}.log holds ${o.log.length} attempts, more than ${LOG_DECODE_MAX}`);
  const log = o.log.map((e): Attempt => {
    if (!Array.isArray(e) || e.length !== 2 || typeof e[0] !== 'string' || !isTime(e[1])) throw new Error(`${what}.log: ${JSON.stringify(e)} is not a [key, time] attempt`);
    return [e[0], e[1]];
  });
  for (let i = 1; i < log.length; i++) if (compareAttempts(log[i - 1], log[i]) > 0) throw new Error(`${what}.log must be sorted by time, then key`);
  const alerts = decodeAlerts(o.provisional, `${what}.provisional`, LOG_DECODE_MAX);
  for (let i = 1; i < alerts.length; i++) if (compareAlerts(alerts[i - 1], alerts[i]) > 0) throw new Error(`${what}.provisional must be sorted`);
  return {
    recent: o.recent === null || o.recent === undefined ? null : RecentSet.decode(o.recent, `${what}.recent`, MAX_TRACKED),
    last: o.last as number | null,
    log,
    provisional: alerts,
    settings: null,
  };
}

/** Sorted unions without repeats. */
function unionSorted<T>(x: T[], y: T[], compare: (a: T, b: T) => number): T[] {
  const out: T[] = [];
  let i = 0;
  let j = 0;
  while (i < x.length || j < y.length) {
    const c = i === x.length ? 1 : j === y.length ? -1 : compare(x[i], y[j]);
    const e = c <= 0 ? x[i++] : y[j++];
    if (c === 0) j++;
    if (out.length === 0 || compare(out[out.length - 1], e) !== 0) out.push(e);
  }
  return out;
}

function maxOrNull(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.max(a, b);
}

/**
 * The union of two scan logs: checkpoints merged as sets, logs and alerts as sorted unions (an
 * attempt or alert found in both counts once). A merge raises no alert of its own: the next
 * attempt the merged log takes has its alerts recomputed over all its attempts.
 */
function mergeScanLogs(x: ScanLog | null, y: ScanLog | null, role: Role): ScanLog | null {
  if (x === null || y === null) return x ?? y;
  const log = unionSorted(x.log, y.log, compareAttempts);
  let recent = x.recent === null ? y.recent : y.recent === null ? x.recent : RecentSet.merge(x.recent, y.recent, MAX_TRACKED);
  if (log.length > LOG_DECODE_MAX) {
    // Beyond what a log may hold: the oldest are kept as contacts only.
    recent ??= new RecentSet();
    for (const [k, t] of log.splice(0, log.length - LOG_DECODE_MAX)) recent.touch(k, t, MAX_TRACKED);
  }
  const alerts = unionSorted(provisional(x, role), provisional(y, role), compareAlerts).slice(0, LOG_DECODE_MAX);
  return { recent, last: maxOrNull(x.last, y.last), log, provisional: alerts, settings: null };
}

export const hostCodec = {
  encode: (h: HostRecord): unknown => ({
    targets: h.targets ? encodeScanLog(h.targets, 'targets') : null,
    sources: h.sources ? encodeScanLog(h.sources, 'sources') : null,
    alerts: encodeAlerts(h.alerts),
  }),
  decode: (j: unknown): HostRecord => {
    if (j === null || typeof j !== 'object' || Array.isArray(j)) throw new Error('host state must be an object');
    const o = j as Record<string, unknown>;
    for (const k of Object.keys(o)) if (!['targets', 'sources', 'alerts'].includes(k)) throw new Error(`host state has an unknown field "${k}"`);
    const alerts = decodeAlerts(o.alerts, 'alerts', MAX_HOST_ALERTS);
    for (let i = 1; i < alerts.length; i++) if (compareAlerts(alerts[i - 1], alerts[i]) > 0) throw new Error('host alerts must be sorted');
    return {
      targets: o.targets === null || o.targets === undefined ? null : decodeScanLog(o.targets, 'targets'),
      sources: o.sources === null || o.sources === undefined ? null : decodeScanLog(o.sources, 'sources'),
      alerts,
    };
  },
  merge: (into: HostRecord, from: HostRecord): HostRecord => {
    const alerts = [...into.alerts];
    for (const a of from.alerts) {
      if (!alerts.some((b) => compareAlerts(a, b) === 0)) insertAlert(alerts, a, MAX_HOST_ALERTS);
    }
    return { targets: mergeScanLogs(into.targets, from.targets, 'targets'), sources: mergeScanLogs(into.sources, from.sources, 'sources'), alerts };
  },
};
