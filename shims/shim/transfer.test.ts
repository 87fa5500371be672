/**
 * The peer listener and the direct transfer over real sockets: what a listener refuses, and a
 * transfer's state arriving as the source exported it, its progress reported to the controller.
 */
import test from 'ava';
import net from 'node:net';
import { once } from 'node:events';
import { monitor } from '../middleboxes/monitor/monitor.js';
import { boundAddress, connectPeer, Peer } from '../protocol/connection.js';
import { formatAddress } from '../protocol/address.js';
import { silentLogger } from '../log/logger.js';
import { syntheticFlows } from '../traffic/synthetic.js';
import { getChunks } from './in-process.js';
import { MiddleboxInstance } from './runtime.js';
import { PeerLinks, servePeers, serveTransfer, type TransferRequest } from './transfer.js';

const SECRET = 'peer-secret';

async function listener(mb: MiddleboxInstance): Promise<{ address: string; close: () => void }> {
  const server = await servePeers({ host: '127.0.0.1', port: 0 }, SECRET, silentLogger, mb);
  return { address: formatAddress(boundAddress(server)), close: () => server.close() };
}

function reply(peer: Peer, message: Record<string, unknown>): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    peer.once('json', (m) => resolve(m as Record<string, unknown>));
    peer.send(message);
  });
}

test('a peer listener refuses a wrong secret and other roles, and serves puts only', async (t) => {
  const dst = new MiddleboxInstance(monitor, {});
  const { address, close } = await listener(dst);
  try {
    const at = { host: '127.0.0.1', port: Number(address.split(':')[1]) };
    await t.throwsAsync(connectPeer(at, { secret: 'wrong', role: 'mb-peer', name: 'x' }, silentLogger), { message: /handshake refused: wrong shared secret/ });
    // The refusal can come in the same read as hello-ok: listen from the moment the link is up.
    const refusal = new Promise((r) => void connectPeer(at, { secret: SECRET, role: 'mb', name: 'x' }, silentLogger, (p) => p.once('json', r)));
    t.like(await refusal, { type: 'error', cause: 'unauthorized', message: 'a peer listener serves instances (role mb-peer), not mb' });
    const peer = await connectPeer(at, { secret: SECRET, role: 'mb-peer', name: 'src' }, silentLogger);
    t.like(await reply(peer, { type: 'get', id: 4, scope: 'per-flow', filter: {} }), { type: 'error', id: 4, cause: 'unsupported', message: 'a peer link serves only put, not get' });
    t.like(await reply(peer, { type: 'put', id: 5, scope: 'per-flow', chunks: [] }), { type: 'put-ack', id: 5, count: 0 });
    peer.close('closed locally');
  } finally {
    close();
  }
});

test('a transfer puts the matching state into the peer under its op and reports each ack; put again, it is skipped', async (t) => {
  const src = new MiddleboxInstance(monitor, { hosts: false });
  let seq = 0;
  for (const p of syntheticFlows({ flows: 3000, handshakeOnly: true })) src.receive({ ...p, seq: ++seq, ingressMs: 0, inPort: 0 });
  const dst = new MiddleboxInstance(monitor, { hosts: false });
  const { address, close } = await listener(dst);
  const links = new PeerLinks({ name: 'src', pool: 'p', secret: SECRET }, silentLogger);
  // The controller's link: a loopback connection, the source's end and the controller's.
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection');
  const ctlSocket = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  const srcEnd = new Peer(((await accepted) as [net.Socket])[0], silentLogger);
  const ctl = new Peer(ctlSocket, silentLogger);
  const sent: Record<string, unknown>[] = [];
  let wake = () => {};
  ctl.on('json', (m) => { sent.push(m as Record<string, unknown>); wake(); });
  const transfer = async (req: TransferRequest) => {
    const ended = new Promise<void>((r) => { wake = () => { if (sent.at(-1)?.type !== 'transfer-progress') r(); }; });
    await serveTransfer(src, srcEnd, links, req);
    await ended;
  };
  try {
    const req = { id: 3, scope: 'per-flow' as const, filter: {}, op: 'move-1.abc', to: { instance: 'dst', address } };
    await transfer(req);
    const last = sent.at(-1)!;
    t.like(last, { type: 'transfer-ack', id: 3, count: 3000, skipped: 0 });
    t.true(sent.slice(0, -1).every((m) => m.type === 'transfer-progress'));
    t.true(sent.length > 2, 'progress came batch by batch');
    t.deepEqual(getChunks(dst, 'per-flow'), getChunks(src, 'per-flow'));
    await transfer({ ...req, id: 4 });
    t.like(sent.at(-1), { type: 'transfer-ack', id: 4, count: 3000, skipped: 3000 });
    await transfer({ ...req, id: 5, to: { instance: 'gone', address: '127.0.0.1:1' } });
    t.like(sent.at(-1), { type: 'error', id: 5, cause: 'internal' });
    t.regex(String(sent.at(-1)!.message), /^transfer to gone at 127\.0\.0\.1:1: /);
  } finally {
    links.close();
    ctl.close('closed locally');
    srcEnd.close('closed locally');
    server.close();
    close();
  }
});
