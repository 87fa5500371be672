/**
 * The steering switch over real sockets, when an instance dies: packets queued for it are
 * dropped (and counted) once no rule routes to it, rather than handed to a later instance of
 * the same name; a new process under its name starts its forwarded count from 0; and sources
 * that its full buffer paused are resumed when it goes.
 */
import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ControllerServer } from '../../operator/engine/controller-server.js';
import { connectPeer, type Peer } from '../protocol/connection.js';
import { encodePacketBatch, type WirePacket } from '../protocol/packets.js';
import { silentLogger } from '../log/logger.js';
import { tcpFrame } from '../traffic/frames.js';
import { SteeringSwitch } from './switch.js';

const SECRET = 'switch-test';

async function setUp(t: { teardown(f: () => void): void }) {
  const server = new ControllerServer(SECRET, silentLogger);
  const controller = await server.listen({ host: '127.0.0.1', port: 0 });
  const listen = { path: join(mkdtempSync(join(tmpdir(), 'openmb-switch-')), 'switch.sock') };
  const sw = new SteeringSwitch({ name: 'switch', pool: 'p', listen, controller, secret: SECRET, log: silentLogger });
  await sw.start();
  const session = await server.pool('p').waitForSwitch('switch');
  const peers: Peer[] = [];
  const dial = async (role: 'mb-data' | 'source', name: string, incarnation?: string) => {
    const p = await connectPeer(listen, { secret: SECRET, role, name, ...(incarnation ? { incarnation } : {}) }, silentLogger);
    peers.push(p);
    return p;
  };
  t.teardown(() => { peers.forEach((p) => p.close('test over')); sw.stop(); server.close(); });
  const routeAll = (instance: string) => session.flowMod([{ op: 'replace-all', rules: [{ id: 'all', priority: 0, match: {}, action: { type: 'forward', instance } }] }]);
  return { session, dial, routeAll };
}

const packet = (seq: number, payload = 16): WirePacket => ({
  seq, tsSec: 1, tsNsec: 0, ingressMs: 0, origLen: 54 + payload, linkType: 1, inPort: 0,
  data: tcpFrame({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1000 + (seq % 50), dport: 80, flags: 0x10, seq: 1, ack: 1, payload: Buffer.alloc(payload) }),
});

/** Resolves once the switch has taken every packet the source sent before (a barrier's ack). */
function barrier(source: Peer, id: number): Promise<void> {
  return new Promise((resolve) => {
    const on = (msg: unknown) => {
      if ((msg as { type?: string; id?: number }).type === 'barrier-ack' && (msg as { id: number }).id === id) {
        source.off('json', on);
        resolve();
      }
    };
    source.on('json', on);
    source.send({ type: 'barrier', id });
  });
}

test('packets queued for a dead instance are dropped once it is no longer routed to, not given to a new one of its name', async (t) => {
  const { session, dial, routeAll } = await setUp(t);
  const first = await dial('mb-data', 'm0');
  await routeAll('m0');
  first.close('instance died');
  await sleep(50);
  const source = await dial('source', 'replay');
  source.sendFrame(encodePacketBatch(Array.from({ length: 10 }, (_, i) => packet(i))));
  await barrier(source, 1);
  t.is((await session.stats()).dropped, 0, 'queued while the instance may come back');
  await routeAll('m1');
  t.is((await session.stats()).dropped, 10);
  t.deepEqual((await session.stats()).droppedQueued, { m0: 10 }, 'counted as the dead instance\'s');
  let got = 0;
  const again = await dial('mb-data', 'm0');
  again.onPacketBatch('packet', (ps) => { got += ps.length; });
  await sleep(200);
  t.is(got, 0);
});

test('sources paused by an instance\'s full buffer resume when that instance dies', async (t) => {
  const { dial, routeAll } = await setUp(t);
  const slow = await dial('mb-data', 'm0');
  slow.socket.pause(); // reads nothing: the switch's writes to it back up
  await routeAll('m0');
  const source = await dial('source', 'replay');
  for (let i = 0; i < 400; i++) source.sendFrame(encodePacketBatch(Array.from({ length: 50 }, (_, j) => packet(i * 50 + j, 1400))));
  await sleep(300);
  slow.socket.destroy();
  const acked = await Promise.race([barrier(source, 7).then(() => true), sleep(10_000).then(() => false)]);
  t.true(acked, 'the switch reads the source again');
});

test('a new process under an instance\'s name starts its forwarded count afresh; a reconnect of the same one does not', async (t) => {
  const { session, dial, routeAll } = await setUp(t);
  const sendAndWait = async (source: Peer, n: number, id: number) => {
    source.sendFrame(encodePacketBatch(Array.from({ length: n }, (_, i) => packet(i))));
    await barrier(source, id);
  };
  await routeAll('m0');
  const source = await dial('source', 'replay');
  const first = await dial('mb-data', 'm0', 'process-a');
  await sendAndWait(source, 5, 1);
  first.close('network blip');
  await sleep(50);
  await dial('mb-data', 'm0', 'process-a');
  await sendAndWait(source, 3, 2);
  t.is((await session.stats()).forwarded.m0, 8, 'the same process reconnected: counts go on');
  await dial('mb-data', 'm0', 'process-b');
  await sendAndWait(source, 4, 3);
  t.is((await session.stats()).forwarded.m0, 4, 'a new process: counted from 0');
});
