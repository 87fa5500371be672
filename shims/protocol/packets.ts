/**
 * Packets on the data path travel as binary batches (JSON would cost more than the middlebox's
 * own work). Each record carries the switch's sequence number, the capture timestamp, the
 * switch's ingress time, the original length on the wire, link type, input port and the bytes.
 */
import { FrameError, PACKET_BATCH } from './framing.js';

export interface WirePacket {
  seq: number;
  tsSec: number;
  tsNsec: number;
  /** Milliseconds since the epoch when the switch received the packet (0 before the switch). */
  ingressMs: number;
  origLen: number;
  linkType: number;
  inPort: number;
  data: Buffer;
}

const RECORD_HEADER = 36;
const BATCH_HEADER = 5;

/** Encodes packets as one complete frame (length prefix included). */
export function encodePacketBatch(packets: readonly WirePacket[]): Buffer {
  let size = 4 + BATCH_HEADER;
  for (const p of packets) size += RECORD_HEADER + p.data.length;
  const out = Buffer.allocUnsafe(size);
  out.writeUInt32BE(size - 4, 0);
  out[4] = PACKET_BATCH;
  out.writeUInt32LE(packets.length, 5);
  let o = 4 + BATCH_HEADER;
  for (const p of packets) {
    out.writeDoubleLE(p.seq, o);
    out.writeUInt32LE(p.tsSec, o + 8);
    out.writeUInt32LE(p.tsNsec, o + 12);
    out.writeDoubleLE(p.ingressMs, o + 16);
    out.writeUInt32LE(p.origLen, o + 24);
    out.writeUInt32LE(p.data.length, o + 28);
    out.writeUInt16LE(p.linkType, o + 32);
    out.writeUInt16LE(p.inPort, o + 34);
    p.data.copy(out, o + RECORD_HEADER);
    o += RECORD_HEADER + p.data.length;
  }
  return out;
}

/** Decodes a batch payload (the frame body); packet data are views into it. */
export function decodePacketBatch(payload: Buffer): WirePacket[] {
  if (payload.length < BATCH_HEADER) throw new FrameError(0, 'packet batch shorter than its header');
  const count = payload.readUInt32LE(1);
  // Grown as records are read, not sized by the count: a 5-byte batch claiming 16M packets would allocate 128 MB.
  const out: WirePacket[] = [];
  let o = BATCH_HEADER;
  for (let i = 0; i < count; i++) {
    if (o + RECORD_HEADER > payload.length) throw new FrameError(o, `packet ${i} of ${count}: record header cut short`);
    const capLen = payload.readUInt32LE(o + 28);
    if (o + RECORD_HEADER + capLen > payload.length) throw new FrameError(o, `packet ${i} of ${count}: ${capLen} data bytes run past the batch`);
    out.push({
      seq: payload.readDoubleLE(o),
      tsSec: payload.readUInt32LE(o + 8),
      tsNsec: payload.readUInt32LE(o + 12),
      ingressMs: payload.readDoubleLE(o + 16),
      origLen: payload.readUInt32LE(o + 24),
      linkType: payload.readUInt16LE(o + 32),
      inPort: payload.readUInt16LE(o + 34),
      data: payload.subarray(o + RECORD_HEADER, o + RECORD_HEADER + capLen),
    });
    o += RECORD_HEADER + capLen;
  }
  if (o !== payload.length) throw new FrameError(o, `${payload.length - o} trailing bytes after ${count} packets`);
  return out;
}
