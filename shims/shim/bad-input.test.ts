/**
 * Bad input across real processes: every case gets a clear error (or a logged close), and the
 * middlebox, switch and controller go on serving afterwards.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { LocalCluster } from '../../operator/runtime/local-cluster.js';
import type { MbSession } from '../../operator/engine/session.js';
import { silentLogger } from '../log/logger.js';
import { parseAddress } from '../protocol/address.js';
import { connectPeer } from '../protocol/connection.js';
import { encodeJsonFrame } from '../protocol/framing.js';
import { encodePacketBatch } from '../protocol/packets.js';
import { encodeChunks, stateFrame } from '../protocol/state-frames.js';
import { tracePath } from '../traffic/trace-dir.js';
import { readCaptureFile } from '../flow/pcap.js';

const OPENMB = fileURLToPath(new URL('../../../bin/openmb.js', import.meta.url));
const run = promisify(execFile);

let cluster: LocalCluster;
let logDir: string;

test.before(async () => {
  logDir = mkdtempSync(join(tmpdir(), 'openmb-bad-'));
  cluster = await LocalCluster.start({ log: silentLogger, logDir });
  await cluster.addInstance('monitor', 'm0');
  await cluster.routeAll('m0');
});

test.after.always(async () => {
  await cluster?.stop();
});

/** Writes raw bytes on the controller's connection to m0 and collects the next reply. */
function rawExchange(session: MbSession, bytes: Buffer): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    const on = (msg: unknown) => {
      session.peer.off('json', on);
      resolve(msg as Record<string, unknown>);
    };
    session.peer.on('json', on);
    session.peer.socket.write(bytes);
  });
}

function frameOf(text: string): Buffer {
  const body = Buffer.from(text);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length);
  return Buffer.concat([head, body]);
}

async function stillServes(t: { true: (v: boolean, m?: string) => void }, name = 'm0'): Promise<void> {
  const session = await cluster.sessions.waitForInstance(name);
  const stats = await session.stats();
  t.true(stats.packetsReceived >= 0, 'the middlebox answers get-stats');
}

test.serial('a frame that is not JSON gets a malformed error, and the middlebox goes on', async (t) => {
  const reply = await rawExchange(cluster.session('m0'), frameOf('{"type": "get", '));
  t.is(reply.type, 'error');
  t.is(reply.cause, 'malformed');
  t.regex(String(reply.message), /not valid JSON/);
  await stillServes(t);
});

test.serial('an unknown message type gets an unsupported error', async (t) => {
  const reply = await rawExchange(cluster.session('m0'), encodeJsonFrame({ type: 'frobnicate', id: 77 }));
  t.deepEqual([reply.type, reply.id, reply.cause], ['error', 77, 'unsupported']);
  t.regex(String(reply.message), /unknown message type "frobnicate"/);
  await stillServes(t);
});

for (const [filter, field, fragment] of [
  [{ nwSrc: '10.0.0.0/40' }, 'nwSrc', 'prefix length 40 exceeds 32 for IPv4'],
  [{ tpDst: 70000 }, 'tpDst', 'port 70000 is out of range 0-65535'],
  [{ nwProto: 'tpc' }, 'nwProto', 'unknown protocol name "tpc"'],
  [{ buckets: { key: 'flow', of: 4, ids: [4] } }, 'buckets.ids[0]', 'bucket id 4 is out of range 0-3'],
] as const) {
  test.serial(`a filter with a bad ${field} is refused naming the field`, async (t) => {
    const session = cluster.session('m0');
    const err = await t.throwsAsync(session.get('per-flow', filter as never, () => {}));
    t.true(err.message.startsWith(`malformed: filter.${field}: `), err.message);
    t.true(err.message.includes(fragment), err.message);
    await stillServes(t);
  });
}

