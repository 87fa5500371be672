import test from 'ava';
import { parseIp } from './address.js';
import {
  decode, dstText, ETH_ARP, ETH_IPV4, ETH_IPV6, LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, LINKTYPE_NULL, LINKTYPE_RAW,
  PROTO_ICMP, PROTO_TCP, PROTO_UDP, srcText, TCP_ACK, TCP_SYN,
} from './decode.js';
import { packetFlow } from './key.js';
import { readCaptureFile } from './pcap.js';
import { tracePath } from '../traffic/trace-dir.js';


// --- hand-built headers (checksums are not looked at by the decoder) ---
const ip = (text: string) => Buffer.from(parseIp(text)!);
const u16 = (v: number) => Buffer.from([v >> 8, v & 0xff]);

function eth(type: number, payload: Buffer, tags: [tpid: number, vid: number][] = []): Buffer {
  const macs = Buffer.from([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]);
  return Buffer.concat([macs, ...tags.flatMap(([tpid, vid]) => [u16(tpid), u16(0x2000 | vid)]), u16(type), payload]);
}

function ipv4(proto: number, src: string, dst: string, payload: Buffer, fragField = 0): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + payload.length, 2);
  h.writeUInt16BE(fragField, 6); // flags (0x2000 = MF) and the fragment offset in 8-byte units
  h[8] = 64;
  h[9] = proto;
  ip(src).copy(h, 12);
  ip(dst).copy(h, 16);
  return Buffer.concat([h, payload]);
}

function ipv6(next: number, src: string, dst: string, payload: Buffer): Buffer {
  const h = Buffer.alloc(40);
  h[0] = 0x60;
  h.writeUInt16BE(payload.length, 4);
  h[6] = next;
  h[7] = 57;
  ip(src).copy(h, 8);
  ip(dst).copy(h, 24);
  return Buffer.concat([h, payload]);
}

function tcp(sport: number, dport: number, flags: number, payload = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt32BE(0xdeadbeef, 4);
  h[12] = 5 << 4;
  h[13] = flags;
  h.writeUInt16BE(29200, 14);
  return Buffer.concat([h, payload]);
}

function udp(sport: number, dport: number, payload = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt16BE(8 + payload.length, 4);
  return Buffer.concat([h, payload]);
}

/** An IPv6 extension header of 8 * (1 + extra) bytes. */
const ext = (next: number, extra = 0) => Buffer.concat([Buffer.from([next, extra]), Buffer.alloc(6 + 8 * extra)]);

const PAYLOAD = Buffer.from('hello');
const FRAMES: Record<string, Buffer> = {
  ipv4Tcp: eth(ETH_IPV4, ipv4(PROTO_TCP, '10.0.0.1', '10.0.0.2', tcp(40000, 80, TCP_SYN | TCP_ACK, PAYLOAD))),
  dot1qUdp: eth(ETH_IPV4, ipv4(PROTO_UDP, '192.0.2.1', '192.0.2.2', udp(5353, 53, PAYLOAD)), [[0x8100, 42]]),
  qinqUdp: eth(ETH_IPV4, ipv4(PROTO_UDP, '192.0.2.1', '192.0.2.2', udp(5353, 53, PAYLOAD)), [[0x88a8, 100], [0x8100, 200]]),
  // hop-by-hop (8 bytes), destination options (16 bytes), then TCP
  ipv6Ext: eth(ETH_IPV6, ipv6(0, '2001:db8::1', '2001:db8::2', Buffer.concat([ext(60), ext(PROTO_TCP, 1), tcp(1234, 443, TCP_SYN, PAYLOAD)]))),
  arp: eth(ETH_ARP, Buffer.alloc(28)),
};

test('plain IPv4/TCP', (t) => {
  const f = FRAMES.ipv4Tcp;
  const d = decode(f);
  t.like(d, {
    vlans: [], dlType: ETH_IPV4, ipVersion: 4, srcOff: 26, dstOff: 30, addrLen: 4, ttl: 64, proto: PROTO_TCP,
    sport: 40000, dport: 80, hasPorts: true, tcpFlags: TCP_SYN | TCP_ACK, tcpWindow: 29200, tcpSeq: 0xdeadbeef,
    payloadOff: 54, payloadLen: 5,
  });
  t.is(srcText(f, d), '10.0.0.1');
  t.is(dstText(f, d), '10.0.0.2');
  // Ethernet padding beyond the IP total length is not payload
  t.is(decode(Buffer.concat([f, Buffer.alloc(10)])).payloadLen, 5);
});

