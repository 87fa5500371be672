/**
 * Puts that name an operation are idempotent per chunk key: a controller that resumes another's
 * operation puts again what may already be in, and merged state (host tallies add up) must not
 * count twice. Other operations, and puts naming none, apply as they come.
 */
import test from 'ava';
import { monitor } from '../middleboxes/monitor/monitor.js';
import type { Chunk, MbRequest } from '../protocol/messages.js';
import type { WirePacket } from '../protocol/packets.js';
import { tcpFrame } from '../traffic/frames.js';
import { getChunks } from './in-process.js';
import { MAX_OPERATIONS_REMEMBERED, MiddleboxInstance } from './runtime.js';

const frame = tcpFrame({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1234, dport: 80, flags: 0x18, seq: 1, ack: 1, payload: Buffer.alloc(100) });
const packet = (seq: number): WirePacket => ({ seq, tsSec: 1, tsNsec: seq, ingressMs: 0, origLen: frame.length, linkType: 1, inPort: 0, data: frame });

function put(mb: MiddleboxInstance, chunks: Chunk[], op?: string): { count: number; skipped: number } {
  let ack: { count: number; skipped: number } | null = null;
  const req: MbRequest = { type: 'put', id: 1, scope: 'multi-flow', chunks, ...(op ? { op } : {}) };
  mb.handle(req, (r) => {
    if (r.type === 'error') throw new Error(String(r.message));
    ack = r as unknown as { count: number; skipped: number };
  });
  return ack!;
}

/** Host 10.0.0.1's packets out, as the instance's outputs say. */
function packetsOut(mb: MiddleboxInstance): number {
  const hosts = (mb.outputs().hosts ?? []) as { ip: string; packetsOut: number }[];
  return hosts.find((h) => h.ip === '10.0.0.1')?.packetsOut ?? 0;
}

function source(): Chunk[] {
  const src = new MiddleboxInstance(monitor, {});
  for (let i = 1; i <= 4; i++) src.receive(packet(i));
  return JSON.parse(JSON.stringify(getChunks(src, 'multi-flow'))) as Chunk[];
}

test('a chunk put again under the same operation is skipped; under another it merges again', (t) => {
  const chunks = source();
  const dst = new MiddleboxInstance(monitor, {});
  t.like(put(dst, chunks, 'merge-1'), { count: chunks.length, skipped: 0 });
  t.is(packetsOut(dst), 4);
  t.like(put(dst, chunks, 'merge-1'), { count: 0, skipped: chunks.length });
  t.is(packetsOut(dst), 4, 'the resumed put added nothing');
  put(dst, chunks, 'merge-2');
  t.is(packetsOut(dst), 8, "another operation's put adds up");
  put(dst, chunks);
  t.is(packetsOut(dst), 12, 'a put naming no operation adds up');
});

test(`an instance remembers the puts of its latest ${MAX_OPERATIONS_REMEMBERED} operations`, (t) => {
  const chunks = source();
  const dst = new MiddleboxInstance(monitor, {});
  for (let i = 0; i <= MAX_OPERATIONS_REMEMBERED; i++) put(dst, chunks, `op-${i}`);
  t.like(put(dst, chunks, `op-${MAX_OPERATIONS_REMEMBERED}`), { skipped: chunks.length }, 'the latest is remembered');
  t.like(put(dst, chunks, 'op-0'), { skipped: 0 }, 'the oldest is forgotten');
});
