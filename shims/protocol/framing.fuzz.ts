/** Fuzz properties of the frame, packet-batch and state-frame decoders: run briefly by framing.fuzz.test.ts, at length by bench/fuzz.ts. */
import fc from 'fast-check';
import { deepStrictEqual } from 'node:assert/strict';
import type { Properties } from '../../bench/fuzz-properties.js';
import { encodeJsonFrame, FrameDecoder, FrameError, type Frame } from './framing.js';
import { decodePacketBatch, encodePacketBatch, type WirePacket } from './packets.js';
import { SCOPES, type Chunk } from './messages.js';
import { decodeChunks, encodeChunks, readStateFrame, stateFrame, StateFrameError } from './state-frames.js';

/** Cuts a buffer at the given points (taken modulo its length), in order. */
function split(buf: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const parts: Buffer[] = [];
  let prev = 0;
  for (const c of [...at, buf.length]) {
    parts.push(buf.subarray(prev, c));
    prev = c;
  }
  return parts;
}

function feed(dec: FrameDecoder, parts: Buffer[]): Frame[] {
  return parts.flatMap((p) => dec.push(p));
}

function expectFrameError(e: unknown, limit: number): void {
  if (!(e instanceof FrameError)) throw e;
  if (!Number.isInteger(e.offset) || e.offset < 0 || e.offset > limit) throw new Error(`offset ${e.offset} outside 0-${limit}`, { cause: e });
}

const cuts = fc.array(fc.nat(), { maxLength: 8 });

// Random bytes almost never spell a length that the stream then fills; pieces with a small
// length, a kind byte and random bytes reach the kind and packet-batch checks too.
const piece = fc.tuple(fc.nat({ max: 200 }), fc.constantFrom(0, 1, 0x7b), fc.uint8Array({ maxLength: 200 })).map(([len, kind, rest]) => {
  const b = Buffer.alloc(5 + rest.length);
  b.writeUInt32BE(len);
  b[4] = kind;
  b.set(rest, 5);
  return b;
});
const stream = fc.oneof(fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)), fc.array(piece, { minLength: 1, maxLength: 4 }).map((ps) => Buffer.concat(ps)));

const u32 = fc.nat({ max: 0xffffffff });
const u16 = fc.nat({ max: 0xffff });
const wirePacket: fc.Arbitrary<WirePacket> = fc.record({
  seq: fc.double(), tsSec: u32, tsNsec: u32, ingressMs: fc.double(), origLen: u32, linkType: u16, inPort: u16,
  data: fc.uint8Array({ maxLength: 100 }).map((b) => Buffer.from(b)),
});
type Sent = { kind: 'json'; message: unknown } | { kind: 'packets'; packets: WirePacket[] };
const sent: fc.Arbitrary<Sent> = fc.oneof(
  // A JSON frame is recognised by its `{`, so messages are objects, as every protocol message is.
  fc.dictionary(fc.string(), fc.jsonValue()).map((message) => ({ kind: 'json' as const, message })),
  fc.array(wirePacket, { maxLength: 5 }).map((packets) => ({ kind: 'packets' as const, packets })),
);
const plain = (ps: WirePacket[]) => ps.map((p) => ({ ...p, data: p.data.toString('hex') }));

const mutatedBatch = fc.record({
  packets: fc.array(wirePacket, { minLength: 1, maxLength: 4 }),
  edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
  cut: fc.option(fc.nat()),
}).map(({ packets, edits, cut }) => {
  const payload = Buffer.from(encodePacketBatch(packets).subarray(4));
  for (const [i, v] of edits) payload[i % payload.length] = v;
  return cut === null ? payload : payload.subarray(0, cut % (payload.length + 1));
});

export const PROPERTIES: Properties = {
  'arbitrary byte streams, split anywhere, give frames and batches or a FrameError': fc.property(stream, cuts, fc.integer({ min: 1, max: 400 }), (buf, at, maxFrame) => {
    try {
      for (const f of feed(new FrameDecoder(maxFrame), split(buf, at))) {
        if (f.kind !== 'packets') continue;
        try {
          decodePacketBatch(f.payload);
        } catch (e) {
          expectFrameError(e, f.payload.length);
        }
      }
    } catch (e) {
      expectFrameError(e, buf.length);
    }
  }),
  'a frame over the maximum is refused as soon as its length is read': fc.property(fc.integer({ min: 1, max: 1 << 20 }), fc.integer({ min: 1, max: 1000 }), (maxFrame, over) => {
    const head = Buffer.alloc(5);
    head.writeUInt32BE(Math.min(maxFrame + over, 0xffffffff));
    head[4] = 0x7b;
    try {
      new FrameDecoder(maxFrame).push(head); // the body never comes
    } catch (e) {
      if (e instanceof FrameError && e.offset === 0 && /exceeds the maximum/.test(e.message)) return;
      throw e;
    }
    throw new Error('oversize frame accepted');
  }),
  'JSON frames and packet batches, encoded and split anywhere, decode to exactly what was sent': fc.property(fc.array(sent, { minLength: 1, maxLength: 6 }), cuts, (frames, at) => {
    const bytes = Buffer.concat(frames.map((f) => (f.kind === 'json' ? encodeJsonFrame(f.message) : encodePacketBatch(f.packets))));
    const got = feed(new FrameDecoder(), split(bytes, at)).map((f) =>
      f.kind === 'json' ? { kind: f.kind, text: f.text } : { kind: f.kind, packets: plain(decodePacketBatch(f.payload)) });
    const want = frames.map((f) =>
      f.kind === 'json' ? { kind: f.kind, text: JSON.stringify(f.message) } : { kind: f.kind, packets: plain(f.packets) });
    deepStrictEqual(got, want);
  }),
  'packet batches with bytes overwritten or cut short decode or throw a FrameError': fc.property(mutatedBatch, (payload) => {
    try {
      for (const p of decodePacketBatch(payload)) if (p.data.length > payload.length) throw new Error('packet larger than its batch');
    } catch (e) {
      expectFrameError(e, payload.length);
    }
  }),
  'state frames round-trip every chunk, and with bytes overwritten or cut short decode or throw a StateFrameError': fc.property(
    fc.constantFrom(...SCOPES), fc.array(fc.record({ key: fc.option(fc.string({ maxLength: 40 })), state: fc.jsonValue(), seq: fc.option(fc.nat(), { nil: undefined }) }), { maxLength: 6 }),
    fc.string({ maxLength: 20 }), fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { maxLength: 4 }), fc.nat(),
    (scope, raw, op, flips, cut) => {
      const chunks: Chunk[] = raw.map((c) => ({ scope, key: c.key, state: JSON.parse(JSON.stringify(c.state)) as unknown, ...(c.seq !== undefined ? { seq: c.seq } : {}) }));
      const payload = Buffer.concat(stateFrame('put', 7, encodeChunks(scope, chunks), op)).subarray(4);
      const f = readStateFrame(payload);
      deepStrictEqual([f.kind, f.id, f.scope, f.op, f.count], ['put', 7, scope, op, chunks.length]);
      deepStrictEqual(decodeChunks(f), chunks);
      const bad = Buffer.from(payload.subarray(0, payload.length - (cut % (payload.length + 1))));
      for (const [at, v] of flips) if (bad.length > 0) bad[at % bad.length] = v;
      try {
        if (bad[0] === 0x02) decodeChunks(readStateFrame(bad));
      } catch (e) {
        if (!(e instanceof StateFrameError)) throw e;
      }
    }),
};
