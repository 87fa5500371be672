/**
 * The egress link over real sockets: a connection cut in the middle of a stream (by a relay
 * between the link and the receiver that drops both sides) loses nothing and repeats nothing,
 * because the receiver says where it is when the link comes back; packets wait while it is away.
 */
import test from 'ava';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { EgressReceiver } from '../egress/receiver.js';
import { encodePacketBatch, type WirePacket } from '../protocol/packets.js';
import { silentLogger } from '../log/logger.js';
import { tcpFrame } from '../traffic/frames.js';
import { EgressLink } from './egress-link.js';

const SECRET = 'egress-link-test';

const packet = (seq: number): WirePacket => ({
  seq, tsSec: 1, tsNsec: 0, ingressMs: 0, origLen: 70, linkType: 1, inPort: 0,
  data: tcpFrame({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1000 + (seq % 7), dport: 80, flags: 0x18, seq, ack: 1, payload: Buffer.alloc(16) }),
});

/** A relay from `listen` to `target` whose connections can all be cut at once. */
async function relay(listen: string, target: string): Promise<{ cut(): void; close(): void }> {
  const pairs = new Set<[net.Socket, net.Socket]>();
  const server = net.createServer((a) => {
    const b = net.connect(target);
    const pair: [net.Socket, net.Socket] = [a, b];
    pairs.add(pair);
    a.pipe(b);
    b.pipe(a);
    const end = () => { a.destroy(); b.destroy(); pairs.delete(pair); };
    a.on('error', end).on('close', end);
    b.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(listen, resolve));
  return {
    cut: () => { for (const [a, b] of pairs) { a.destroy(); b.destroy(); } },
    close: () => { server.close(); },
  };
}

async function until(what: string, ok: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(10);
  }
}

test('a connection cut mid-stream: every packet arrives once and in order, the missing ones resent', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'openmb-egress-link-'));
  const seen: number[] = [];
  const receiver = new EgressReceiver({ listen: { path: join(dir, 'sink.sock') }, secret: SECRET, log: silentLogger, onPacket: (p) => seen.push(p.seq) });
  await receiver.start();
  const r = await relay(join(dir, 'relay.sock'), join(dir, 'sink.sock'));
  const link = new EgressLink({ address: join(dir, 'relay.sock'), secret: SECRET, name: 'switch', pool: 'ns/nat', log: silentLogger, onDrain: () => {} });
  t.teardown(() => { link.stop(); r.close(); receiver.stop(); });
  await until('the link connects', () => link.stats().connected);

  let seq = 0;
  const batch = () => {
    const packets = Array.from({ length: 50 }, () => packet(++seq));
    link.send(encodePacketBatch(packets), packets.length);
  };
  let deliveredAtCut = 0;
  for (let i = 0; i < 300; i++) {
    batch();
    await new Promise(setImmediate); // let the socket write, and acknowledgements come back
    if (i === 150) {
      deliveredAtCut = link.stats().delivered;
      r.cut(); // some batches acknowledged, others written and not, more to come while it is away
    }
  }
  await until('everything is acknowledged', () => link.stats().delivered === seq);

  const s = link.stats();
  t.like(s, { connected: true, sent: seq, delivered: seq, inFlight: 0, queued: 0, undeliverable: { queueFull: 0, egressRemoved: 0 } });
  t.true(s.connects >= 2, `reconnected (${s.connects} connections)`);
  t.true(deliveredAtCut > 0 && deliveredAtCut < seq, `cut after ${deliveredAtCut} of ${seq} were acknowledged`);
  t.true(s.resent < seq - deliveredAtCut, `only what the receiver did not have is resent (${s.resent})`);
  t.log(`${seq} packets, ${deliveredAtCut} acknowledged at the cut, ${s.resent} resent after it, ${s.connects} connections`);
  t.deepEqual(seen, Array.from({ length: seq }, (_, i) => i + 1), 'each packet once, in order');
  const c = receiver.snapshot();
  t.like(c, { packets: seq, reordered: 0 });
  t.like(c.switches['ns/nat/switch'], { packets: seq, connected: true });
});

test('removing the egress counts what was still waiting as undeliverable', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'openmb-egress-link-'));
  const link = new EgressLink({ address: join(dir, 'nobody.sock'), secret: SECRET, name: 'switch', log: silentLogger, onDrain: () => {} });
  link.send(encodePacketBatch([packet(1), packet(2)]), 2);
  t.like(link.stats(), { connected: false, queued: 2, sent: 0 });
  t.is(link.stop().length, 1);
  t.deepEqual(link.stats().undeliverable, { queueFull: 0, egressRemoved: 2 });
});
