/**
 * The RE decoder on the egress side: rebuilds every encoded payload from its literal chunks and
 * references, keeping its own chunk cache from the packets alone (literal chunks are cached,
 * references refresh), and checks each rebuilt payload against the length and CRC-32 the encoder
 * took of the original. It shares no state with the encoders.
 */
import { crc32 } from 'node:zlib';
import { decode } from '../../flow/decode.js';
import type { WirePacket } from '../../protocol/packets.js';
import type { EgressChecker } from '../../shim/definition.js';
import { ChunkCache } from './cache.js';
import { chunkId } from './chunker.js';
import { MAX_CHUNK, type ReConfig } from './config.js';
import { encodedTransport } from './frame.js';
import { ENCODED_HEADER, LITERAL_HEADER, MARK_ENCODED, MARK_RAW, REF_BYTES, SEG_LITERAL, SEG_REFERENCE } from './format.js';

type Outcome = 'ok' | 'missingChunk' | 'digestMismatch' | 'malformed';

export class ReDecoder implements EgressChecker {
  readonly cache: ChunkCache;
  private packets = 0;
  private decoded = 0;
  private passedThrough = 0;
  private bytesOut = 0;
  private bytesOnWire = 0;
  private readonly failures = { missingChunk: 0, digestMismatch: 0, malformed: 0 };
  /** The rebuilt payload; grown, never shrunk. */
  private scratch = Buffer.alloc(2048);
  /** Length of the last payload rebuilt, -1 when the last packet had none or failed. */
  private rebuilt = -1;

  constructor(config: ReConfig) {
    this.cache = new ChunkCache(config.cacheBytes * config.decoderCacheFactor);
  }

  receive(p: WirePacket): void {
    this.packets++;
    this.rebuilt = -1;
    const d = decode(p.data, p.linkType);
    if (encodedTransport(p.data, d) < 0) {
      this.passedThrough++;
      return;
    }
    // The encoder drops link-layer trailers, so the payload runs to the frame's end.
    const outcome = this.rebuild(p.data, d.payloadOff, p.data.length);
    this.bytesOnWire += p.data.length - d.payloadOff;
    if (outcome !== 'ok') {
      this.failures[outcome]++;
      return;
    }
    this.decoded++;
    this.bytesOut += this.rebuilt;
  }

  /** The payload rebuilt from the last packet received (a view, valid until the next), or null. */
  payload(): Buffer | null {
    return this.rebuilt < 0 ? null : this.scratch.subarray(0, this.rebuilt);
  }

  private room(n: number): Buffer {
    if (this.scratch.length < n) this.scratch = Buffer.alloc(Math.max(n, this.scratch.length * 2));
    return this.scratch;
  }

  /** Rebuilds data[start, end) into `scratch` (its length into `rebuilt`), learning its literal chunks. */
  private rebuild(data: Buffer, start: number, end: number): Outcome {
    if (data[start] === MARK_RAW) {
      data.copy(this.room(end - start - 1), 0, start + 1, end);
      this.rebuilt = end - start - 1;
      return 'ok';
    }
    if (data[start] !== MARK_ENCODED || end - start < ENCODED_HEADER) return 'malformed';
    const want = data.readUInt32BE(start + 1);
    // Each reference stands for at most MAX_CHUNK bytes: a larger claim is not worth a buffer.
    if (want > Math.ceil((end - start) / REF_BYTES) * MAX_CHUNK) return 'malformed';
    const digest = data.readUInt32BE(start + 5);
    const out = this.room(want);
    let o = 0;
    let missing = false;
    let i = start + ENCODED_HEADER;
    // Every segment is read even after a missing chunk: the cache must see all of them to stay in step.
    while (i < end) {
      const tag = data[i];
      if (tag === SEG_LITERAL) {
        if (i + LITERAL_HEADER > end) return 'malformed';
        const len = data.readUInt16BE(i + 1);
        const s = i + LITERAL_HEADER;
        if (len === 0 || s + len > end || o + len > want) return 'malformed';
        if (len > REF_BYTES) {
          const id = chunkId(data, s, s + len);
          const have = this.cache.find(id, data, s, s + len);
          if (have) this.cache.touch(id, have);
          else this.cache.store(id, data, s, s + len);
        }
        data.copy(out, o, s, s + len);
        o += len;
        i = s + len;
      } else if (tag === SEG_REFERENCE) {
        if (i + REF_BYTES > end) return 'malformed';
        const id = data.readUInt32BE(i + 1) * 0x100000000 + data.readUInt32BE(i + 5);
        const len = data.readUInt16BE(i + 9);
        if (o + len > want) return 'malformed';
        const have = this.cache.get(id);
        if (have && have.len === len) {
          this.cache.touch(id, have);
          this.cache.copyOut(have, out, o);
        } else {
          missing = true;
        }
        o += len;
        i += REF_BYTES;
      } else {
        return 'malformed';
      }
    }
    if (missing) return 'missingChunk';
    if (o !== want || crc32(out.subarray(0, o)) !== digest) return 'digestMismatch';
    this.rebuilt = o;
    return 'ok';
  }

  report(): Record<string, unknown> {
    const { missingChunk, digestMismatch, malformed } = this.failures;
    return {
      packets: this.packets,
      decoded: this.decoded,
      passedThrough: this.passedThrough,
      decodeFailures: missingChunk + digestMismatch + malformed,
      failures: { ...this.failures },
      bytesOut: this.bytesOut,
      bytesOnWire: this.bytesOnWire,
      cache: { entries: this.cache.entries.size, bytes: this.cache.bytes, limit: this.cache.limit },
    };
  }
}
