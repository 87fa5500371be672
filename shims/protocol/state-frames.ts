/**
 * Binary state frames: the chunks of a get's reply, or of a put, with each chunk's state carried
 * as the middlebox serialized it. The transport reads only the frame's header and the chunks'
 * lengths; a brokered controller re-sends a batch's body unchanged under a put header, and every
 * byte count is a frame's length.
 *
 *   payload: u8 STATE_BATCH, u8 kind (1: state, a get's reply; 2: put), u32 id, u8 scope,
 *            u16 op length, op (utf8), u32 chunk count, then the body:
 *   body:    per chunk: u16 key length (0xffff: no key, all-flows state), key (utf8),
 *            f64 seq (NaN: none), u32 state length, state (the middlebox's bytes).
 */
import { STATE_BATCH } from './framing.js';
import { SCOPES, type Chunk, type Scope } from './messages.js';

const KIND_STATE = 1;
const KIND_PUT = 2;
const NO_KEY = 0xffff;
const MAX_OP = 128;

export type StateFrameKind = 'state' | 'put';

/** A batch of encoded chunks of one scope: what a get yields and a put carries. */
export interface StateBatch {
  scope: Scope;
  count: number;
  body: Buffer;
}

export interface StateFrame extends StateBatch {
  kind: StateFrameKind;
  id: number;
  /** A put's operation (see the put message's `op`); empty when none. */
  op: string;
}

export class StateFrameError extends Error {
  constructor(readonly offset: number, message: string) {
    super(`state frame byte ${offset}: ${message}`);
    this.name = 'StateFrameError';
  }
}

/** Builds a batch's body chunk by chunk, growing one buffer (no intermediate copies per chunk). */
export class StateBatchWriter {
  private buf: Buffer;
  private at = 0;
  count = 0;

  constructor(readonly scope: Scope, capacity = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(capacity);
  }

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
  }

  /** `state`: the middlebox's serialization, already text. */
  add(key: string | null, seq: number | undefined, state: string): void {
    const keyMax = key === null ? 0 : key.length * 3;
    this.room(2 + keyMax + 8 + 4 + state.length * 3);
    let keyLen = NO_KEY;
    if (key !== null) {
      keyLen = this.buf.write(key, this.at + 2, 'utf8');
      if (keyLen >= NO_KEY) throw new RangeError(`a chunk's key of ${keyLen} bytes is too long`);
    }
    this.buf.writeUInt16BE(keyLen, this.at);
    this.at += 2 + (key === null ? 0 : keyLen);
    this.buf.writeDoubleBE(seq ?? NaN, this.at);
    const stateLen = this.buf.write(state, this.at + 12, 'utf8');
    this.buf.writeUInt32BE(stateLen, this.at + 8);
    this.at += 12 + stateLen;
    this.count++;
  }

  get bytes(): number {
    return this.at;
  }

  /** The batch so far (a view of this writer's buffer: take it once, then drop the writer). */
  batch(): StateBatch {
    return { scope: this.scope, count: this.count, body: this.buf.subarray(0, this.at) };
  }
}

/** A batch of chunks whose states are JSON values (the form a middlebox's codec gives). */
export function encodeChunks(scope: Scope, chunks: readonly Chunk[]): StateBatch {
  const w = new StateBatchWriter(scope);
  for (const c of chunks) w.add(c.key, c.seq, JSON.stringify(c.state));
  return w.batch();
}

/**
 * The frame (length prefix and header) of a batch, as two buffers to write one after the other,
 * so a body is never copied to be framed.
 */
