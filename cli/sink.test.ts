/**
 * A pool's egress across real processes: a switch (with --egress, or pointed there by its
 * controller), NAT and RE instances, and an `openmb sink` process. What the sink checks equals what
 * the in-process checker `openmb local` attaches to the same switch finds; an unreachable sink is
 * counted, its packets wait and all reach it once it listens.
 */
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { readCaptureFile } from '../shims/flow/pcap.js';
import { silentLogger } from '../shims/log/logger.js';
import { middleboxByType } from '../shims/middleboxes/registry.js';
import type { EgressChecker } from '../shims/shim/definition.js';
import { poolInstanceConfig } from '../shims/shim/descriptor.js';
import type { EgressLinkStats } from '../shims/protocol/messages.js';
import type { SinkReport } from '../shims/egress/sink.js';
import { tracePath } from '../shims/traffic/trace-dir.js';
import { LocalCluster } from '../operator/runtime/local-cluster.js';
import { MAIN } from '../operator/runtime/processes.js';

interface SinkProcess {
  listen: string;
  http: string;
  proc: ChildProcess;
}

async function startSink(secret: string, args: string[]): Promise<SinkProcess> {
  const proc = spawn(process.execPath, [MAIN, 'sink', '--http', '127.0.0.1:0', '--print-every', '0', ...args], {
    env: { ...process.env, OPENMB_SECRET: secret, OPENMB_EXIT_WITH_PARENT: '1', OPENMB_LOG_LEVEL: 'warn' }, stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: proc.stdout! });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    proc.once('exit', (code) => reject(new Error(`openmb sink exited (${code}) before listening`)));
  });
  const bound = JSON.parse(first) as { listen: string; http: string };
  return { ...bound, proc };
}

async function stopSink(s: SinkProcess): Promise<void> {
  if (s.proc.exitCode !== null) return;
  const exited = new Promise((resolve) => s.proc.once('exit', resolve));
  s.proc.kill('SIGTERM');
  await exited;
}

async function counters(s: SinkProcess): Promise<SinkReport> {
  const res = await fetch(`http://${s.http}/counters`);
  return (await res.json()) as SinkReport;
}

async function egressLink(c: LocalCluster): Promise<EgressLinkStats> {
  const l = (await c.sw.stats()).egressLink;
  if (!l) throw new Error('the switch reports no egress link');
  return l;
}