test('802.1Q and QinQ tags are listed outermost first', (t) => {
  t.like(decode(FRAMES.dot1qUdp), { vlans: [42], dlType: ETH_IPV4, proto: PROTO_UDP, sport: 5353, dport: 53, hasPorts: true, payloadOff: 46, payloadLen: 5 });
  t.like(decode(FRAMES.qinqUdp), { vlans: [100, 200], dlType: ETH_IPV4, ipVersion: 4, proto: PROTO_UDP, sport: 5353, dport: 53, payloadLen: 5 });
});

test('IPv6 extension headers are skipped to the transport header', (t) => {
  const f = FRAMES.ipv6Ext;
  const d = decode(f);
  t.like(d, { dlType: ETH_IPV6, ipVersion: 6, addrLen: 16, ttl: 57, proto: PROTO_TCP, sport: 1234, dport: 443, hasPorts: true, tcpFlags: TCP_SYN });
  t.is(d.payloadOff, 14 + 40 + 8 + 16 + 20);
  t.is(f.subarray(d.payloadOff, d.payloadOff + d.payloadLen).toString(), 'hello');
  t.is(srcText(f, d), '2001:db8::1');
  t.is(dstText(f, d), '2001:db8::2');
});

test('IPv6 fragments: only the first carries ports', (t) => {
  const frag = (offsetUnits: number) => Buffer.concat([Buffer.from([PROTO_UDP, 0]), u16((offsetUnits << 3) | 1), Buffer.alloc(4)]);
  const first = decode(eth(ETH_IPV6, ipv6(44, 'fe80::1', 'fe80::2', Buffer.concat([frag(0), udp(1000, 2000, PAYLOAD)]))));
  t.like(first, { ipVersion: 6, proto: PROTO_UDP, sport: 1000, dport: 2000, hasPorts: true });
  const later = decode(eth(ETH_IPV6, ipv6(44, 'fe80::1', 'fe80::2', Buffer.concat([frag(185), udp(1000, 2000, PAYLOAD)]))));
  t.like(later, { ipVersion: 6, proto: PROTO_UDP, sport: 0, dport: 0, hasPorts: false });
});

test('IPv4 fragments: the first (MF set) keeps ports, later ones have none', (t) => {
  const seg = udp(1000, 2000, PAYLOAD);
  t.like(decode(eth(ETH_IPV4, ipv4(PROTO_UDP, '10.0.0.1', '10.0.0.2', seg, 0x2000))), { proto: PROTO_UDP, sport: 1000, dport: 2000, hasPorts: true });
  t.like(decode(eth(ETH_IPV4, ipv4(PROTO_UDP, '10.0.0.1', '10.0.0.2', seg, 0x2000 | 185))), { ipVersion: 4, proto: PROTO_UDP, sport: 0, dport: 0, hasPorts: false });
  // the last fragment: MF clear, offset non-zero
  t.like(decode(eth(ETH_IPV4, ipv4(PROTO_UDP, '10.0.0.1', '10.0.0.2', seg, 185))), { ipVersion: 4, hasPorts: false });
});

test('an ICMP error belongs to the outer packet’s flow, not the quoted one', (t) => {
  const quoted = ipv4(PROTO_UDP, '10.0.0.1', '198.51.100.7', udp(33000, 53, PAYLOAD));
  const icmp = Buffer.concat([Buffer.from([3, 3, 0, 0, 0, 0, 0, 0]), quoted]); // type 3 code 3: port unreachable
  const f = eth(ETH_IPV4, ipv4(PROTO_ICMP, '198.51.100.7', '10.0.0.1', icmp));
  const d = decode(f);
  t.like(d, { proto: PROTO_ICMP, icmpType: 3, icmpCode: 3, sport: 0, dport: 0, hasPorts: false });
  const flow = packetFlow(f, d)!;
  t.is(flow.id, '1 10.0.0.1 0 198.51.100.7 0');
  t.false(flow.forward); // sent by the higher address
});

