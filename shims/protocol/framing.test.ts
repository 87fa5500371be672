import test from 'ava';
import { encodeJsonFrame, FrameDecoder, FrameError, type Frame } from './framing.js';
import { describeIssues, mbRequest } from './messages.js';
import { decodePacketBatch, encodePacketBatch, type WirePacket } from './packets.js';

const PACKETS: WirePacket[] = [
  // values that need every bit of their field: doubles beyond 2^32, the largest u32 and u16
  { seq: 2 ** 40 + 1, tsSec: 0xffffffff, tsNsec: 999_999_999, ingressMs: 1_700_000_000_123.5, origLen: 1514, linkType: 101, inPort: 65535, data: Buffer.from('0123456789') },
  { seq: 0, tsSec: 1, tsNsec: 0, ingressMs: 0, origLen: 60, linkType: 1, inPort: 0, data: Buffer.alloc(0) },
  { seq: 7, tsSec: 2, tsNsec: 3, ingressMs: 4, origLen: 3, linkType: 0, inPort: 2, data: Buffer.from([0xff, 0, 0x01]) },
];

const plain = (ps: WirePacket[]) => ps.map((p) => ({ ...p, data: p.data.toString('hex') }));
const frames = (fs: Frame[]) => fs.map((f) => (f.kind === 'json' ? f : { kind: f.kind, packets: plain(decodePacketBatch(f.payload)) }));

const json1 = encodeJsonFrame({ type: 'hello', name: 'ü' }); // multi-byte UTF-8 split across chunks too
const batch = encodePacketBatch(PACKETS);
const json2 = encodeJsonFrame({ type: 'barrier', id: 3 });
const STREAM = Buffer.concat([json1, batch, json2]);
const EXPECTED = [
  { kind: 'json', text: '{"type":"hello","name":"ü"}' },
  { kind: 'packets', packets: plain(PACKETS) },
  { kind: 'json', text: '{"type":"barrier","id":3}' },
];

test('several frames in one chunk', (t) => {
  t.deepEqual(frames(new FrameDecoder().push(STREAM)), EXPECTED);
});

test('frames split at every byte boundary reassemble', (t) => {
  for (let i = 0; i <= STREAM.length; i++) {
    const dec = new FrameDecoder();
    const got = [...dec.push(STREAM.subarray(0, i)), ...dec.push(STREAM.subarray(i))];
    t.deepEqual(frames(got), EXPECTED, `split at ${i}`);
  }
  const dec = new FrameDecoder(); // one byte at a time
  const got: Frame[] = [];
  for (let i = 0; i < STREAM.length; i++) got.push(...dec.push(STREAM.subarray(i, i + 1)));
  t.deepEqual(frames(got), EXPECTED);
});

const header = (len: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(len); return b; };

test('oversize, empty and unknown frames are rejected at their byte offset', (t) => {
  const max = json1.length - 4;
  // only the header of the oversize frame has arrived: no need to wait for its body
  let e = t.throws(() => new FrameDecoder(max).push(Buffer.concat([json1, header(max + 1)])), { instanceOf: FrameError });
  t.is(e?.offset, json1.length);
  t.is(e?.message, `stream byte ${json1.length}: frame of ${max + 1} bytes exceeds the maximum of ${max}`);
  e = t.throws(() => new FrameDecoder().push(Buffer.concat([json1, json2, header(0)])), { instanceOf: FrameError });
  t.is(e?.message, `stream byte ${json1.length + json2.length}: empty frame`);
  e = t.throws(() => new FrameDecoder().push(Buffer.concat([json1, header(3), Buffer.from([0x03, 1, 2])])), { instanceOf: FrameError });
  t.is(e?.message, `stream byte ${json1.length}: unknown frame kind 0x03`);
});

test('packet batches round-trip every field', (t) => {
  t.is(batch.readUInt32BE(0), batch.length - 4);
  t.is(batch.length, 4 + 5 + 3 * 36 + 13);
  t.deepEqual(plain(decodePacketBatch(batch.subarray(4))), plain(PACKETS));
  t.deepEqual(decodePacketBatch(encodePacketBatch([]).subarray(4)), []);
});

test('malformed packet batches are rejected', (t) => {
  const one = encodePacketBatch([PACKETS[0]]).subarray(4);
  t.throws(() => decodePacketBatch(one.subarray(0, one.length - 1)), { instanceOf: FrameError, message: 'stream byte 5: packet 0 of 1: 10 data bytes run past the batch' });
  t.throws(() => decodePacketBatch(Buffer.concat([one, Buffer.from([0])])), { message: `stream byte ${one.length}: 1 trailing bytes after 1 packets` });
  const two = Buffer.from(one);
  two.writeUInt32LE(2, 1); // claims a second record that is not there
  t.throws(() => decodePacketBatch(two), { message: `stream byte ${one.length}: packet 1 of 2: record header cut short` });
  t.throws(() => decodePacketBatch(Buffer.from([1, 0, 0])), { message: 'stream byte 0: packet batch shorter than its header' });
});

test('mbRequest names the bad filter field', (t) => {
  const r = mbRequest.safeParse({ type: 'get', id: 1, scope: 'per-flow', filter: { nwSrc: '10.0.0.0/40' } });
  t.false(r.success);
  if (r.success) return;
  t.deepEqual(r.error.issues.map((i) => i.path), [['filter', 'nwSrc']]);
  t.is(describeIssues(r.error), 'filter.nwSrc: "10.0.0.0/40": prefix length 40 exceeds 32 for IPv4');
  const ok = mbRequest.safeParse({ type: 'get', id: 1, scope: 'per-flow', filter: { nwSrc: '10.0.0.0/8', buckets: { key: 'flow', of: 2, ids: [1] } } });
  t.true(ok.success);
});

test('a put must name a known scope (its chunks are checked by the middlebox that imports them)', (t) => {
  t.true(mbRequest.safeParse({ type: 'put', id: 2, scope: 'multi-flow', chunks: [{ scope: 'multi-flow', key: '10.0.0.1', state: {} }] }).success);
  const r = mbRequest.safeParse({ type: 'put', id: 2, scope: 'everything', chunks: [] });
  t.false(r.success);
  if (r.success) return;
  t.deepEqual(r.error.issues.map((i) => i.path), [['scope']]);
});
