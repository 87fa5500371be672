/** Internet checksums (RFC 1071) for building and verifying IPv4, TCP and UDP headers. */

function sum16(b: Uint8Array, off: number, len: number, acc: number): number {
  let i = 0;
  for (; i + 1 < len; i += 2) acc += (b[off + i] << 8) | b[off + i + 1];
  if (i < len) acc += b[off + i] << 8;
  return acc;
}

function fold(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + (acc >>> 16);
  return acc;
}

export function ipv4HeaderChecksum(b: Uint8Array, off: number): number {
  const ihl = (b[off] & 0x0f) * 4;
  const acc = sum16(b, off, ihl, 0) - ((b[off + 10] << 8) | b[off + 11]);
  return ~fold(acc + 0xffff * 2) & 0xffff;
}

/** TCP/UDP checksum over the pseudo-header; the checksum field itself is treated as zero. */
export function transportChecksum(b: Uint8Array, ipOff: number, l4Off: number, l4Len: number, proto: number, csumOff: number): number {
  const v6 = b[ipOff] >> 4 === 6;
  let acc = v6 ? sum16(b, ipOff + 8, 32, 0) : sum16(b, ipOff + 12, 8, 0);
  acc += proto + (l4Len >>> 16) + (l4Len & 0xffff);
  acc = sum16(b, l4Off, l4Len, acc) - ((b[csumOff] << 8) | b[csumOff + 1]);
  const c = ~fold(acc + 0xffff * 2) & 0xffff;
  // UDP sends a computed zero as all ones (zero means "no checksum").
  return proto === 17 && c === 0 ? 0xffff : c;
}
