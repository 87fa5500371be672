import test from 'ava';
import type { MultiFlowTable } from '../../shim/definition.js';
import { RecentSet } from './recent.js';
import { recordAttempt, type ScanSettings, targetKey } from './scan.js';
import { type HostRecord, hostCodec, type StoredAlert } from './state.js';

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

function attempts(list: [string, string, number, number][], s = settings) {
  const hosts = table();
  const raised: [string, StoredAlert][] = [];
  for (const [src, dst, port, ts] of list) recordAttempt(hosts, src, dst, port, 'tcp', ts, s, (h, a) => raised.push([h, a]));
  return { hosts, raised };
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
    targets: [['10.0.0.1:22/tcp', 101], ['10.0.0.1:23/tcp', 102], ['10.0.0.2:22/tcp', 103], ['10.0.0.3:22/tcp', 104]],
    sources: null, lastPortScan: 104, lastDistributedScan: null, alerts: [[104, 'PortScan', alert.detail]],
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
  t.deepEqual(ab, {
    targets: [['10.0.0.1:2/tcp', 2], ['10.0.0.2:1/tcp', 2.5], ['10.0.0.1:3/tcp', 3], ['10.0.0.1:4/tcp', 4], ['10.0.0.1:1/tcp', 5]],
    sources: null, lastPortScan: 4, lastDistributedScan: null,
    alerts: [[4, 'PortScan', 'more than 3 distinct targets within 10 s (latest 4: 1 host, 4 ports)']],
  });
  // Merging a record with a copy of itself changes nothing: no duplicated alert.
  t.deepEqual(hostCodec.encode(hostCodec.merge(hostCodec.decode(ab), hostCodec.decode(ab))), ab);
});
