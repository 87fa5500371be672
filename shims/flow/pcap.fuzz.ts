/** Fuzz properties of the capture readers and writer: run briefly by pcap.fuzz.test.ts, at length by bench/fuzz.ts. */
import fc from 'fast-check';
import { deepStrictEqual } from 'node:assert/strict';
import { CaptureError, readCapture, writePcap, type PacketToWrite } from './pcap.js';
import type { Properties } from '../../bench/fuzz-properties.js';

/** Reads a whole capture; any throw but a CaptureError naming an offset inside the file fails. */
function readOrRefuse(buf: Buffer): void {
  try {
    for (const p of readCapture(buf, 'fuzz')) {
      if (p.tsNsec < 0 || p.tsNsec > 999_999_999) throw new Error(`tsNsec ${p.tsNsec} out of range`);
      if (p.data.length > buf.length) throw new Error('packet data larger than the file');
    }
  } catch (e) {
    if (!(e instanceof CaptureError)) throw e;
    if (!Number.isInteger(e.offset) || e.offset < 0 || e.offset > buf.length) throw new Error(`offset ${e.offset} outside the file`, { cause: e });
    if (!e.message.includes(`byte ${e.offset}:`)) throw new Error(`message does not name its offset: ${e.message}`);
  }
}

const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n >>> 0); return b; };
const padded = (data: Buffer) => Buffer.concat([data, Buffer.alloc((4 - (data.length % 4)) % 4)]);
function block(type: number, body: Buffer): Buffer {
  const len = 12 + body.length;
  return Buffer.concat([u32(type), u32(len), body, u32(len)]);
}

/** A well-formed pcapng: section header, an interface with if_tsresol (ns), an EPB and an SPB. */
function samplePcapng(): Buffer {
  const shb = block(0x0a0d0d0a, Buffer.concat([u32(0x1a2b3c4d), Buffer.from([1, 0, 0, 0]), Buffer.alloc(8, 0xff)]));
  const tsresol = Buffer.from([9, 0, 1, 0, 9, 0, 0, 0]);
  const idb = block(1, Buffer.concat([Buffer.from([1, 0, 0, 0]), u32(65535), tsresol, Buffer.alloc(4)]));
  const data = Buffer.from('0123456789abcdefg');
  const epb = block(6, Buffer.concat([u32(0), u32(0x0017a000), u32(0x12345678), u32(data.length), u32(data.length), padded(data)]));
  const spb = block(3, Buffer.concat([u32(data.length), padded(data)]));
  return Buffer.concat([shb, idb, epb, spb]);
}

const samplePcap = (nanosecond: boolean) => writePcap(
  [{ tsSec: 1, tsNsec: 2000, data: Buffer.from('abcdef') }, { tsSec: 3, tsNsec: 999_999_000, origLen: 1514, data: Buffer.alloc(60, 7) }],
  { nanosecond },
);

export const SAMPLES = [samplePcap(false), samplePcap(true), samplePcapng()];

// A sample with a few bytes overwritten and possibly cut short: hits the length and range checks.
const mutated = fc.record({
  sample: fc.constantFrom(...SAMPLES),
  edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
  cut: fc.option(fc.nat()),
}).map(({ sample, edits, cut }) => {
  const b = Buffer.from(sample);
  for (const [i, v] of edits) b[i % b.length] = v;
  return cut === null ? b : b.subarray(0, cut % (b.length + 1));
});

const magics = [0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1, 0x0a0d0d0a];

const packet: fc.Arbitrary<PacketToWrite> = fc.record({
  tsSec: fc.nat({ max: 0xffffffff }),
  tsNsec: fc.integer({ min: 0, max: 999_999_999 }),
  origLen: fc.option(fc.nat({ max: 0xffffffff }), { nil: undefined }),
  data: fc.uint8Array({ maxLength: 300 }),
}, { requiredKeys: ['tsSec', 'tsNsec', 'data'] });

export const PROPERTIES: Properties = {
  'arbitrary bytes are read or refused with a CaptureError naming an offset':
    fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => readOrRefuse(Buffer.from(bytes))),
  // The same behind each magic number, so the bytes reach the record and block parsers.
  'arbitrary bytes behind a pcap or pcapng magic number are read or refused with a CaptureError naming an offset':
    fc.property(fc.constantFrom(...magics), fc.uint8Array({ maxLength: 256 }), (magic, rest) => readOrRefuse(Buffer.concat([u32(magic), rest]))),
  'mutated pcap and pcapng headers are read or refused with a CaptureError naming an offset': fc.property(mutated, readOrRefuse),
  'writePcap then readCapture gives back every packet exactly': fc.property(
    fc.array(packet, { maxLength: 8 }), fc.boolean(), fc.integer({ min: 0, max: 0x03ffffff }),
    (packets, nanosecond, linkType) => {
      const got = [...readCapture(writePcap(packets, { nanosecond, linkType }))].map((p) => ({ ...p, data: [...p.data] }));
      const want = packets.map((p) => ({
        tsSec: p.tsSec,
        // µs captures keep whole microseconds only
        tsNsec: nanosecond ? p.tsNsec : Math.floor(p.tsNsec / 1000) * 1000,
        origLen: p.origLen ?? p.data.length,
        linkType,
        inPort: 0,
        data: [...p.data],
      }));
      deepStrictEqual(got, want);
    },
  ),
};
