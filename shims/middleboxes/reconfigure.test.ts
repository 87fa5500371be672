/**
 * A configuration change on a running instance (put-config), middlebox by middlebox: what it does
 * to state already there, as each README says. The ids on a real capture: requests parsed after
 * the change meet the new rules and those before it the old ones.
 */
import test from 'ava';
import { fileURLToPath } from 'node:url';
import { readCaptureFile } from '../flow/pcap.js';
import { call } from '../shim/in-process.js';
import { MiddleboxInstance } from '../shim/runtime.js';
import { ids, type IdsAlert } from './ids/ids.js';
import { monitor } from './monitor/monitor.js';
import { fromCapture, natInstance, udpFrame, wire } from './nat/testing.js';
import { re } from './re/re.js';

const trace = (name: string) => readCaptureFile(fileURLToPath(new URL(`../../../data/traces/${name}`, import.meta.url))).packets;
const http = trace('tryzeek_http.pcap');
const EVERY_GET = ['alert id=every-get msg="a GET request" method=GET'];

function idsRun(rules: unknown, split?: { at: number; rules: unknown }): MiddleboxInstance {
  const mb = new MiddleboxInstance(ids, rules === undefined ? {} : { rules });
  http.forEach((p, i) => {
    if (split && i === split.at) call(mb, { type: 'put-config', id: 1, values: { rules: split.rules }, generation: 2 });
    mb.receive(fromCapture(p, i + 1));
  });
  return mb;
}
const alertsOf = (mb: MiddleboxInstance, rule?: string) => (mb.outputs().alerts as IdsAlert[]).filter((a) => (rule ? a.rule === rule : true));

test('ids: new rules apply to requests parsed after the change; alerts raised before it stay', (t) => {
  const at = Math.ceil(http.length / 2);
  const splitTs = http[at].tsSec + http[at].tsNsec / 1e9;
  const scan = (a: IdsAlert) => a.rule === 'PortScan' || a.rule === 'DistributedScan';
  const sample = alertsOf(idsRun(undefined));
  const allGets = alertsOf(idsRun(EVERY_GET), 'every-get');
  t.true(allGets.length > 20, `the capture's GETs raise ${allGets.length} alerts under the new rules`);
  const changed = idsRun(undefined, { at, rules: EVERY_GET });
  const after = alertsOf(changed, 'every-get');
  t.true(after.length > 0 && after.length < allGets.length, 'some GET alerts, not all');
  t.deepEqual(after.filter((a) => a.ts < splitTs), [], 'no GET completed before the change alerts');
  // A connection whose first GET completed after the change alerts on it as under the new rules from the start.
  const flow = (a: IdsAlert) => JSON.stringify(a.flow);
  const late = allGets.filter((a) => a.ts >= splitTs);
  t.deepEqual(after.filter((a) => late.some((l) => flow(l) === flow(a))), late);
  t.true(after.length >= late.length);
  t.deepEqual(alertsOf(changed).filter((a) => a.rule !== 'every-get'), sample.filter((a) => scan(a) || a.ts < splitTs),
    'the sample rules\' alerts are those raised before the change (the scan detector\'s settings did not change)');
  t.deepEqual(call(changed, { type: 'get-config', id: 3 })[0].generation, 2);
});

test('a refused configuration keeps the running one and its generation', (t) => {
  const mb = new MiddleboxInstance(ids, { rules: EVERY_GET });
  call(mb, { type: 'put-config', id: 1, values: { rules: EVERY_GET }, generation: 4 });
  t.throws(() => call(mb, { type: 'put-config', id: 2, values: { portScanThreshold: 0 }, generation: 5 }), { message: /^config\.portScanThreshold: / });
  const [c] = call(mb, { type: 'get-config', id: 3 });
  t.is(c.generation, 4);
  t.deepEqual((c.values as { rules: unknown }).rules, EVERY_GET);
});

test('a configuration is the whole of it: a field it leaves out goes back to the instance\'s own default', (t) => {
  const mb = new MiddleboxInstance(ids, { portScanThreshold: 5 });
  call(mb, { type: 'put-config', id: 1, values: { rules: EVERY_GET }, generation: 2 });
  const values = call(mb, { type: 'get-config', id: 2 })[0].values as Record<string, unknown>;
  t.deepEqual(values, { ...ids.defaultConfig, rules: EVERY_GET });
});

