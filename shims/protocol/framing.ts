/**
 * Length-prefixed frames: a 4-byte big-endian payload length, then the payload. A payload that
 * starts with `{` is a JSON message; one that starts with PACKET_BATCH is a binary packet batch,
 * one that starts with STATE_BATCH a batch of state chunks (state-frames.ts).
 */
export const DEFAULT_MAX_FRAME = 64 * 1024 * 1024;
export const PACKET_BATCH = 0x01;
export const STATE_BATCH = 0x02;
const JSON_OPEN = 0x7b;

export class FrameError extends Error {
  constructor(readonly offset: number, message: string) {
    super(`stream byte ${offset}: ${message}`);
    this.name = 'FrameError';
  }
}

export type Frame = { kind: 'json'; text: string } | { kind: 'packets'; payload: Buffer } | { kind: 'state'; payload: Buffer };

/** Incremental decoder: feed it socket chunks, it returns the complete frames. */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private consumed = 0;

  constructor(private readonly maxFrame = DEFAULT_MAX_FRAME) {}

  /** Returns the frames completed by this chunk; throws FrameError on an oversize or empty frame. */
  push(chunk: Buffer): Frame[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: Frame[] = [];
    for (;;) {
      if (this.buffered < 4) break;
      const head = this.peek(4);
      const len = head.readUInt32BE(0);
      if (len === 0) throw new FrameError(this.consumed, 'empty frame');
      if (len > this.maxFrame) throw new FrameError(this.consumed, `frame of ${len} bytes exceeds the maximum of ${this.maxFrame}`);
      if (this.buffered < 4 + len) break;
      const body = this.take(4 + len).subarray(4);
      const first = body[0];
      if (first === JSON_OPEN) frames.push({ kind: 'json', text: body.toString('utf8') });
      else if (first === PACKET_BATCH) frames.push({ kind: 'packets', payload: body });
      else if (first === STATE_BATCH) frames.push({ kind: 'state', payload: body });
      else throw new FrameError(this.consumed - len - 4, `unknown frame kind 0x${first.toString(16).padStart(2, '0')}`);
    }
    return frames;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0].length >= n) return this.chunks[0];
    const joined = Buffer.concat(this.chunks);
    this.chunks = [joined];
    return joined;
  }

  private take(n: number): Buffer {
    let out: Buffer;
    if (this.chunks[0].length >= n) {
      out = this.chunks[0].subarray(0, n);
      const rest = this.chunks[0].subarray(n);
      if (rest.length > 0) this.chunks[0] = rest;
      else this.chunks.shift();
    } else {
      const joined = Buffer.concat(this.chunks);
      out = joined.subarray(0, n);
      this.chunks = joined.length > n ? [joined.subarray(n)] : [];
    }
    this.buffered -= n;
    this.consumed += n;
    return out;
  }
}

export function encodeJsonFrame(message: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(message), 'utf8');
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeUInt32BE(body.length, 0);
  body.copy(out, 4);
  return out;
}