export function stateFrame(kind: StateFrameKind, id: number, batch: StateBatch, op = ''): [Buffer, Buffer] {
  const opBytes = Buffer.from(op, 'utf8');
  if (opBytes.length > MAX_OP) throw new RangeError(`op of ${opBytes.length} bytes exceeds ${MAX_OP}`);
  const headLen = 1 + 1 + 4 + 1 + 2 + opBytes.length + 4;
  const head = Buffer.allocUnsafe(4 + headLen);
  head.writeUInt32BE(headLen + batch.body.length, 0);
  head[4] = STATE_BATCH;
  head[5] = kind === 'state' ? KIND_STATE : KIND_PUT;
  head.writeUInt32BE(id, 6);
  head[10] = SCOPES.indexOf(batch.scope);
  head.writeUInt16BE(opBytes.length, 11);
  opBytes.copy(head, 13);
  head.writeUInt32BE(batch.count, 13 + opBytes.length);
  return [head, batch.body];
}

/** Reads a frame's header (the payload as the frame decoder gives it, STATE_BATCH first). */
export function readStateFrame(payload: Buffer): StateFrame {
  const need = (at: number, n: number, what: string) => {
    if (payload.length < at + n) throw new StateFrameError(at, `the frame ends inside its ${what}`);
  };
  need(0, 13, 'header');
  const kindByte = payload[1];
  if (kindByte !== KIND_STATE && kindByte !== KIND_PUT) throw new StateFrameError(1, `unknown kind ${kindByte} (1: state, 2: put)`);
  const id = payload.readUInt32BE(2);
  const scope = SCOPES[payload[6]];
  if (scope === undefined) throw new StateFrameError(6, `unknown scope ${payload[6]} (0: per-flow, 1: multi-flow, 2: all-flows)`);
  const opLen = payload.readUInt16BE(7);
  if (opLen > MAX_OP) throw new StateFrameError(7, `op of ${opLen} bytes exceeds ${MAX_OP}`);
  need(9, opLen + 4, 'op and count');
  const op = payload.toString('utf8', 9, 9 + opLen);
  const count = payload.readUInt32BE(9 + opLen);
  return { kind: kindByte === KIND_STATE ? 'state' : 'put', id, scope, op, count, body: payload.subarray(13 + opLen) };
}

/** One chunk of a body, its state still the middlebox's text. */
export interface EncodedChunk {
  key: string | null;
  seq: number | undefined;
  state: string;
}

/**
 * The chunks of a body, checked against the count its header gave; an error names the byte
 * offset within the body and the chunk.
 */
export function readBatch(batch: StateBatch): EncodedChunk[] {
  const b = batch.body;
  const out: EncodedChunk[] = [];
  let at = 0;
  for (let i = 0; i < batch.count; i++) {
    const start = at;
    const need = (n: number, what: string) => {
      if (b.length < at + n) throw new StateFrameError(at, `chunk ${i} (from byte ${start}) ends inside its ${what}`);
    };
    need(2, 'key length');
    const keyLen = b.readUInt16BE(at);
    at += 2;
    let key: string | null = null;
    if (keyLen !== NO_KEY) {
      need(keyLen, 'key');
      key = b.toString('utf8', at, at + keyLen);
      at += keyLen;
    }
    need(12, 'seq and state length');
    const seq = b.readDoubleBE(at);
    const stateLen = b.readUInt32BE(at + 8);
    at += 12;
    need(stateLen, 'state');
    out.push({ key, seq: Number.isNaN(seq) ? undefined : seq, state: b.toString('utf8', at, at + stateLen) });
    at += stateLen;
  }
  if (at !== b.length) throw new StateFrameError(at, `${b.length - at} bytes follow the ${batch.count} chunks the header counts`);
  return out;
}

/** The chunks of a batch with their states parsed: what an instance imports. */
export function decodeChunks(batch: StateBatch): Chunk[] {
  return readBatch(batch).map((c, i) => {
    let state: unknown;
    try {
      state = JSON.parse(c.state);
    } catch (e) {
      throw new StateFrameError(0, `chunk ${i}: its state is not JSON: ${(e as Error).message}`);
    }
    const chunk: Chunk = { scope: batch.scope, key: c.key, state };
    if (c.seq !== undefined) chunk.seq = c.seq;
    return chunk;
  });
}
