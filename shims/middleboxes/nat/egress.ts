/**
 * The NAT's egress check, written apart from the NAT's own code (its own header parsing and a
 * plain full-recompute Internet checksum): every emitted packet is counted; a packet whose IPv4
 * source is an external address is a translated one, and has its IPv4 header and TCP/UDP
 * checksums recomputed in full. The NAT updates checksums incrementally, which keeps a checksum
 * that was already wrong on capture wrong, so `badChecksumPackets` here equals the NAT's
 * `inputBadChecksums` exactly when the NAT neither broke a checksum nor mended one.
 *
 * Sharing: an external address:port that carries packets to a second remote endpoint sooner
 * after its last outbound packet than the shortest idle timeout of its protocol was handed to a
 * second flow while the first was alive. Time is the latest capture timestamp seen, as in the NAT.
 * Two inside hosts sharing a pair towards one remote endpoint look like one flow from outside and
 * cannot be told apart here.
 */
import type { EgressChecker } from '../../shim/definition.js';
import type { WirePacket } from '../../protocol/packets.js';
import type { NatConfig } from './config.js';

const MAX_EXAMPLES = 10;

interface PairUse {
  /** Remote address * 65536 + port. */
  remote: number;
  last: number;
}

function u16(b: Uint8Array, off: number): number {
  return (b[off] << 8) | b[off + 1];
}

function u32(b: Uint8Array, off: number): number {
  return ((b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3]) >>> 0;
}

function dotted(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** Sum of 16-bit big-endian words (an odd last byte padded with zero), not yet folded. */
function wordSum(b: Uint8Array, start: number, end: number): number {
  let s = 0;
  let i = start;
  for (; i + 1 < end; i += 2) s += (b[i] << 8) | b[i + 1];
  if (i < end) s += b[i] << 8;
  return s;
}

/** A checksummed region is right when its ones' complement sum, checksum included, is all ones. */
function sumsToAllOnes(s: number): boolean {
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s === 0xffff;
}

/** Offset of the IPv4 header in a frame, or -1. */
function ipv4Offset(b: Uint8Array, linkType: number): number {
  let off: number;
  let type: number;
  if (linkType === 1) {
    off = 12;
    type = b.length >= 14 ? u16(b, 12) : 0;
    while ((type === 0x8100 || type === 0x88a8 || type === 0x9100) && off + 6 <= b.length) {
      off += 4;
      type = u16(b, off);
    }
    off += 2;
  } else if (linkType === 113) {
    off = 16;
    type = b.length >= 16 ? u16(b, 14) : 0;
  } else if (linkType === 0) {
    off = 4;
    type = b.length >= 4 && (b[0] === 2 || b[3] === 2) ? 0x0800 : 0;
  } else if (linkType === 101) {
    off = 0;
    type = 0x0800;
  } else {
    return -1;
  }
  return type === 0x0800 && off + 20 <= b.length && b[off] >> 4 === 4 ? off : -1;
}

export class NatEgress implements EgressChecker {
  private readonly externals: ReadonlySet<number>;
  private readonly minTimeout: { tcp: number; udp: number };
  private readonly pairs = new Map<number, PairUse>();
  private clock = 0;
  private readonly counts = {
    packets: 0, translated: 0, transportUnverifiable: 0, udpWithoutChecksum: 0,
    badIpChecksums: 0, badTcpChecksums: 0, badUdpChecksums: 0, badChecksumPackets: 0, sharedPairs: 0,
  };
  private readonly examples: string[] = [];

  constructor(config: NatConfig) {
    this.externals = new Set(config.externalAddresses);
    this.minTimeout = { tcp: Math.min(config.tcpEstablishedTimeout, config.tcpTransitoryTimeout), udp: config.udpTimeout };
  }

  receive(p: WirePacket): void {
    const n = this.counts;
    n.packets++;
    const ts = p.tsSec + p.tsNsec / 1e9;
    if (ts > this.clock) this.clock = ts;
    const b = p.data;
    const ip = ipv4Offset(b, p.linkType);
    if (ip < 0) return;
    const proto = b[ip + 9];
    const ihl = (b[ip] & 0x0f) * 4;
    const laterFragment = (u16(b, ip + 6) & 0x1fff) !== 0;
    const l4 = ip + ihl;
    if ((proto !== 6 && proto !== 17) || laterFragment || l4 + (proto === 6 ? 20 : 8) > b.length || !this.externals.has(u32(b, ip + 12))) return;
    n.translated++;
    this.checkChecksums(b, ip, ihl, proto);
    this.checkSharing(proto === 6, u32(b, ip + 12), u16(b, l4), u32(b, ip + 16), u16(b, l4 + 2));
  }

  private checkChecksums(b: Uint8Array, ip: number, ihl: number, proto: number): void {
    const n = this.counts;
    const ipBad = !sumsToAllOnes(wordSum(b, ip, ip + ihl));
    if (ipBad) n.badIpChecksums++;
    const total = u16(b, ip + 2);
    const moreFragments = (b[ip + 6] & 0x20) !== 0;
    let l4Bad = false;
    if (moreFragments || ip + total > b.length) {
      n.transportUnverifiable++;
    } else if (proto === 17 && u16(b, ip + ihl + 6) === 0) {
      n.udpWithoutChecksum++;
    } else {
      const len = total - ihl;
      // Pseudo-header: source, destination, zero + protocol, transport length.
      const pseudo = wordSum(b, ip + 12, ip + 20) + proto + len;
      l4Bad = !sumsToAllOnes(pseudo + wordSum(b, ip + ihl, ip + total));
      if (l4Bad && proto === 6) n.badTcpChecksums++;
      else if (l4Bad) n.badUdpChecksums++;
    }
    if (ipBad || l4Bad) n.badChecksumPackets++;
  }

  private checkSharing(tcp: boolean, addr: number, port: number, remoteAddr: number, remotePort: number): void {
    const key = ((tcp ? 0 : 0x100000000) + addr) * 0x10000 + port;
    const remote = remoteAddr * 0x10000 + remotePort;
    const use = this.pairs.get(key);
    if (!use) {
      this.pairs.set(key, { remote, last: this.clock });
      return;
    }
    if (use.remote !== remote && this.clock - use.last < (tcp ? this.minTimeout.tcp : this.minTimeout.udp)) {
      this.counts.sharedPairs++;
      if (this.examples.length < MAX_EXAMPLES) {
        const old = `${dotted(Math.floor(use.remote / 0x10000))}:${use.remote % 0x10000}`;
        this.examples.push(`${tcp ? 'tcp' : 'udp'} ${dotted(addr)}:${port} to ${dotted(remoteAddr)}:${remotePort} while in use to ${old}`);
      }
    }
    use.remote = remote;
    use.last = this.clock;
  }

  report(): Record<string, unknown> {
    return { ...this.counts, externalPairsUsed: this.pairs.size, sharedExamples: [...this.examples] };
  }
}
