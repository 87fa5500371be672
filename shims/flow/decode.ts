/**
 * Decodes raw frames down to the outermost IP header and its transport header. The flow of a
 * packet is always taken from these outermost headers: an ICMP error that quotes an inner
 * IP/UDP header belongs to the ICMP packet's own flow, as tshark's conversations count it.
 */
import { ipv4Text, ipv6Text } from './address.js';

export const LINKTYPE_NULL = 0;
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LINUX_SLL = 113;

export const ETH_IPV4 = 0x0800;
export const ETH_IPV6 = 0x86dd;
export const ETH_ARP = 0x0806;
const VLAN_TAGS = new Set([0x8100, 0x88a8, 0x9100]);

export const PROTO_ICMP = 1;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
export const PROTO_ICMPV6 = 58;
const IPV6_EXTENSIONS = new Set([0, 43, 44, 60, 51, 135]);

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;

export interface Decoded {
  /** VLAN ids, outermost first. */
  vlans: number[];
  /** EtherType after any VLAN tags; 0 for frames without one (802.3 length field). */
  dlType: number;
  /** 0 when the frame carries no (decodable) IP header. */
  ipVersion: 0 | 4 | 6;
  /** Offsets of the source and destination address within the frame, and their size (4 or 16). */
  srcOff: number;
  dstOff: number;
  addrLen: number;
  ttl: number;
  /** Transport protocol after IPv6 extension headers; -1 without IP. */
  proto: number;
  /** Ports when the transport header is TCP or UDP and present in full; otherwise 0. */
  sport: number;
  dport: number;
  /** True when the TCP or UDP header was decoded (false for later fragments, truncated headers). */
  hasPorts: boolean;
  tcpFlags: number;
  tcpWindow: number;
  tcpSeq: number;
  icmpType: number;
  icmpCode: number;
  /** Transport payload, bounded by the IP length and by what was captured. */
  payloadOff: number;
  payloadLen: number;
}

export function emptyDecoded(): Decoded {
  return {
    vlans: [], dlType: 0, ipVersion: 0, srcOff: 0, dstOff: 0, addrLen: 0, ttl: 0, proto: -1,
    sport: 0, dport: 0, hasPorts: false, tcpFlags: 0, tcpWindow: 0, tcpSeq: 0, icmpType: -1, icmpCode: -1,
    payloadOff: 0, payloadLen: 0,
  };
}

/** Decodes a frame. Never throws: what cannot be decoded is left at its empty value. */
export function decode(data: Uint8Array, linkType: number = LINKTYPE_ETHERNET): Decoded {
  const d = emptyDecoded();
  const len = data.length;
  let off = 0;
  let type = 0;
  switch (linkType) {
    case LINKTYPE_ETHERNET: {
      if (len < 14) return d;
      type = (data[12] << 8) | data[13];
      off = 14;
      while (VLAN_TAGS.has(type)) {
        if (off + 4 > len) return d;
        d.vlans.push(((data[off] << 8) | data[off + 1]) & 0x0fff);
        type = (data[off + 2] << 8) | data[off + 3];
        off += 4;
      }
      if (type < 0x0600) type = 0;
      break;
    }
    case LINKTYPE_RAW:
      if (len < 1) return d;
      type = data[0] >> 4 === 6 ? ETH_IPV6 : ETH_IPV4;
      break;
    case LINKTYPE_NULL: {
      if (len < 4) return d;
      // The BSD loopback family is in host byte order; IPv6 has several values across BSDs.
      const fam = data[0] !== 0 ? data[0] | (data[1] << 8) : (data[2] << 8) | data[3];
      type = fam === 2 ? ETH_IPV4 : fam === 24 || fam === 28 || fam === 30 ? ETH_IPV6 : 0;
      off = 4;
      break;
    }
    case LINKTYPE_LINUX_SLL:
      if (len < 16) return d;
      type = (data[14] << 8) | data[15];
      off = 16;
      break;
    default:
      return d;
  }
  d.dlType = type;
  if (type === ETH_IPV4) decodeIpv4(data, off, d);
  else if (type === ETH_IPV6) decodeIpv6(data, off, d);
  return d;
}

