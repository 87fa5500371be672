import test from 'ava';
import type { MultiFlowTable } from '../../shim/definition.js';
import { RecentSet } from './recent.js';
import { hostCodec, provisionalOf, recordAttempt, type ScanSettings, targetKey, withdrawAttempt } from './scan.js';
import { type HostRecord, LOG_MAX, type StoredAlert } from './state.js';

function table(): MultiFlowTable<HostRecord> & { map: Map<string, HostRecord> } {
  const map = new Map<string, HostRecord>();
  return {
    map,
    get: (k) => map.get(k),
    set: (k, v) => void map.set(k, v),
    entries: () => map.entries(),
    get size() {
      return map.size;
    },
  };
}

const settings: ScanSettings = { portScanThreshold: 3, distributedScanThreshold: 2, scanWindow: 10 };

type Try = [string, string, number, number];

/** Records the attempts in the order given; `raised` lists every host's alerts, final and provisional. */
function attempts(list: Try[], s = settings) {
  const hosts = table();
  const final: StoredAlert[] = [];
  for (const [src, dst, port, ts] of list) recordAttempt(hosts, src, dst, port, 'tcp', ts, s, (a) => final.push(a));
  const raised: [string, StoredAlert][] = [];
  for (const [host, h] of hosts.map) for (const a of [...h.alerts, ...provisionalOf(h)]) raised.push([host, a]);
  raised.sort((x, y) => x[1].ts - y[1].ts || (x[0] < y[0] ? -1 : 1));
  return { hosts, raised, final };
}

/** A deterministic shuffle in which no attempt moves more than `reach` places. */
function jumble<T>(list: T[], seed: number, reach: number): T[] {
  let x = seed;
  const rand = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const keyed = list.map((v, i) => ({ v, k: i + rand() * reach }));
  return keyed.sort((a, b) => a.k - b.k).map((e) => e.v);
}

test('target keys', (t) => {
  t.is(targetKey('10.0.0.1', 80, 'tcp'), '10.0.0.1:80/tcp');
  t.is(targetKey('2001:db8::1', 53, 'udp'), '[2001:db8::1]:53/udp');
});

test('a recent set keeps the most recent keys, oldest first, with the latest time per key', (t) => {
  const r = new RecentSet();
  r.touch('a', 1, 3);
  r.touch('b', 2, 3);
  r.touch('a', 3, 3);
  r.touch('b', 1.5, 3); // older than b's latest: no change
  t.deepEqual(r.encode(), [['b', 2], ['a', 3]]);
  r.touch('c', 4, 3);
  r.touch('d', 5, 3);
  t.deepEqual(r.encode(), [['a', 3], ['c', 4], ['d', 5]]);
  r.touch('e', 3.5, 3); // out of time order: sorted in, then the oldest leaves
  t.deepEqual(r.encode(), [['e', 3.5], ['c', 4], ['d', 5]]);
  t.true(r.allAfter(3, 3.4));
  t.false(r.allAfter(3, 3.5));
  t.false(r.allAfter(4, 0));
});

test('recent sets merge the same in any order', (t) => {
  const sets = [
    [['a', 1], ['b', 5], ['c', 7]],
    [['b', 2], ['d', 3], ['a', 8]],
    [['e', 4], ['c', 6]],
  ].map((pairs) => new RecentSet(pairs as [string, number][]));
  const expected = [['e', 4], ['b', 5], ['c', 7], ['a', 8]];
  for (const [x, y, z] of [[0, 1, 2], [2, 1, 0], [1, 0, 2], [1, 2, 0]]) {
    t.deepEqual(RecentSet.merge(RecentSet.merge(sets[x], sets[y], 4), sets[z], 4).encode(), expected);
    t.deepEqual(RecentSet.merge(sets[x], RecentSet.merge(sets[y], sets[z], 4), 4).encode(), expected);
  }
});

