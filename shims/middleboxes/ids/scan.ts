/**
 * The scan detector, after Zeek's scan policy but over every connection attempt (a TCP SYN, the
 * first packet of a UDP flow) rather than failed ones only: a source that tries more than
 * `portScanThreshold` distinct (host, port) targets within `scanWindow` seconds of packet time
 * raises PortScan; a destination tried by more than `distributedScanThreshold` distinct sources
 * raises DistributedScan. Each host raises each alert at most once per window, and keeps the
 * alerts it raised in its own state so that moves and merges carry them without duplicates.
 */
import type { MultiFlowTable } from '../../shim/definition.js';
import { RecentSet } from './recent.js';
import { clipDetail, type HostRecord, insertAlert, MAX_HOST_ALERTS, newHost, type StoredAlert } from './state.js';

export interface ScanSettings {
  portScanThreshold: number;
  distributedScanThreshold: number;
  scanWindow: number;
}

/** "10.0.0.1:80/tcp", "[2001:db8::1]:80/tcp". */
export function targetKey(ip: string, port: number, proto: string): string {
  return ip.includes(':') ? `[${ip}]:${port}/${proto}` : `${ip}:${port}/${proto}`;
}

function hostRecord(hosts: MultiFlowTable<HostRecord>, ip: string): HostRecord {
  let h = hosts.get(ip);
  if (!h) {
    h = newHost();
    hosts.set(ip, h);
  }
  return h;
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

/**
 * Records that `src` tried `dst`:`port` over `proto` at `ts`, and raises the scan alerts this
 * completes; `onAlert` sees each one raised.
 */
export function recordAttempt(hosts: MultiFlowTable<HostRecord>, src: string, dst: string, port: number, proto: string, ts: number,
  s: ScanSettings, onAlert: (host: string, alert: StoredAlert) => void): void {
  const from = hostRecord(hosts, src);
  const portCap = s.portScanThreshold + 1;
  from.targets ??= new RecentSet();
  from.targets.touch(targetKey(dst, port, proto), ts, portCap);
  if (from.targets.allAfter(portCap, ts - s.scanWindow) && (from.lastPortScan === null || ts >= from.lastPortScan + s.scanWindow)) {
    from.lastPortScan = ts;
    const alert = { ts, rule: 'PortScan', detail: clipDetail(portScanDetail(from.targets, s)) };
    insertAlert(from.alerts, alert, MAX_HOST_ALERTS);
    onAlert(src, alert);
  }
  const to = hostRecord(hosts, dst);
  const sourceCap = s.distributedScanThreshold + 1;
  to.sources ??= new RecentSet();
  to.sources.touch(src, ts, sourceCap);
  if (to.sources.allAfter(sourceCap, ts - s.scanWindow) && (to.lastDistributedScan === null || ts >= to.lastDistributedScan + s.scanWindow)) {
    to.lastDistributedScan = ts;
    const alert = { ts, rule: 'DistributedScan', detail: `more than ${s.distributedScanThreshold} distinct sources within ${s.scanWindow} s` };
    insertAlert(to.alerts, alert, MAX_HOST_ALERTS);
    onAlert(dst, alert);
  }
}