function decodeIpv4(data: Uint8Array, off: number, d: Decoded): void {
  const len = data.length;
  if (off + 20 > len || data[off] >> 4 !== 4) return;
  const ihl = (data[off] & 0x0f) * 4;
  const total = (data[off + 2] << 8) | data[off + 3];
  if (ihl < 20 || total < ihl) return;
  d.ipVersion = 4;
  d.addrLen = 4;
  d.srcOff = off + 12;
  d.dstOff = off + 16;
  d.ttl = data[off + 8];
  d.proto = data[off + 9];
  const fragOffset = ((data[off + 6] & 0x1f) << 8) | data[off + 7];
  if (fragOffset !== 0) return; // later fragments carry no transport header
  const end = Math.min(len, off + total);
  decodeTransport(data, off + ihl, end, d);
}

function decodeIpv6(data: Uint8Array, off: number, d: Decoded): void {
  const len = data.length;
  if (off + 40 > len || data[off] >> 4 !== 6) return;
  d.ipVersion = 6;
  d.addrLen = 16;
  d.srcOff = off + 8;
  d.dstOff = off + 24;
  d.ttl = data[off + 7];
  const payloadLen = (data[off + 4] << 8) | data[off + 5];
  // A zero payload length means a jumbogram: the frame bounds the packet.
  const end = payloadLen === 0 ? len : Math.min(len, off + 40 + payloadLen);
  let next = data[off + 6];
  let p = off + 40;
  while (IPV6_EXTENSIONS.has(next)) {
    if (p + 8 > end) { d.proto = next; return; }
    const hdr = next;
    next = data[p];
    if (hdr === 44) {
      const fragOffset = ((data[p + 2] << 8) | data[p + 3]) >> 3;
      p += 8;
      if (fragOffset !== 0) { d.proto = next; return; }
    } else if (hdr === 51) {
      p += (data[p + 1] + 2) * 4;
    } else {
      p += (data[p + 1] + 1) * 8;
    }
  }
  d.proto = next;
  decodeTransport(data, p, end, d);
}

function decodeTransport(data: Uint8Array, off: number, end: number, d: Decoded): void {
  const avail = end - off;
  switch (d.proto) {
    case PROTO_TCP: {
      if (avail < 20) return;
      d.sport = (data[off] << 8) | data[off + 1];
      d.dport = (data[off + 2] << 8) | data[off + 3];
      d.hasPorts = true;
      d.tcpSeq = ((data[off + 4] << 24) | (data[off + 5] << 16) | (data[off + 6] << 8) | data[off + 7]) >>> 0;
      const hlen = (data[off + 12] >> 4) * 4;
      d.tcpFlags = data[off + 13];
      d.tcpWindow = (data[off + 14] << 8) | data[off + 15];
      const start = off + Math.max(20, hlen);
      d.payloadOff = Math.min(start, end);
      d.payloadLen = Math.max(0, end - start);
      return;
    }
    case PROTO_UDP:
      if (avail < 8) return;
      d.sport = (data[off] << 8) | data[off + 1];
      d.dport = (data[off + 2] << 8) | data[off + 3];
      d.hasPorts = true;
      d.payloadOff = off + 8;
      d.payloadLen = end - off - 8;
      return;
    case PROTO_ICMP:
    case PROTO_ICMPV6:
      if (avail < 4) return;
      d.icmpType = data[off];
      d.icmpCode = data[off + 1];
      d.payloadOff = off + 4;
      d.payloadLen = end - off - 4;
      return;
    default:
      // Extension headers or an IPv4 IHL may claim more than was captured: the payload then starts at the end.
      d.payloadOff = Math.min(off, end);
      d.payloadLen = Math.max(0, avail);
  }
}

export function srcText(data: Uint8Array, d: Decoded): string {
  return d.addrLen === 4 ? ipv4Text(data, d.srcOff) : ipv6Text(data, d.srcOff);
}

export function dstText(data: Uint8Array, d: Decoded): string {
  return d.addrLen === 4 ? ipv4Text(data, d.dstOff) : ipv6Text(data, d.dstOff);
}
