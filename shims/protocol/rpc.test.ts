/**
 * Requests over real sockets: a peer that never answers fails the request after the timeout
 * instead of stalling its caller; a streamed reply whose parts keep coming is not cut short.
 */
import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../log/logger.js';
import { acceptPeers, connectPeer, type Peer } from './connection.js';
import { RpcClient, RpcTimeoutError } from './rpc.js';

const SECRET = 'rpc-test';

/** A server whose peer answers each request as `serve` says; returns a client RpcClient. */
async function pair(t: { teardown(f: () => void): void }, serve: (peer: Peer, msg: { id: number; type: string }) => void, timeoutMs: number): Promise<RpcClient> {
  const path = join(mkdtempSync(join(tmpdir(), 'openmb-rpc-')), 'rpc.sock');
  const server = await acceptPeers({ path }, SECRET, silentLogger, (peer) => peer.on('json', (m) => serve(peer, m as { id: number; type: string })));
  const client = await connectPeer({ path }, { secret: SECRET, role: 'controller', name: 'test' }, silentLogger);
  t.teardown(() => { client.close('test over'); server.close(); });
  return new RpcClient(client, new Set(['part']), () => {}, timeoutMs);
}

test('a request with no reply fails after the timeout, naming its type', async (t) => {
  const rpc = await pair(t, () => {}, 150);
  const started = Date.now();
  const err = await t.throwsAsync(rpc.request({ type: 'get-stats' }), { instanceOf: RpcTimeoutError });
  t.is(err?.message, 'no reply to get-stats within 150 ms');
  t.true(Date.now() - started >= 140);
  t.is(rpc.inFlight, 0);
});

test('a streamed reply whose parts come within the timeout of each other completes, however long it takes in all', async (t) => {
  const rpc = await pair(t, (peer, m) => {
    let n = 0;
    const tick = setInterval(() => {
      if (++n <= 6) peer.send({ type: 'part', id: m.id, n });
      else {
        clearInterval(tick);
        peer.send({ type: 'done', id: m.id });
      }
    }, 80);
  }, 150);
  const parts: unknown[] = [];
  const reply = await rpc.request<{ type: string }>({ type: 'get' }, (p) => parts.push(p));
  t.is(reply.type, 'done');
  t.is(parts.length, 6);
});
