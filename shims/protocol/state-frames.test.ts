import test from 'ava';
import { FrameDecoder } from './framing.js';
import type { Chunk } from './messages.js';
import { decodeChunks, encodeChunks, readBatch, readStateFrame, StateBatchWriter, stateFrame, StateFrameError } from './state-frames.js';

const chunks: Chunk[] = [
  { scope: 'per-flow', key: '6 10.0.0.1 1234 10.0.0.2 80', state: { packets: 3, note: 'é ✓ 𝄞' }, seq: 17 },
  { scope: 'per-flow', key: '17 10.0.0.3 53 10.0.0.4 5353', state: [1, null, 'x'] },
];

function framed(kind: 'state' | 'put', id: number, op = ''): Buffer {
  return Buffer.concat(stateFrame(kind, id, encodeChunks('per-flow', chunks), op));
}

test('a batch round-trips keys, seqs and states through a frame, and the decoder tells it from JSON and packets', (t) => {
  const [frame] = new FrameDecoder().push(framed('put', 7, 'move-3.ab12cd'));
  t.is(frame.kind, 'state');
  const f = readStateFrame((frame as { payload: Buffer }).payload);
  t.like(f, { kind: 'put', id: 7, scope: 'per-flow', op: 'move-3.ab12cd', count: 2 });
  t.deepEqual(decodeChunks(f), chunks);
  const all = encodeChunks('all-flows', [{ scope: 'all-flows', key: null, state: { cache: 'abc' } }]);
  t.deepEqual(readBatch(all), [{ key: null, seq: undefined, state: '{"cache":"abc"}' }]);
});

test('the body of a get reply goes out again as a put unchanged: the transport never re-encodes state', (t) => {
  const reply = readStateFrame(framed('state', 1).subarray(4));
  const [head, body] = stateFrame('put', 9, reply, 'op');
  t.is(body, reply.body);
  t.is(head.readUInt32BE(0), head.length - 4 + body.length);
});

test('broken frames are refused naming the byte offset and the chunk', (t) => {
  const payload = framed('state', 1).subarray(4);
  const e1 = t.throws(() => readStateFrame(payload.subarray(0, 8)), { instanceOf: StateFrameError });
  t.is(e1?.message, 'state frame byte 0: the frame ends inside its header');
  const badScope = Buffer.from(payload);
  badScope[6] = 9;
  t.regex(t.throws(() => readStateFrame(badScope))?.message ?? '', /^state frame byte 6: unknown scope 9/);
  const f = readStateFrame(payload);
  const cut = { ...f, body: f.body.subarray(0, f.body.length - 3) };
  t.regex(t.throws(() => readBatch(cut))?.message ?? '', /^state frame byte \d+: chunk 1 \(from byte \d+\) ends inside its state$/);
  t.regex(t.throws(() => readBatch({ ...f, count: 1 }))?.message ?? '', /bytes follow the 1 chunks the header counts$/);
  const w = new StateBatchWriter('per-flow');
  w.add('6 10.0.0.1 1 10.0.0.2 2', undefined, '{"packets":');
  t.regex(t.throws(() => decodeChunks(w.batch()))?.message ?? '', /^state frame byte 0: chunk 0: its state is not JSON/);
});
