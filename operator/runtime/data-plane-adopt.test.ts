/**
 * A data plane that outlives its controller, across real processes: a harness process starts a
 * switch and two NATs on a state directory and is SIGKILLed mid-replay; the switch and the
 * instances go on forwarding and processing with no controller; a new LocalCluster on the same
 * directory adopts them (same pids, counters not reset, the router learns the switch's table),
 * scales the pool with a loss-free move, and every packet sent is processed once.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { readCaptureFile } from '../../shims/flow/pcap.js';
import { silentLogger } from '../../shims/log/logger.js';
import { SECRET_ENV } from '../../shims/protocol/auth.js';
import { connectPeer } from '../../shims/protocol/connection.js';
import { replay } from '../../shims/traffic/replay.js';
import { tracePath } from '../../shims/traffic/trace-dir.js';
import { mergedOutputs } from '../engine/merged-outputs.js';
import { MbController } from '../engine/controller.js';
import { ALL_OPTIMIZATIONS } from '../engine/operation.js';
import { PoolExecutor } from '../engine/pool.js';
import { plan } from '../placement/plan.js';
import { BucketRouter } from '../routing/bucket-router.js';
import { readRecord, recordPath } from './data-plane-record.js';
import { describeMiddlebox } from './describe.js';
import { LocalCluster, stopRecordedDataPlane } from './local-cluster.js';
import { isAlive } from './processes.js';

const HARNESS = fileURLToPath(new URL('./data-plane-harness.js', import.meta.url));
const BUCKETS = 16;
const POOL = 'ns/adopted';
/** A NAT emits every packet it processes: a sink on the switch sees processing go on with no controller. */
const MB_TYPE = 'nat';

interface Ready { switchPid: number; switchSocket: string; instances: Record<string, number>; owner: string[] }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

test.serial('a data plane survives the SIGKILL of the process that started it, and a new cluster on its state directory adopts it, scales it and loses nothing', async (t) => {
  const stateDir = mkdtempSync(join(tmpdir(), 'openmb-adopt-state-'));
  const logDir = mkdtempSync(join(tmpdir(), 'openmb-adopt-logs-'));
  const secret = randomBytes(16).toString('hex');
  const harness = spawn(process.execPath, [HARNESS, stateDir, logDir, POOL, MB_TYPE, String(BUCKETS)], { env: { ...process.env, [SECRET_ENV]: secret }, stdio: ['ignore', 'pipe', 'inherit'] });
  let ready: Ready | null = null;
  let lastProcessed: Record<string, number> = {};
  const gotReady = new Promise<Ready>((resolve, reject) => {
    harness.once('exit', (code, signal) => reject(new Error(`the harness exited (${signal ?? code}) before it was ready`)));
    createInterface({ input: harness.stdout! }).on('line', (line) => {
      const m = JSON.parse(line) as { ready?: Ready; processed?: Record<string, number> };
      if (m.ready) resolve(m.ready);
      if (m.processed) lastProcessed = m.processed;
    });
  });
  let cluster: LocalCluster | null = null;
  try {
    ready = await gotReady;
    t.deepEqual(readRecord(stateDir)?.instances.map((i) => [i.name, i.pid]), Object.entries(ready.instances), 'the record names the instances and their pids');
    // A sink on the switch sees what the instances emit: every processed packet leaves.
    let sunk = 0;
    const sink = await connectPeer({ path: ready.switchSocket }, { secret, role: 'sink', name: 'test-sink' }, silentLogger, (p) => {
      p.onPacketBatch('egress', (packets) => { sunk += packets.length; });
    });
    const { packets } = readCaptureFile(tracePath('mercury_emix.pcap'));
    let killed = false;
    let sunkAtKill = 0;
    let processedAtKill = 0;
    const died = new Promise<void>((resolve) => harness.once('exit', () => resolve()));
    const replayed = replay(packets, {
      switchAddress: { path: ready.switchSocket }, secret, pace: { kind: 'rate', pps: 700 }, log: silentLogger,
      onProgress: (sent, total) => {
        if (!killed && sent > total * 0.2) {
          killed = true;
          processedAtKill = sum(Object.values(lastProcessed));
          sunkAtKill = sunk;
          harness.kill('SIGKILL');
        }
      },
    });
    // Awaited below; a failed check before that must not leave its rejection unhandled.
    replayed.catch(() => {});
    await died;
    t.true(processedAtKill > 0, 'the instances processed packets before the kill');
    await sleep(1500);
    t.true(isAlive(ready.switchPid), 'the switch outlived the harness');
    for (const [name, pid] of Object.entries(ready.instances)) t.true(isAlive(pid), `${name} outlived the harness`);
    t.true(sunk > sunkAtKill + 100, `with no controller the instances went on processing and the switch forwarding (${sunkAtKill} -> ${sunk} emitted)`);

    cluster = await LocalCluster.start({ log: silentLogger, logDir, stateDir, pool: POOL, secret });
    const c = cluster;
    t.deepEqual(c.adoption, { switchPid: ready.switchPid, adopted: ['m-0', 'm-1'], dead: [], silent: [] });
    t.is(c.switchPid, ready.switchPid);
    t.is(c.switchSock, ready.switchSocket);
    for (const [name, pid] of Object.entries(ready.instances)) {
      t.is(c.instances.get(name)?.child.proc.pid, pid, `${name}: the same process`);
      t.false(c.session(name).closed, `${name}: its session is up`);
    }
    const emitted = sunk;
    const counters = await Promise.all(['m-0', 'm-1'].map((n) => c.session(n).stats()));
    const processed = sum(counters.map((x) => x.packetsProcessed));
    t.true(processed >= processedAtKill, 'the instances\' counters were not reset');
    t.true(processed >= emitted, `they count every packet they emitted, before and after the kill (${processed} processed, ${emitted} emitted)`);
    const router = new BucketRouter(() => [c.sw], { key: 'flow', buckets: BUCKETS });
    await router.learn();
    t.deepEqual(router.owner, ready.owner, 'the router learned the owners the harness installed');
    const rules = await c.sw.rules();
    const routed = new Array<string | null>(BUCKETS).fill(null);
    for (const r of rules) if (r.action.type === 'forward' && r.match.buckets) for (const b of r.match.buckets.ids) routed[b] = r.action.instance;
    t.deepEqual(router.owner, routed, 'the router\'s owners are the switch\'s rules');

    // A scale to 3 of the adopted pool: loss-free moves under the rest of the replay.
    const mbc = new MbController(c.sessions, router, silentLogger);
    const descriptor = await describeMiddlebox(MB_TYPE);
    const exec = new PoolExecutor({ buckets: BUCKETS, instances: ['m-0', 'm-1'], owner: [...router.owner] }, mbc, router, {
      start: async (name) => { await c.addInstance(MB_TYPE, name, {}, router.partitioning); },
      stop: (name) => c.stopInstance(name),
    }, {
      descriptor, configuration: () => ({ values: {}, generation: 1 }), guarantee: 'loss-free', optimizations: ALL_OPTIMIZATIONS, concurrency: 2, log: silentLogger,
    });
    await exec.run(plan({ current: exec.placement, replicas: 3, namePrefix: 'm' }));
    t.deepEqual(exec.placement.instances, ['m-0', 'm-1', 'm-2']);
    t.deepEqual(readRecord(stateDir)?.instances.map((i) => i.name).sort(), ['m-0', 'm-1', 'm-2'], 'the record follows the new instance');
    const { sent } = await replayed;
    t.is(sent, packets.length);
    const settled = await c.settle();
    t.is(settled.dropped, 0);
    t.is(settled.processed, sent, 'every packet sent was processed once, across the kill, the adoption and the move');
    const merged = await mergedOutputs(descriptor.outputs, exec.placement.instances.map((n) => c.session(n)));
    t.is(merged.duplicateFlows, 0, 'no flow has state on two instances');
    sink.close('closed locally');

    await c.stop();
    cluster = null;
    t.false(isAlive(ready.switchPid), 'stop ends the switch');
    for (const pid of Object.values(ready.instances)) t.false(isAlive(pid), 'stop ends the adopted instances');
    t.false(existsSync(recordPath(stateDir)), 'and removes the record');
  } finally {
    if (harness.exitCode === null && harness.signalCode === null) harness.kill('SIGKILL');
    await cluster?.stop();
    await stopRecordedDataPlane(stateDir);
  }
});

