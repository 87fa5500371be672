/**
 * Which packets carry a payload the RE encodes, and rebuilding a frame around an encoded payload.
 * Both the encoder and the decoder classify with `encodedTransport` on headers the encoder never
 * changes (protocol, fragmentation, transport header), so they agree on which packets carry an
 * encoded payload without a mark outside the payload.
 */
import { type Decoded, PROTO_TCP, PROTO_UDP } from '../../flow/decode.js';
import { ipv4HeaderChecksum, transportChecksum } from '../../flow/checksum.js';

const IPV6_EXTENSIONS = new Set([0, 43, 60, 51, 135]);
const IPV6_FRAGMENT = 44;
const MAX_LENGTH_FIELD = 0xffff;

function ipOffset(d: Decoded): number {
  return d.ipVersion === 4 ? d.srcOff - 12 : d.srcOff - 8;
}

/**
 * The offset of the TCP or UDP header of a packet whose payload the RE encodes, else -1: IP
 * fragments (the first one included: its transport length and checksum cover the whole
 * datagram) and packets without transport payload pass through unchanged.
 */
export function encodedTransport(data: Uint8Array, d: Decoded): number {
  if (!d.hasPorts || d.payloadLen <= 0 || (d.proto !== PROTO_TCP && d.proto !== PROTO_UDP)) return -1;
  const ip = ipOffset(d);
  if (d.ipVersion === 4) return data[ip + 6] & 0x20 ? -1 : ip + (data[ip] & 0x0f) * 4;
  let next = data[ip + 6];
  let p = ip + 40;
  while (next !== d.proto) {
    if (next === IPV6_FRAGMENT || !IPV6_EXTENSIONS.has(next)) return -1;
    const hdr = next;
    next = data[p];
    p += hdr === 51 ? (data[p + 1] + 2) * 4 : (data[p + 1] + 1) * 8;
  }
  return p;
}

/**
 * Makes the headers of `frame` (the original headers up to the payload, then the encoded payload,
 * and nothing after it: a link-layer trailer is dropped) describe it: IP and UDP lengths, IPv4
 * header checksum, TCP/UDP checksum. A length over 65535 cannot be written; IPv6 then says 0
 * (a jumbogram: the frame bounds the packet), IPv4 and UDP say 65535, and the decoder takes the
 * payload to the frame's end, as it always does.
 */
export function describeFrame(frame: Buffer, d: Decoded, l4: number): void {
  const ip = ipOffset(d);
  const l4Len = frame.length - l4;
  if (d.ipVersion === 4) {
    frame.writeUInt16BE(Math.min(MAX_LENGTH_FIELD, frame.length - ip), ip + 2);
    frame.writeUInt16BE(ipv4HeaderChecksum(frame, ip), ip + 10);
  } else {
    const plen = frame.length - ip - 40;
    frame.writeUInt16BE(plen <= MAX_LENGTH_FIELD ? plen : 0, ip + 4);
  }
  if (d.proto === PROTO_TCP) {
    frame.writeUInt16BE(transportChecksum(frame, ip, l4, l4Len, PROTO_TCP, l4 + 16), l4 + 16);
    return;
  }
  frame.writeUInt16BE(Math.min(MAX_LENGTH_FIELD, l4Len), l4 + 4);
  // An IPv4 UDP checksum of zero means "none": keep it so.
  if (d.ipVersion === 6 || frame[l4 + 6] !== 0 || frame[l4 + 7] !== 0) {
    frame.writeUInt16BE(transportChecksum(frame, ip, l4, l4Len, PROTO_UDP, l4 + 6), l4 + 6);
  }
}