async function until<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms (last: ${JSON.stringify(v)})`);
    await sleep(50);
  }
}

const partitioning = { key: 'flow' as const, buckets: 2 };

/** Two instances, one bucket each, and an in-process checker on the switch's sink role (as `openmb local` has). */
async function pool(c: LocalCluster, type: string): Promise<EgressChecker> {
  const def = middleboxByType(type);
  await c.addInstance(type, `${type}-0`, {}, partitioning);
  await c.addInstance(type, `${type}-1`, {}, partitioning);
  await c.sw.flowMod([{ op: 'replace-all', rules: [0, 1].map((b) => ({
    id: `b${b}`, priority: 100, match: { buckets: { key: 'flow' as const, of: 2, ids: [b] } }, action: { type: 'forward' as const, instance: `${type}-${b}` },
  })) }]);
  const checker = def.createEgress!(def.parseConfig({ ...def.defaultConfig, ...poolInstanceConfig(def, {}, partitioning) }));
  await c.attachSink((p) => checker.receive(p));
  return checker;
}

for (const [type, trace] of [['nat', 'mercury_emix.pcap'], ['re', 'zeek_http-1000-requests.pcap']] as const) {
  test.serial(`${type}: every emitted packet reaches an openmb sink in order, and its check equals the in-process one`, async (t) => {
    const secret = randomBytes(16).toString('hex');
    const sink = await startSink(secret, ['--listen', '127.0.0.1:0', '--check', type]);
    const c = await LocalCluster.start({ log: silentLogger, logDir: mkdtempSync(join(tmpdir(), 'openmb-sink-')), secret, egress: sink.listen });
    try {
      const local = await pool(c, type);
      const { packets } = readCaptureFile(tracePath(trace));
      await c.replay(packets, { kind: 'asap' });
      const settled = await c.settle();
      const emitted = Object.values((await c.sw.stats()).egress).reduce((a, b) => a + b, 0);
      t.is(emitted, settled.processed, 'every packet processed leaves, changed or not');
      const link = await until('the sink acknowledges every emitted packet', () => egressLink(c), (l) => l.delivered === emitted);
      t.like(link, { address: sink.listen, connected: true, sent: emitted, delivered: emitted, inFlight: 0, queued: 0, resent: 0, undeliverable: { queueFull: 0, egressRemoved: 0 } });
      const r = await counters(sink);
      t.is(r.packets, emitted);
      t.is(r.reordered, 0);
      t.is(r.check, type);
      const from = r.switches['local/switch-0'];
      t.like(from, { packets: emitted, connected: true, connections: 1 });
      t.deepEqual(from.check, local.report());
      t.log(JSON.stringify(from.check));
    } finally {
      await c.stop();
      await stopSink(sink);
    }
  });
}

test.serial('an unreachable egress is counted and its packets wait; a sink that starts listening gets them all', async (t) => {
  const secret = randomBytes(16).toString('hex');
  const free = createServer();
  await new Promise<void>((resolve) => free.listen(0, '127.0.0.1', resolve));
  const port = (free.address() as AddressInfo).port;
  await new Promise((resolve) => free.close(resolve));
  const address = `127.0.0.1:${port}`;
  const c = await LocalCluster.start({ log: silentLogger, logDir: mkdtempSync(join(tmpdir(), 'openmb-sink-')), secret });
  let sink: SinkProcess | null = null;
  try {
    t.is((await c.sw.stats()).egressLink, undefined, 'no egress until one is set');
    await t.throwsAsync(c.sw.setEgress('not an address'), { message: /address: "not an address" is neither host:port nor a socket path/ });
    await c.sw.setEgress(address);
    const local = await pool(c, 'nat');
    const { packets } = readCaptureFile(tracePath('mercury_emix.pcap'));
    await c.replay(packets, { kind: 'asap' });
    await c.settle();
    const emitted = Object.values((await c.sw.stats()).egress).reduce((a, b) => a + b, 0);
    const down = await egressLink(c);
    t.like(down, { address, connected: false, sent: 0, delivered: 0, queued: emitted, undeliverable: { queueFull: 0, egressRemoved: 0 } });
    t.regex(down.lastError ?? '', /ECONNREFUSED/);

    sink = await startSink(secret, ['--listen', address, '--check', 'nat']);
    const up = await until('the queued packets reach the sink', () => egressLink(c), (l) => l.delivered === emitted);
    t.like(up, { connected: true, sent: emitted, queued: 0, inFlight: 0 });
    t.is(up.lastError, undefined);
    const r = await counters(sink);
    t.is(r.packets, emitted);
    t.is(r.reordered, 0);
    t.deepEqual(r.switches['local/switch-0'].check, local.report());

    // Removed: the switch stops sending there.
    await c.sw.setEgress(null);
    t.is((await c.sw.stats()).egressLink, undefined);
    await until('the sink sees the switch go', () => counters(sink!), (x) => !x.switches['local/switch-0'].connected);
  } finally {
    await c.stop();
    if (sink) await stopSink(sink);
  }
});

test.serial('a sink refuses a switch with another secret, and the switch says why', async (t) => {
  const sink = await startSink('the sink\'s secret', ['--listen', '127.0.0.1:0']);
  const c = await LocalCluster.start({ log: silentLogger, logDir: mkdtempSync(join(tmpdir(), 'openmb-sink-')), egress: sink.listen });
  try {
    const l = await until('the switch reports the refusal', () => egressLink(c), (x) => /wrong shared secret/.test(x.lastError ?? ''));
    t.like(l, { connected: false, sent: 0 });
    t.is((await counters(sink)).packets, 0);
  } finally {
    await c.stop();
    await stopSink(sink);
  }
});
