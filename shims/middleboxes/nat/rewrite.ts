/**
 * Source translation of an IPv4 TCP/UDP packet in place, with incremental checksum update
 * (RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m')). Incremental update carries over whatever error a
 * checksum had: a valid one stays valid, and one that was already wrong (captures taken with
 * checksum offload hold partial sums) stays wrong by the same amount. So the rewrite never makes a
 * good packet bad or a bad one good, and an egress check can recompute checksums in full.
 */
import { PROTO_TCP, PROTO_UDP } from '../../flow/decode.js';
import { ipv4HeaderChecksum, transportChecksum } from '../../flow/checksum.js';

function word(b: Uint8Array, off: number): number {
  return (b[off] << 8) | b[off + 1];
}

function putWord(b: Uint8Array, off: number, v: number): void {
  b[off] = v >>> 8;
  b[off + 1] = v & 0xff;
}

/** Adds ~m + m' for three replaced words to a checksum (ones' complement arithmetic). */
function adjust(checksum: number, m0: number, n0: number, m1: number, n1: number, m2: number, n2: number): number {
  let sum = (~checksum & 0xffff) + (~m0 & 0xffff) + n0 + (~m1 & 0xffff) + n1 + (~m2 & 0xffff) + n2;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** Writes `addr`:`port` as the source of the packet whose IPv4 header is at `ipOff` and transport header at `l4Off`. */
export function rewriteSource(b: Uint8Array, ipOff: number, l4Off: number, proto: number, addr: number, port: number): void {
  const srcOff = ipOff + 12;
  const oldHi = word(b, srcOff);
  const oldLo = word(b, srcOff + 2);
  const oldPort = word(b, l4Off);
  const hi = addr >>> 16;
  const lo = addr & 0xffff;
  putWord(b, srcOff, hi);
  putWord(b, srcOff + 2, lo);
  putWord(b, l4Off, port);
  // The IPv4 header checksum covers the address; the port word is unchanged there (m = m').
  putWord(b, ipOff + 10, adjust(word(b, ipOff + 10), oldHi, hi, oldLo, lo, 0, 0));
  const csumOff = l4Off + (proto === PROTO_TCP ? 16 : 6);
  const old = word(b, csumOff);
  // A zero UDP checksum means "none": it stays none.
  if (proto === PROTO_UDP && old === 0) return;
  const next = adjust(old, oldHi, hi, oldLo, lo, oldPort, port);
  putWord(b, csumOff, proto === PROTO_UDP && next === 0 ? 0xffff : next);
}

/** Equal in ones' complement, where 0x0000 and 0xffff are both zero. */
function onesEqual(x: number, y: number): boolean {
  return x === y || (x === 0 && y === 0xffff) || (x === 0xffff && y === 0);
}

/**
 * Whether a packet's IPv4 header checksum and, when the whole unfragmented datagram was captured,
 * its TCP/UDP checksum are right. A transport checksum that cannot be checked counts as right.
 */
export function checksumsValid(b: Uint8Array, ipOff: number, l4Off: number, proto: number): boolean {
  if (!onesEqual(ipv4HeaderChecksum(b, ipOff), word(b, ipOff + 10))) return false;
  const total = word(b, ipOff + 2);
  const moreFragments = (b[ipOff + 6] & 0x20) !== 0;
  if (moreFragments || ipOff + total > b.length) return true;
  const csumOff = l4Off + (proto === PROTO_TCP ? 16 : 6);
  const field = word(b, csumOff);
  if (proto === PROTO_UDP && field === 0) return true;
  return onesEqual(transportChecksum(b, ipOff, l4Off, ipOff + total - l4Off, proto, csumOff), field);
}