test('nat: existing translations are kept, new flows get the new range, even when their inside is no longer inside', (t) => {
  const { mb } = natInstance({ partitionBuckets: 1 });
  const remote = '93.184.216.34';
  mb.receive(wire(udpFrame('10.0.0.5', 40000, remote, 53), 1));
  call(mb, { type: 'put-config', id: 1, values: { partitionBuckets: 1, portRange: [20000, 20009], internalPrefixes: ['192.168.0.0/16'] }, generation: 2 });
  mb.receive(wire(udpFrame('10.0.0.5', 40000, remote, 53), 2));
  mb.receive(wire(udpFrame(remote, 53, '10.0.0.5', 40000), 3));
  mb.receive(wire(udpFrame('192.168.1.9', 40000, remote, 53), 4));
  mb.receive(wire(udpFrame('10.0.0.6', 40000, remote, 53), 5));
  const out = mb.outputs() as { translations: { internal: { ip: string }; external: { port: number }; packetsOut: number; packetsIn: number }[] };
  const of = (ip: string) => out.translations.find((x) => x.internal.ip === ip);
  t.like(of('10.0.0.5'), { external: { port: 40000 }, packetsOut: 2, packetsIn: 1 }, 'the old translation goes on, both ways');
  t.like(of('192.168.1.9'), { external: { port: 20000 } }, 'a new flow from the new inside, from the new range');
  t.is(of('10.0.0.6'), undefined, '10.0.0.0/8 is no longer inside: a new flow from it passes untranslated');
});

test('re: a smaller cache evicts its least recently used chunks at once', (t) => {
  const mb = new MiddleboxInstance(re, {});
  const packets = trace('pcpp_4KHttpRequests.pcap').slice(0, 400);
  packets.forEach((p, i) => mb.receive(fromCapture(p, i + 1)));
  const cacheOf = () => (mb.outputs() as { cache: { entries: number; bytes: number; limit: number } }).cache;
  const full = cacheOf();
  t.true(full.bytes > 8192, `the cache holds ${full.bytes} bytes`);
  const [state] = call(mb, { type: 'get', id: 1, scope: 'all-flows', filter: {} }).filter((r) => r.type === 'state');
  const entries = ((state.chunks as { state: { entries: [number, number, string][] } }[])[0].state.entries);
  call(mb, { type: 'put-config', id: 2, values: { cacheBytes: 8192 }, generation: 2 });
  const small = cacheOf();
  t.is(small.limit, 8192);
  t.true(small.bytes <= 8192 && small.entries > 0);
  const [after] = call(mb, { type: 'get', id: 3, scope: 'all-flows', filter: {} }).filter((r) => r.type === 'state');
  const kept = ((after.chunks as { state: { entries: [number, number, string][] } }[])[0].state.entries);
  t.deepEqual(kept, entries.slice(entries.length - kept.length), 'the most recently used chunks stay, in order');
});

test('monitor: hosts off keeps the host records it has and adds none; on again, they count from the next packet', (t) => {
  const mb = new MiddleboxInstance(monitor, {});
  const packets = trace('tryzeek_http.pcap');
  const hosts = () => (mb.outputs().hosts as { ip: string; packetsOut: number }[]);
  packets.slice(0, 100).forEach((p, i) => mb.receive(fromCapture(p, i + 1)));
  const at100 = hosts();
  call(mb, { type: 'put-config', id: 1, values: { hosts: false }, generation: 2 });
  packets.slice(100, 200).forEach((p, i) => mb.receive(fromCapture(p, 101 + i)));
  t.deepEqual(hosts(), at100);
  call(mb, { type: 'put-config', id: 2, values: { hosts: true }, generation: 3 });
  packets.slice(200).forEach((p, i) => mb.receive(fromCapture(p, 201 + i)));
  const total = hosts().reduce((n, h) => n + h.packetsOut, 0);
  t.is(total, 100 + packets.length - 200, 'host counts miss exactly the packets seen while hosts was off');
});
