/**
 * The data plane's /metrics, scraped over HTTP from the probes server the Pods already expose: a
 * middlebox instance's counters and state sizes, and a steering switch's counts per instance,
 * each series under the openmb_ prefix and labelled with the process's pool and name.
 */
import test from 'ava';
import { mkdtempSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { serveProbes } from '../health/probes.js';
import { silentLogger } from '../log/logger.js';
import { middleboxByType } from '../middleboxes/registry.js';
import { connectPeer } from '../protocol/connection.js';
import { encodePacketBatch, type WirePacket } from '../protocol/packets.js';
import { MiddleboxInstance } from '../shim/runtime.js';
import { SteeringSwitch } from '../switch/switch.js';
import { tcpFrame } from '../traffic/frames.js';
import { middleboxMetrics } from './middlebox-metrics.js';
import { switchMetrics } from './switch-metrics.js';

const SECRET = 'metrics-test';

const packet = (seq: number, sport: number): WirePacket => ({
  seq, tsSec: 1, tsNsec: 0, ingressMs: 0, origLen: 70, linkType: 1, inPort: 0,
  data: tcpFrame({ src: '10.0.0.1', dst: '10.0.0.2', sport, dport: 80, flags: 0x10, seq: 1, ack: 1, payload: Buffer.alloc(16) }),
});

async function scrape(t: { teardown(f: () => void): void }, server: Server): Promise<{ status: number; type: string | null; body: string }> {
  t.teardown(() => server.close());
  const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`);
  return { status: res.status, type: res.headers.get('content-type'), body: await res.text() };
}

/** The value of the series `name{labels}` in a Prometheus text body (labels in the order served). */
function value(body: string, series: string): number | undefined {
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test('an instance serves its packet counts and state entries per scope on /metrics next to its probes', async (t) => {
  const mb = new MiddleboxInstance(middleboxByType('monitor'), {});
  for (let i = 0; i < 6; i++) mb.receive(packet(i, 1000 + (i % 3)));
  const server = await serveProbes({ host: '127.0.0.1', port: 0 }, [{ name: 'up', ok: () => true }],
    middleboxMetrics(mb, { pool: 'ns/monitor', instance: 'monitor-0', middlebox: 'monitor' }, { processMetrics: false }));
  const { status, type, body } = await scrape(t, server);
  t.is(status, 200);
  t.regex(type ?? '', /^text\/plain; version=0\.0\.4/);
  const id = 'pool="ns/monitor",instance="monitor-0",middlebox="monitor"';
  t.is(value(body, `openmb_mb_packets_received_total{${id}}`), 6);
  t.is(value(body, `openmb_mb_packets_processed_total{${id}}`), 6);
  t.is(value(body, `openmb_mb_packets_emitted_total{${id}}`), 0, 'a monitor emits nothing');
  t.is(value(body, `openmb_mb_state_entries{scope="per-flow",${id}}`), 3, 'three flows');
  t.not(value(body, `openmb_mb_state_entries{scope="multi-flow",${id}}`), undefined);
  t.regex(body, /# TYPE openmb_mb_packets_processed_total counter/);
  t.regex(body, /# TYPE openmb_mb_state_entries gauge/);
  t.false(/^(?!#)(?!openmb_)\S/m.test(body), 'every series has the openmb_ prefix');
});

test('a switch serves packets received, forwarded per instance and dropped, and its rules, on /metrics', async (t) => {
  const listen = { path: join(mkdtempSync(join(tmpdir(), 'openmb-metrics-')), 'switch.sock') };
  const sw = new SteeringSwitch({ name: 'switch', pool: 'ns/monitor', listen, secret: SECRET, log: silentLogger });
  await sw.start();
  const controller = await connectPeer(listen, { secret: SECRET, role: 'controller', name: 'test' }, silentLogger);
  const instance = await connectPeer(listen, { secret: SECRET, role: 'mb-data', name: 'monitor-0' }, silentLogger);
  const source = await connectPeer(listen, { secret: SECRET, role: 'source', name: 'replay' }, silentLogger);
  t.teardown(() => { [controller, instance, source].forEach((p) => p.close('test over')); sw.stop(); });
  controller.send({
    type: 'flow-mod', id: 1, changes: [{ op: 'replace-all', rules: [
      { id: 'port-9', priority: 10, match: { tpDst: 9 }, action: { type: 'drop' } },
      { id: 'rest', priority: 0, match: {}, action: { type: 'forward', instance: 'monitor-0' } },
    ] }],
  });
  await sleep(100);
  source.sendFrame(encodePacketBatch(Array.from({ length: 5 }, (_, i) => packet(i, 2000))));
  const toPort9 = { ...packet(9, 3000), data: tcpFrame({ src: '10.0.0.1', dst: '10.0.0.2', sport: 3000, dport: 9, flags: 0x10, seq: 1, ack: 1, payload: Buffer.alloc(0) }) };
  source.sendFrame(encodePacketBatch([toPort9]));
  for (let i = 0; i < 50 && sw.snapshot().received < 6; i++) await sleep(20);
  const server = await serveProbes({ host: '127.0.0.1', port: 0 }, [], switchMetrics(sw, { pool: 'ns/monitor', switch: 'switch' }, { processMetrics: false }));
  const { status, body } = await scrape(t, server);
  t.is(status, 200);
  const id = 'pool="ns/monitor",switch="switch"';
  t.is(value(body, `openmb_switch_packets_received_total{${id}}`), 6);
  t.is(value(body, `openmb_switch_packets_forwarded_total{instance="monitor-0",${id}}`), 5);
  t.is(value(body, `openmb_switch_packets_dropped_total{${id}}`), 1);
  t.is(value(body, `openmb_switch_rules{${id}}`), 2);
  t.regex(body, /# TYPE openmb_switch_packets_forwarded_total counter/);
});

test('a switch serves its egress link: connected, sent, delivered, queued and undeliverable by reason', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'openmb-metrics-'));
  const egress = join(dir, 'nobody-listens.sock');
  const sw = new SteeringSwitch({ name: 'switch', pool: 'ns/nat', listen: { path: join(dir, 'switch.sock') }, secret: SECRET, log: silentLogger, egress });
  await sw.start();
  const instance = await connectPeer({ path: join(dir, 'switch.sock') }, { secret: SECRET, role: 'mb-data', name: 'nat-0' }, silentLogger);
  t.teardown(() => { instance.close('test over'); sw.stop(); });
  instance.sendFrame(encodePacketBatch(Array.from({ length: 3 }, (_, i) => packet(i, 2000))));
  for (let i = 0; i < 50 && (sw.snapshot().egressLink?.queued ?? 0) < 3; i++) await sleep(20);
  const server = await serveProbes({ host: '127.0.0.1', port: 0 }, [], switchMetrics(sw, { pool: 'ns/nat', switch: 'switch' }, { processMetrics: false }));
  const { body } = await scrape(t, server);
  const id = `address="${egress}",pool="ns/nat",switch="switch"`;
  t.is(value(body, `openmb_switch_egress_connected{${id}}`), 0);
  t.is(value(body, `openmb_switch_egress_queued{${id}}`), 3);
  t.is(value(body, `openmb_switch_egress_sent_total{${id}}`), 0);
  t.is(value(body, `openmb_switch_egress_delivered_total{${id}}`), 0);
  t.is(value(body, `openmb_switch_egress_undeliverable_total{${id.replace('",pool', '",reason="queueFull",pool')}}`), 0);
});

test('process metrics come with the openmb_ prefix, and the probes still answer beside /metrics', async (t) => {
  const mb = new MiddleboxInstance(middleboxByType('monitor'), {});
  const server = await serveProbes({ host: '127.0.0.1', port: 0 }, [{ name: 'up', ok: () => true }], middleboxMetrics(mb, { pool: 'p', instance: 'i', middlebox: 'monitor' }));
  const { body } = await scrape(t, server);
  t.regex(body, /^openmb_process_cpu_user_seconds_total\{pool="p",instance="i",middlebox="monitor"\} /m);
  const port = (server.address() as AddressInfo).port;
  t.is((await fetch(`http://127.0.0.1:${port}/readyz`)).status, 200);
  t.is((await fetch(`http://127.0.0.1:${port}/nothing`)).status, 404);
});
