/**
 * The data plane over mutual TLS across real processes on 127.0.0.1: the controller's listener
 * in this process, `openmb switch --tls-dir` and `openmb mb --tls-dir` as children, and traffic
 * from `replay` with TLS (in process, and `openmb replay --tls-dir` as a child). Peers without
 * TLS, with another CA's certificate or with a wrong secret reach neither listener, and both go
 * on serving.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ControllerServer } from './controller-server.js';
import type { MbSession } from './session.js';
import type { SwitchSession } from '../routing/switch-session.js';
import { generateTlsMaterial } from '../kube/certificates.js';
import { type Child, startChild, stopChildren } from '../runtime/processes.js';
import { readCaptureFile } from '../../shims/flow/pcap.js';
import { silentLogger } from '../../shims/log/logger.js';
import { type Address, formatAddress } from '../../shims/protocol/address.js';
import { connectPeer } from '../../shims/protocol/connection.js';
import { type TlsMaterial, writeTlsMaterial } from '../../shims/protocol/tls.js';
import { replay } from '../../shims/traffic/replay.js';
import { tracePath } from '../../shims/traffic/trace-dir.js';

const OPENMB = fileURLToPath(new URL('../../../bin/openmb.js', import.meta.url));
const run = promisify(execFile);
const SECRET = 'cluster-secret';
const POOL = 'tls/monitor';
const TRACE = tracePath('zeek_wikipedia.pcapng');
const { packets } = readCaptureFile(TRACE);

let dir: string;
let tls: TlsMaterial;
let foreign: TlsMaterial;
let controller: ControllerServer;
let ctl: Address;
let switchAddress: Address;
let sw: SwitchSession;
let mb: MbSession;
const children: Child[] = [];

/** A port nothing listens on now, for the switch child to listen on. */
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as net.AddressInfo;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

async function processed(count: number): Promise<number> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const n = (await mb.stats()).packetsProcessed;
    if (n >= count || Date.now() > deadline) return n;
    await sleep(20);
  }
}

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'openmb-tls-cluster-'));
  tls = await generateTlsMaterial();
  foreign = await generateTlsMaterial();
  writeTlsMaterial(join(dir, 'tls'), tls);
  controller = new ControllerServer(SECRET, silentLogger);
  ctl = await controller.listen({ host: '127.0.0.1', port: 0 }, tls);
  switchAddress = { host: '127.0.0.1', port: await freePort() };
  const env = { OPENMB_SECRET: SECRET };
  const common = ['--pool', POOL, '--controller', formatAddress(ctl), '--tls-dir', join(dir, 'tls')];
  children.push(startChild('switch', ['switch', '--listen', formatAddress(switchAddress), '--name', 'switch-0', ...common], env, dir));
  sw = await controller.pool(POOL).waitForSwitch('switch-0');
  children.push(startChild('m0', ['mb', '--type', 'monitor', '--instance', 'm0', '--switch', formatAddress(switchAddress), ...common], env, dir));
  mb = await controller.pool(POOL).waitForInstance('m0');
  await sw.flowMod([{ op: 'replace-all', rules: [{ id: 'all', priority: 0, match: {}, action: { type: 'forward', instance: 'm0' } }] }]);
});

test.after.always(async () => {
  controller?.close();
  await stopChildren(children);
  rmSync(dir, { recursive: true, force: true });
});

test.serial('the controller refuses a middlebox without TLS, with another CA, or with a wrong secret', async (t) => {
  const who = { role: 'mb', name: 'intruder', pool: POOL, mbType: 'monitor' } as const;
  await t.throwsAsync(connectPeer(ctl, { ...who, secret: SECRET }, silentLogger));
  await t.throwsAsync(connectPeer(ctl, { ...who, secret: SECRET }, silentLogger, undefined, { tls: foreign }));
  await t.throwsAsync(connectPeer(ctl, { ...who, secret: 'wrong' }, silentLogger, undefined, { tls }), { message: /wrong shared secret/ });
  t.false(controller.pool(POOL).instances.has('intruder'));
  t.is((await mb.stats()).packetsReceived, 0, 'the instance and its session still serve');
});

test.serial('the switch refuses sources without TLS, with another CA, or with a wrong secret, then takes a good one', async (t) => {
  const some = packets.slice(0, 20);
  const pace = { kind: 'asap' } as const;
  await t.throwsAsync(replay(some, { switchAddress, secret: SECRET, pace, log: silentLogger }));
  await t.throwsAsync(replay(some, { switchAddress, secret: SECRET, tls: foreign, pace, log: silentLogger }));
  await t.throwsAsync(replay(some, { switchAddress, secret: 'wrong', tls, pace, log: silentLogger }), { message: /wrong shared secret/ });
  t.is((await sw.stats()).received, 0, 'no packet from a refused source reached the table');

  const r = await replay(packets, { switchAddress, secret: SECRET, tls, pace, log: silentLogger });
  t.is(r.sent, packets.length);
  t.is(await processed(packets.length), packets.length, 'every packet crossed switch -> instance over TLS');
});

test.serial('openmb replay --tls-dir sends over TLS; without it the switch refuses it', async (t) => {
  const before = (await mb.stats()).packetsProcessed;
  const env = { ...process.env, OPENMB_SECRET: SECRET, OPENMB_LOG_LEVEL: 'silent' };
  const args = [OPENMB, 'replay', '--trace', TRACE, '--switch', formatAddress(switchAddress)];
  const { stdout } = await run(process.execPath, [...args, '--tls-dir', join(dir, 'tls')], { env });
  t.is((JSON.parse(stdout) as { sent: number }).sent, packets.length);
  t.is(await processed(before + packets.length), before + packets.length);
  const refused = await t.throwsAsync(run(process.execPath, args, { env })) as Error & { code: number; stderr: string };
  t.is(refused.code, 1);
  t.regex(refused.stderr, /^openmb: /m);
});
