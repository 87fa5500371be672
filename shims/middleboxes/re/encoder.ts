/** The encoder: a frame in, the same headers around the encoded payload out (format.ts). */
import { crc32 } from 'node:zlib';
import type { Decoded } from '../../flow/decode.js';
import type { ChunkCache } from './cache.js';
import { type Chunker, chunkId } from './chunker.js';
import { describeFrame } from './frame.js';
import { ENCODED_HEADER, LITERAL_HEADER, MARK_ENCODED, MARK_RAW, REF_BYTES, SEG_LITERAL, SEG_REFERENCE } from './format.js';
import type { FlowCounters } from './state.js';

/**
 * Encodes the payload of `data` (TCP/UDP header at `l4`), looking chunks up in `cache` and adding
 * the missing ones, and counts into `f`. Returns the new frame: one allocation per packet, sized
 * for the worst case (every chunk literal) and cut to what was written.
 */
export function encodeFrame(data: Buffer, d: Decoded, l4: number, chunker: Chunker, cache: ChunkCache, f: FlowCounters): Buffer {
  const off = d.payloadOff;
  const len = d.payloadLen;
  const end = off + len;
  let frame: Buffer;
  f.payloadPackets++;
  f.bytesIn += len;
  if (len <= REF_BYTES) {
    frame = Buffer.allocUnsafe(off + 1 + len);
    data.copy(frame, 0, 0, off);
    frame[off] = MARK_RAW;
    data.copy(frame, off + 1, off, end);
  } else {
    const n = chunker.split(data, off, end);
    const ends = chunker.ends;
    const out = Buffer.allocUnsafe(off + ENCODED_HEADER + len + n * LITERAL_HEADER);
    data.copy(out, 0, 0, off);
    out[off] = MARK_ENCODED;
    out.writeUInt32BE(len, off + 1);
    out.writeUInt32BE(crc32(data.subarray(off, end)), off + 5);
    let o = off + ENCODED_HEADER;
    let s = off;
    for (let k = 0; k < n; k++) {
      const e = ends[k];
      const clen = e - s;
      if (clen > REF_BYTES) {
        f.chunks++;
        const id = chunkId(data, s, e);
        const hit = cache.find(id, data, s, e);
        if (hit) {
          cache.touch(id, hit);
          f.hits++;
          f.bytesSaved += clen - REF_BYTES;
          out[o] = SEG_REFERENCE;
          out.writeUInt32BE(Math.floor(id / 0x100000000), o + 1);
          out.writeUInt32BE(id >>> 0, o + 5);
          out.writeUInt16BE(clen, o + 9);
          o += REF_BYTES;
          s = e;
          continue;
        }
        cache.store(id, data, s, e);
      }
      out[o] = SEG_LITERAL;
      out.writeUInt16BE(clen, o + 1);
      data.copy(out, o + LITERAL_HEADER, s, e);
      o += LITERAL_HEADER + clen;
      s = e;
    }
    frame = out.subarray(0, o);
  }
  f.encodedBytes += frame.length - off;
  describeFrame(frame, d, l4);
  return frame;
}