test.serial('a put with a chunk the middlebox cannot decode changes nothing', async (t) => {
  const session = cluster.session('m0');
  const before = await session.stats();
  const err = await t.throwsAsync(session.put('per-flow', [
    { scope: 'per-flow', key: '6 10.0.0.1 1 10.0.0.2 2', state: ['x', 1, 1, 60, 60, 0, 0, null] },
  ]));
  t.regex(err.message, /^malformed: chunks\[0\]: flow state must be \[packetsAB/);
  t.is((await session.stats()).entries['per-flow'], before.entries['per-flow']);
});

test.serial('an oversize frame closes that connection with a logged reason; the middlebox reconnects and serves', async (t) => {
  const session = cluster.session('m0');
  const closed = new Promise((resolve) => session.on('close', resolve));
  const head = Buffer.alloc(4);
  head.writeUInt32BE(0x7fffffff);
  session.peer.socket.write(head);
  await closed;
  await stillServes(t);
  t.not(cluster.sessions.instances.get('m0'), session, 'a new session replaced the closed one');
  await sleep(50);
  t.regex(readFileSync(join(logDir, 'm0.log'), 'utf8'), /frame of 2147483647 bytes exceeds the maximum/);
});

test.serial('a frame of unknown kind closes the connection; the middlebox reconnects', async (t) => {
  const session = await cluster.sessions.waitForInstance('m0');
  const closed = new Promise((resolve) => session.on('close', resolve));
  session.peer.socket.write(Buffer.from([0, 0, 0, 2, 0x09, 0x09]));
  await closed;
  await stillServes(t);
});

test.serial('a peer with a wrong or missing secret is closed before it can read or write anything', async (t) => {
  const ctl = parseAddress(cluster.ctl);
  const wrong = await t.throwsAsync(connectPeer(ctl, { secret: 'not-the-secret', role: 'mb', name: 'intruder', pool: 'local', mbType: 'monitor' }, silentLogger));
  t.regex(wrong.message, /wrong shared secret/);
  const missing = await t.throwsAsync(connectPeer(ctl, { role: 'mb', name: 'intruder' } as never, silentLogger));
  t.regex(missing.message, /the first message must be a valid hello \(secret: Required\)/);
  t.false(cluster.sessions.instances.has('intruder'));

  const sw = { path: cluster.switchSock };
  const before = (await cluster.sw.stats()).received;
  await t.throwsAsync(connectPeer(sw, { secret: 'nope', role: 'source', name: 'intruder' }, silentLogger), { message: /wrong shared secret/ });
  // Packets sent before (or instead of) the hello are never accepted.
  const { packets } = readCaptureFile(tracePath('zeek_wikipedia.pcapng'));
  const batch = encodePacketBatch(packets.slice(0, 5).map((p) => ({ ...p, seq: 0, ingressMs: 0 })));
  await new Promise<void>((resolve) => {
    const s = net.connect(cluster.switchSock, () => s.write(batch));
    s.on('close', () => resolve());
    s.on('error', () => resolve());
    s.resume();
  });
  t.is((await cluster.sw.stats()).received, before, 'no packet from an unauthenticated peer reached the table');
  await stillServes(t);
});

test.serial('a switch flow-mod with a bad match is refused naming the field, and the table is unchanged', async (t) => {
  const before = await cluster.sw.rules();
  const err = await t.throwsAsync(cluster.sw.flowMod([{ op: 'add', rule: { id: 'x', priority: 5, match: { tpSrc: -1 }, action: { type: 'drop' } } }]));
  t.regex(err.message, /^malformed: changes\.0\.rule\.match\.tpSrc: /);
  t.deepEqual(await cluster.sw.rules(), before);
});

test.serial('corrupt and truncated captures are refused naming the byte offset', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'openmb-corrupt-'));
  const good = readFileSync(tracePath('zeek_wikipedia_nsec.pcap'));
  const truncated = join(dir, 'truncated.pcap');
  writeFileSync(truncated, good.subarray(0, 1000));
  const corrupt = join(dir, 'corrupt.pcap');
  const bad = Buffer.from(good);
  bad.writeUInt32LE(0x7fffffff, 24 + 8); // first record's captured length
  writeFileSync(corrupt, bad);
  for (const [file, pattern] of [[truncated, /truncated\.pcap: byte \d+: .*past end of file/], [corrupt, /corrupt\.pcap: byte 24: /]] as const) {
    const err = await t.throwsAsync(run(process.execPath, [OPENMB, 'local', '--trace', file, '--out', join(dir, 'out')])) as Error & { stderr: string; code: number };
    t.is(err.code, 1);
    t.regex(err.stderr, pattern);
  }
});

test.serial('a JSON put whose chunk names another scope is refused naming the chunk', async (t) => {
  const chunks = [{ scope: 'per-host', key: '10.0.0.1', state: {} }];
  const reply = await rawExchange(cluster.session('m0'), encodeJsonFrame({ type: 'put', id: 990, scope: 'multi-flow', chunks }));
  t.like(reply, { type: 'error', id: 990, cause: 'malformed', message: 'chunks[0].scope: "per-host" differs from the request\'s scope "multi-flow"' });
  await stillServes(t);
});

test.serial('a binary put cut short inside a chunk is refused naming the byte and the chunk, and nothing is put', async (t) => {
  const session = cluster.session('m0');
  const before = (await session.stats()).entries['per-flow'];
  const batch = encodeChunks('per-flow', [
    { scope: 'per-flow', key: '6 10.9.0.1 1000 10.9.0.2 80', state: { packets: 1 } },
    { scope: 'per-flow', key: '6 10.9.0.1 1001 10.9.0.2 80', state: { packets: 1 } },
  ]);
  const cut = { ...batch, body: batch.body.subarray(0, batch.body.length - 2) };
  const [head, body] = stateFrame('put', 991, cut);
  const reply = await rawExchange(session, Buffer.concat([head, body]));
  t.like(reply, { type: 'error', id: 991, cause: 'malformed' });
  t.regex(String(reply.message), /^state frame byte \d+: chunk 1 \(from byte \d+\) ends inside its state$/);
  t.is((await session.stats()).entries['per-flow'], before);
  await stillServes(t);
});