test('PortScan when a source tries more than the threshold of distinct targets within the window', (t) => {
  const { hosts, raised } = attempts([
    ['10.0.0.9', '10.0.0.1', 22, 100],
    ['10.0.0.9', '10.0.0.1', 22, 101], // the same target again
    ['10.0.0.9', '10.0.0.1', 23, 102],
    ['10.0.0.9', '10.0.0.2', 22, 103],
    ['10.0.0.9', '10.0.0.3', 22, 104],
  ]);
  const alert = { ts: 104, rule: 'PortScan', detail: 'more than 3 distinct targets within 10 s (latest 4: 3 hosts, 2 ports)' };
  t.deepEqual(raised, [['10.0.0.9', alert]]);
  t.deepEqual(hostCodec.encode(hosts.map.get('10.0.0.9')!), {
    targets: {
      recent: null, last: null,
      log: [['10.0.0.1:22/tcp', 100], ['10.0.0.1:22/tcp', 101], ['10.0.0.1:23/tcp', 102], ['10.0.0.2:22/tcp', 103], ['10.0.0.3:22/tcp', 104]],
      provisional: [[104, 'PortScan', alert.detail]],
    },
    sources: null, alerts: [],
  });
});

test('targets older than the window do not count', (t) => {
  const { raised } = attempts([
    ['10.0.0.9', '10.0.0.1', 1, 100],
    ['10.0.0.9', '10.0.0.1', 2, 105],
    ['10.0.0.9', '10.0.0.1', 3, 106],
    ['10.0.0.9', '10.0.0.1', 4, 110], // 100 is exactly one window back: out
    ['10.0.0.9', '10.0.0.1', 5, 110.5],
  ]);
  t.deepEqual(raised.map(([h, a]) => [h, a.rule, a.ts]), [['10.0.0.9', 'PortScan', 110.5]]);
});

test('once per window per host, then again in a later window', (t) => {
  const list: [string, string, number, number][] = [];
  for (let i = 0; i < 30; i++) list.push(['10.0.0.9', '10.0.0.1', 1000 + i, 100 + i]);
  const { raised } = attempts(list);
  t.deepEqual(raised.map(([, a]) => a.ts), [103, 113, 123]);
});

test('DistributedScan when a destination is tried by more than the threshold of distinct sources', (t) => {
  const { raised } = attempts([
    ['192.0.2.1', '10.0.0.1', 80, 1],
    ['192.0.2.2', '10.0.0.1', 80, 2],
    ['192.0.2.2', '10.0.0.1', 443, 3],
    ['192.0.2.3', '10.0.0.1', 80, 4],
  ]);
  t.deepEqual(raised, [['10.0.0.1', { ts: 4, rule: 'DistributedScan', detail: 'more than 2 distinct sources within 10 s' }]]);
});

test('host records decode what they encode, merge in any order, and keep alerts once', (t) => {
  const a = attempts([['10.0.0.9', '10.0.0.1', 1, 1], ['10.0.0.9', '10.0.0.1', 2, 2], ['10.0.0.9', '10.0.0.1', 3, 3], ['10.0.0.9', '10.0.0.1', 4, 4]]);
  const b = attempts([['10.0.0.9', '10.0.0.2', 1, 2.5], ['10.0.0.9', '10.0.0.1', 1, 5]]);
  const ha = hostCodec.decode(JSON.parse(JSON.stringify(hostCodec.encode(a.hosts.map.get('10.0.0.9')!))));
  const hb = hostCodec.decode(JSON.parse(JSON.stringify(hostCodec.encode(b.hosts.map.get('10.0.0.9')!))));
  const ab = hostCodec.encode(hostCodec.merge(hostCodec.decode(hostCodec.encode(ha)), hb));
  const ba = hostCodec.encode(hostCodec.merge(hostCodec.decode(hostCodec.encode(hb)), ha));
  t.deepEqual(ab, ba);
  const portScan = (ts: number, detail: string) => ({ ts, rule: 'PortScan', detail: `more than 3 distinct targets within 10 s (latest 4: ${detail})` });
  t.deepEqual(ab, {
    targets: {
      recent: null, last: null,
      log: [['10.0.0.1:1/tcp', 1], ['10.0.0.1:2/tcp', 2], ['10.0.0.2:1/tcp', 2.5], ['10.0.0.1:3/tcp', 3], ['10.0.0.1:4/tcp', 4], ['10.0.0.1:1/tcp', 5]],
      provisional: [[4, 'PortScan', portScan(4, '1 host, 4 ports').detail]],
    },
    sources: null, alerts: [],
  });
  // A merge raises nothing of its own; the next attempt recomputes the alerts over all the attempts
  // (the 2.5 attempt makes the alert earlier), as one record of all of them would have.
  const hosts = table();
  hosts.set('10.0.0.9', hostCodec.decode(ab));
  t.deepEqual(provisionalOf(hosts.get('10.0.0.9')!), [portScan(4, '1 host, 4 ports')]);
  recordAttempt(hosts, '10.0.0.9', '10.0.0.3', 1, 'tcp', 6, settings, () => {});
  t.deepEqual(provisionalOf(hosts.get('10.0.0.9')!), [portScan(3, '2 hosts, 3 ports')]);
  // Merging a record with a copy of itself changes nothing: no duplicated attempt or alert.
  t.deepEqual(hostCodec.encode(hostCodec.merge(hostCodec.decode(ab), hostCodec.decode(ab))), ab);
});