test('truncation at any length never throws and never invents ports', (t) => {
  for (const [name, f] of Object.entries(FRAMES)) {
    const full = decode(f);
    for (let n = 0; n <= f.length; n++) {
      const cut = f.subarray(0, n);
      const d = decode(cut); // a throw fails the test
      packetFlow(cut, d);
      if (d.hasPorts) t.deepEqual([d.sport, d.dport], [full.sport, full.dport]);
      t.true(d.payloadOff + d.payloadLen <= n, `${name} at ${n}: payload within the capture`);
    }
  }
});

test('a TCP header cut short yields no ports', (t) => {
  const f = FRAMES.ipv4Tcp.subarray(0, 14 + 20 + 19);
  t.like(decode(f), { ipVersion: 4, proto: PROTO_TCP, hasPorts: false, sport: 0, dport: 0 });
  // the IP total length can also end the segment early, whatever was captured
  const short = Buffer.from(FRAMES.ipv4Tcp);
  short.writeUInt16BE(20 + 12, 16);
  t.like(decode(short), { ipVersion: 4, proto: PROTO_TCP, hasPorts: false });
});

test('ARP has no IP header', (t) => {
  const d = decode(FRAMES.arp);
  t.like(d, { dlType: ETH_ARP, ipVersion: 0, proto: -1, hasPorts: false });
  t.is(packetFlow(FRAMES.arp, d), null);
});

test('raw, BSD loopback and Linux cooked link types', (t) => {
  const v4 = ipv4(PROTO_UDP, '10.0.0.1', '10.0.0.2', udp(1, 2));
  const v6 = ipv6(PROTO_TCP, '::1', '::1', tcp(3, 4, TCP_SYN));
  t.like(decode(v4, LINKTYPE_RAW), { dlType: ETH_IPV4, ipVersion: 4, srcOff: 12, sport: 1, dport: 2 });
  t.like(decode(v6, LINKTYPE_RAW), { dlType: ETH_IPV6, ipVersion: 6, srcOff: 8, sport: 3, dport: 4 });
  // the loopback family is in the capturing host's byte order; IPv6 is 24, 28 or 30 depending on the BSD
  t.like(decode(Buffer.concat([Buffer.from([2, 0, 0, 0]), v4]), LINKTYPE_NULL), { ipVersion: 4, srcOff: 16, sport: 1 });
  t.like(decode(Buffer.concat([Buffer.from([0, 0, 0, 2]), v4]), LINKTYPE_NULL), { ipVersion: 4, sport: 1 });
  for (const fam of [24, 28, 30]) {
    t.like(decode(Buffer.concat([Buffer.from([fam, 0, 0, 0]), v6]), LINKTYPE_NULL), { ipVersion: 6, srcOff: 12, dport: 4 });
    t.like(decode(Buffer.concat([Buffer.from([0, 0, 0, fam]), v6]), LINKTYPE_NULL), { ipVersion: 6, dport: 4 });
  }
  t.like(decode(Buffer.concat([Buffer.from([7, 0, 0, 0]), v4]), LINKTYPE_NULL), { dlType: 0, ipVersion: 0 });
  const sll = Buffer.concat([Buffer.alloc(14), u16(ETH_IPV4), v4]);
  t.like(decode(sll, LINKTYPE_LINUX_SLL), { ipVersion: 4, srcOff: 28, sport: 1, dport: 2 });
  t.like(decode(v4, 9999), { ipVersion: 0, dlType: 0 }); // unknown link type
});

test('the first packet of a real capture (IPv6 loopback SYN) decodes as tshark shows it', (t) => {
  const [p] = readCaptureFile(tracePath('zeek_http-1000-requests.pcap')).packets;
  t.is(p.linkType, LINKTYPE_ETHERNET);
  const d = decode(p.data, p.linkType);
  // tshark: ipv6.src ::1, ipv6.dst ::1, hlim 64, 44730 -> 80, flags 0x002, win 65476, seq_raw 2119750198, len 0
  t.like(d, { dlType: ETH_IPV6, ipVersion: 6, ttl: 64, proto: PROTO_TCP, sport: 44730, dport: 80, hasPorts: true,
    tcpFlags: TCP_SYN, tcpWindow: 65476, tcpSeq: 2119750198, payloadLen: 0 });
  t.is(srcText(p.data, d), '::1');
  t.is(dstText(p.data, d), '::1');
  t.deepEqual(packetFlow(p.data, d), { id: '6 ::1 80 ::1 44730', key: { proto: 6, a: { ip: '::1', port: 80 }, b: { ip: '::1', port: 44730 } }, forward: false });
});
