/**
 * A get over a real socket: it yields to the event loop between batches (so packets keep being
 * processed during a large export) and waits while the reader does not read, so an export never
 * buffers the whole table.
 */
import test from 'ava';
import net from 'node:net';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { monitor } from '../middleboxes/monitor/monitor.js';
import { Peer } from '../protocol/connection.js';
import { silentLogger } from '../log/logger.js';
import { syntheticFlows } from '../traffic/synthetic.js';
import { stateFrame } from '../protocol/state-frames.js';
import { MiddleboxInstance } from './runtime.js';
import { exportBatches } from './state-stream.js';

const FLOWS = 40_000;

function loaded(): MiddleboxInstance {
  const mb = new MiddleboxInstance(monitor, { hosts: false });
  let seq = 0;
  for (const p of syntheticFlows({ flows: FLOWS, handshakeOnly: true })) mb.receive({ ...p, seq: ++seq, ingressMs: 0, inPort: 0 });
  return mb;
}

/** Two Peers over a loopback TCP connection: the instance's side and the reader's raw socket. */
async function pair(): Promise<{ side: Peer; reader: net.Socket; close: () => void }> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  const accepted = once(server, 'connection');
  const reader = net.connect(port, '127.0.0.1');
  const [socket] = (await accepted) as [net.Socket];
  return { side: new Peer(socket, silentLogger), reader, close: () => { reader.destroy(); socket.destroy(); server.close(); } };
}

test('an export waits while its reader does not read, and finishes once it reads again', async (t) => {
  const mb = loaded();
  const { side, reader, close } = await pair();
  try {
    reader.pause();
    let sent = 0;
    let bytes = 0;
    const done = exportBatches(mb, 'per-flow', {}, side, (batch) => {
      sent += batch.count;
      bytes += batch.body.length;
      return side.sendParts(stateFrame('state', 1, batch));
    });
    await sleep(300);
    const whilePaused = sent;
    t.true(whilePaused > 0 && whilePaused < FLOWS, `${whilePaused} of ${FLOWS} chunks went out while the reader did not read`);
    let received = 0;
    reader.on('data', (d: Buffer) => { received += d.length; });
    reader.resume();
    t.deepEqual(await done, { count: FLOWS, bytes });
    t.true(received > 0);
  } finally {
    close();
  }
});

test('packets are processed between the batches of an export', async (t) => {
  const mb = loaded();
  const { side, reader, close } = await pair();
  try {
    reader.on('data', () => {});
    const batchesBefore: number[] = [];
    let batches = 0;
    const done = exportBatches(mb, 'per-flow', {}, side, (batch) => {
      batches++;
      return side.sendParts(stateFrame('state', 1, batch));
    });
    // A packet that arrives (a timer standing for the data link's socket) while the export runs.
    const extra = syntheticFlows({ flows: 1, seed: 9 })[0];
    const before = mb.stats().packetsProcessed;
    setImmediate(() => { batchesBefore.push(batches); mb.receive({ ...extra, seq: 0, ingressMs: 0, inPort: 0 }); });
    const sent = await done;
    t.is(mb.stats().packetsProcessed, before + 1);
    t.true(batchesBefore[0] < Math.ceil(sent.count / 512), `the packet was processed after ${batchesBefore[0]} batches, before the last`);
  } finally {
    close();
  }
});