test('contacts at the same time give the same set in any order', (t) => {
  const x = new RecentSet();
  const y = new RecentSet();
  for (const k of ['d', 'b', 'a', 'c']) x.touch(k, 5, 3);
  for (const k of ['a', 'c', 'd', 'b']) y.touch(k, 5, 3);
  t.deepEqual(x.encode(), [['b', 5], ['c', 5], ['d', 5]]);
  t.deepEqual(y.encode(), x.encode());
  x.touch('e', 6, 3);
  y.touch('e', 6, 3);
  t.deepEqual(y.encode(), [['c', 5], ['d', 5], ['e', 6]]);
  t.deepEqual(new RecentSet([['b', 1], ['a', 1]]).encode(), [['a', 1], ['b', 1]]);
});

test('attempts arriving out of time order raise the same alerts, at the same times, with the same details', (t) => {
  const list: Try[] = [];
  // A scanner probing ports of three hosts in bursts, a second source, retries, and ties in time.
  for (let i = 0; i < 400; i++) {
    list.push(['10.0.0.9', `10.0.1.${i % 3}`, 1000 + (i % 37), 100 + Math.floor(i / 4) * 0.5]);
    if (i % 5 === 0) list.push(['10.0.0.8', '10.0.1.1', 80, 100 + i * 0.1]);
  }
  const s: ScanSettings = { portScanThreshold: 20, distributedScanThreshold: 1, scanWindow: 7 };
  const inOrder = attempts(list, s).raised;
  t.true(inOrder.length > 10, `${inOrder.length} alerts`);
  for (let seed = 1; seed <= 6; seed++) {
    t.deepEqual(attempts(jumble(list, seed, seed * 40), s).raised, inOrder, `seed ${seed}`);
  }
});

test('a withdrawn attempt counts as never made', (t) => {
  const list: Try[] = [['10.0.0.9', '10.0.0.1', 1, 1], ['10.0.0.9', '10.0.0.1', 2, 2], ['10.0.0.9', '10.0.0.1', 3, 3]];
  const hosts = table();
  for (const [src, dst, port, ts] of list) recordAttempt(hosts, src, dst, port, 'tcp', ts, settings, () => {});
  recordAttempt(hosts, '10.0.0.9', '10.0.0.5', 53, 'udp', 2.5, settings, () => {});
  t.is(provisionalOf(hosts.map.get('10.0.0.9')!).length, 1);
  withdrawAttempt(hosts, '10.0.0.9', '10.0.0.5', 53, 'udp', 2.5, settings);
  t.deepEqual(provisionalOf(hosts.map.get('10.0.0.9')!), []);
  t.deepEqual(hostCodec.encode(hosts.map.get('10.0.0.5')!), { targets: null, sources: { recent: null, last: null, log: [], provisional: [] }, alerts: [] });
});

test('a long log folds its oldest attempts: their alerts become final and are counted once', (t) => {
  const list: Try[] = [];
  for (let i = 0; i < 3 * LOG_MAX; i++) list.push(['10.0.0.9', '10.0.0.1', i, i * 0.25]);
  const { hosts, raised, final } = attempts(list);
  const h = hosts.map.get('10.0.0.9')!;
  const provisional = provisionalOf(h);
  // Once per 10 s window, from the fourth attempt on.
  t.deepEqual([...final, ...provisional].map((a) => a.ts), Array.from({ length: 77 }, (_, i) => 0.75 + 10 * i));
  t.true(h.targets!.log.length <= LOG_MAX + 256);
  t.true(final.length > 32, 'more final alerts than a host keeps');
  // The host keeps the earliest 32 final ones (the counters count them all).
  t.deepEqual(h.alerts, final.slice(0, 32));
  t.deepEqual(raised.map(([, a]) => a), [...final.slice(0, 32), ...provisional]);
  // The same attempts out of order (within the log) give the same alerts.
  t.deepEqual(attempts(jumble(list, 3, 200)).raised.map(([, a]) => a.ts), raised.map(([, a]) => a.ts));
});
