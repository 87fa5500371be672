/**
 * The steering switch over real sockets, when an instance dies: packets queued for it are
 * dropped (and counted) once no rule routes to it, rather than handed to a later instance of
 * the same name; a new process under its name starts its forwarded count from 0; and sources
 * that its full buffer paused are resumed when it goes. Holds: released atomically with a route
 * change, lapsing when not renewed, bounded.
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

async function setUp(t: { teardown(f: () => void): void }, maxHeld?: number) {
  const server = new ControllerServer(SECRET, silentLogger);
  const controller = await server.listen({ host: '127.0.0.1', port: 0 });
  const listen = { path: join(mkdtempSync(join(tmpdir(), 'openmb-switch-')), 'switch.sock') };
  const sw = new SteeringSwitch({ name: 'switch', pool: 'p', listen, controller, secret: SECRET, log: silentLogger, ...(maxHeld ? { maxHeld } : {}) });
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

/** An instance that records the sequence numbers it is sent. */
async function recorder(dial: (role: 'mb-data', name: string) => Promise<Peer>, name: string): Promise<number[]> {
  const seqs: number[] = [];
  const peer = await dial('mb-data', name);
  peer.onPacketBatch('packet', (ps) => { for (const p of ps) seqs.push(p.seq); });
  return seqs;
}

const routeTo = (instance: string) => [{ op: 'replace-all' as const, rules: [{ id: 'all', priority: 0, match: {}, action: { type: 'forward' as const, instance } }] }];

test('a release with a route change sends the held packets, then every later one, to the new instance, in order', async (t) => {
  const { session, dial, routeAll } = await setUp(t);
  const [m0, m1] = [await recorder(dial, 'm0'), await recorder(dial, 'm1')];
  await routeAll('m0');
  const source = await dial('source', 'replay');
  source.sendFrame(encodePacketBatch(Array.from({ length: 5 }, (_, i) => packet(i))));
  await barrier(source, 1);
  await session.hold('move-1', {}, { leaseMs: 10_000 });
  source.sendFrame(encodePacketBatch(Array.from({ length: 7 }, (_, i) => packet(i))));
  await barrier(source, 2);
  t.deepEqual((await session.holds()).holds, [{ holdId: 'move-1', packets: 7, dropped: 0, leaseMs: 10_000 }]);
  const r = await session.release('move-1', routeTo('m1'));
  t.is(r.count, 7);
  source.sendFrame(encodePacketBatch(Array.from({ length: 3 }, (_, i) => packet(i))));
  await barrier(source, 3);
  await sleep(50);
  t.deepEqual(m0, [1, 2, 3, 4, 5]);
  t.deepEqual(m1, [6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
  t.deepEqual((await session.holds()).ended, [{ holdId: 'move-1', how: 'released', packets: 7, dropped: 0, version: r.version }]);
  const again = await session.release('move-1', routeTo('m0')).then(() => null, (e: Error) => e.message);
  t.regex(again ?? '', /no hold "move-1"/, 'a second release is refused');
  t.deepEqual(await session.rules().then((rs) => rs.map((x) => x.action)), [{ type: 'forward', instance: 'm1' }], 'and changed nothing');
});

test('a hold not renewed within its lease lapses: its packets go where the table routes them, in order; a renewal then is refused', async (t) => {
  const { session, dial, routeAll } = await setUp(t);
  const m0 = await recorder(dial, 'm0');
  await routeAll('m0');
  const source = await dial('source', 'replay');
  await session.hold('move-2', {}, { leaseMs: 200 });
  for (let i = 0; i < 3; i++) {
    await sleep(100);
    await session.hold('move-2', {}, { leaseMs: 200, renew: true });
  }
  source.sendFrame(encodePacketBatch(Array.from({ length: 4 }, (_, i) => packet(i))));
  await barrier(source, 1);
  t.deepEqual(m0, [], 'held while renewed');
  await sleep(400);
  t.deepEqual(m0, [1, 2, 3, 4], 'lapsed into the table, in order');
  t.is((await session.holds()).ended[0].how, 'lapsed');
  const renew = await session.hold('move-2', {}, { leaseMs: 200, renew: true }).then(() => null, (e: Error) => e.message);
  t.regex(renew ?? '', /no hold "move-2" to renew/);
  t.deepEqual((await session.holds()).holds, [], 'a refused renewal makes no hold');
});

test('a hold keeps at most maxHeld packets and counts the rest as dropped', async (t) => {
  const { session, dial, routeAll } = await setUp(t, 3);
  const m0 = await recorder(dial, 'm0');
  await routeAll('m0');
  const source = await dial('source', 'replay');
  await session.hold('move-3', {});
  source.sendFrame(encodePacketBatch(Array.from({ length: 5 }, (_, i) => packet(i))));
  await barrier(source, 1);
  const r = await session.release('move-3');
  t.deepEqual([r.count, r.dropped], [3, 2]);
  t.is((await session.stats()).dropped, 2);
  await sleep(50);
  t.deepEqual(m0, [1, 2, 3]);
});