test.serial('adoption waits for the controller address and keeps what runs: a dead instance is reported, not adopted; a data plane whose switch is gone is stopped and started anew', async (t) => {
  const stateDir = mkdtempSync(join(tmpdir(), 'openmb-adopt-state-'));
  const logDir = mkdtempSync(join(tmpdir(), 'openmb-adopt-logs-'));
  const first = await LocalCluster.start({ log: silentLogger, logDir, stateDir, pool: POOL });
  let second: LocalCluster | null = null;
  let third: LocalCluster | null = null;
  try {
    await first.addInstance('monitor', 'a');
    await first.addInstance('monitor', 'b');
    const pidA = first.instances.get('a')!.child.proc.pid;
    const pidB = first.instances.get('b')!.child.proc.pid;
    const switchPid = first.switchPid;
    await first.detach();
    t.true(isAlive(switchPid) && isAlive(pidA) && isAlive(pidB), 'detach leaves the processes running');
    process.kill(pidB, 'SIGKILL');
    while (isAlive(pidB)) await sleep(20);

    // The controller address is still taken for a second (an operator on its way out, dropping whoever dials it): adoption waits for it.
    const [host, port] = readRecord(stateDir)!.controller.split(':');
    const holder = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => holder.listen(Number(port), host, resolve));
    setTimeout(() => holder.close(), 1000);
    // The secret the first cluster made is kept in the state directory, so the second one's children authenticate.
    second = await LocalCluster.start({ log: silentLogger, logDir, stateDir, pool: POOL, adoptTimeoutMs: 5000 });
    t.deepEqual(second.adoption, { switchPid, adopted: ['a'], dead: ['b'], silent: [] });
    t.is(second.secret, first.secret);
    t.deepEqual([...second.instances.keys()], ['a']);
    t.deepEqual(readRecord(stateDir)?.instances.map((i) => [i.name, i.pid]), [['a', pidA]], 'the record drops the dead instance');
    await second.detach();

    process.kill(switchPid, 'SIGKILL');
    while (isAlive(switchPid)) await sleep(20);
    third = await LocalCluster.start({ log: silentLogger, logDir, stateDir, pool: POOL, adoptTimeoutMs: 5000 });
    t.is(third.adoption, null, 'nothing adopted without the switch');
    t.not(third.switchPid, switchPid, 'a new switch');
    t.false(isAlive(pidA), 'the instance of the old switch was stopped');
    t.deepEqual(readRecord(stateDir)?.instances, []);
  } finally {
    await third?.stop();
    await stopRecordedDataPlane(stateDir);
  }
});
