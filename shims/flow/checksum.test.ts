import test from 'ava';
import { ipv4HeaderChecksum, transportChecksum } from './checksum.js';
import { decode } from './decode.js';
import { readCaptureFile } from './pcap.js';
import { tcpFrame } from '../traffic/frames.js';
import { tracePath } from '../traffic/trace-dir.js';


/** Independent RFC 1071 check: the one's-complement sum of data that includes its checksum is 0xffff. */
function onesSum(...parts: Uint8Array[]): number {
  const all = Buffer.concat(parts);
  let acc = 0;
  for (let i = 0; i < all.length; i += 2) acc += (all[i] << 8) | (all[i + 1] ?? 0);
  while (acc > 0xffff) acc = (acc & 0xffff) + (acc >>> 16);
  return acc;
}

/** IPv4 pseudo-header of the packet at `ip`. */
const pseudo4 = (f: Buffer, ip: number, proto: number, l4Len: number) =>
  Buffer.concat([f.subarray(ip + 12, ip + 20), Buffer.from([0, proto, l4Len >> 8, l4Len & 0xff])]);

test('the classic IPv4 header example sums to 0xb861', (t) => {
  const h = Buffer.from('450000730000400040110000c0a80001c0a800c7', 'hex');
  t.is(ipv4HeaderChecksum(h, 0), 0xb861);
  h.writeUInt16BE(0xb861, 10);
  t.is(ipv4HeaderChecksum(h, 0), 0xb861); // the field's current value is ignored
  t.is(onesSum(h), 0xffff);
  // at an offset inside a frame, with options (IHL 6) counted
  const opt = Buffer.concat([Buffer.alloc(14), Buffer.from('460000770000400040110000c0a80001c0a800c701020304', 'hex')]);
  opt.writeUInt16BE(ipv4HeaderChecksum(opt, 14), 24);
  t.is(onesSum(opt.subarray(14, 38)), 0xffff);
});

test('tcpFrame writes checksums that verify', (t) => {
  for (const payload of [new Uint8Array(0), Buffer.from('GET / HTTP/1.1\r\n\r\n'), Buffer.from('odd')]) {
    const f = tcpFrame({ src: '192.168.0.1', dst: '192.168.0.199', sport: 51000, dport: 80, flags: 0x18, seq: 0xfffffff0, ack: 7, payload });
    const l4Len = 20 + payload.length;
    t.is(ipv4HeaderChecksum(f, 14), f.readUInt16BE(24));
    t.is(transportChecksum(f, 14, 34, l4Len, 6, 50), f.readUInt16BE(50));
    t.is(onesSum(f.subarray(14, 34)), 0xffff);
    t.is(onesSum(pseudo4(f, 14, 6, l4Len), f.subarray(34)), 0xffff, `payload of ${payload.length}`);
    t.like(decode(f), { sport: 51000, dport: 80, tcpSeq: 0xfffffff0, tcpFlags: 0x18, payloadLen: payload.length });
  }
});

test('checksums of real packets match what tshark validated', (t) => {
  // [file, frame number, IP header checksum (IPv4 only), transport checksum], from
  // `tshark -o tcp.check_checksum:TRUE -o udp.check_checksum:TRUE -T fields -e ...checksum.status` (all "Good")
  const cases: [string, number, number | null, number][] = [
    ['esnet_masscan_tcp_0_1000.pcap', 1, 0x087a, 0x419d],
    ['pcpp_DnsPackets.pcap', 1, 0xaf55, 0xfde8],
    ['pcpp_DnsPackets.pcap', 21, null, 0x63f7], // IPv6/UDP
  ];
  for (const [file, n, ipSum, l4Sum] of cases) {
    const p = readCaptureFile(tracePath(file)).packets[n - 1];
    const d = decode(p.data, p.linkType);
    const ip = d.srcOff - (d.ipVersion === 4 ? 12 : 8);
    const l4 = d.ipVersion === 4 ? ip + (p.data[ip] & 0x0f) * 4 : ip + 40;
    const l4Len = d.ipVersion === 4 ? p.data.readUInt16BE(ip + 2) - (l4 - ip) : p.data.readUInt16BE(ip + 4);
    const csumOff = l4 + (d.proto === 6 ? 16 : 6);
    if (ipSum !== null) t.is(ipv4HeaderChecksum(p.data, ip), ipSum, `${file} #${n} IP`);
    t.is(transportChecksum(p.data, ip, l4, l4Len, d.proto, csumOff), l4Sum, `${file} #${n} L4`);
  }
});

test('a UDP checksum that computes to zero is sent as 0xffff', (t) => {
  const f = Buffer.from('4500001e00000000401100000a0000010a000002' + '30390035000a0000' + '0000', 'hex');
  const sum = (b: Buffer) => transportChecksum(b, 0, 20, 10, 17, 26);
  // putting the checksum of the zero-payload datagram into the payload brings the sum to zero
  f.writeUInt16BE(sum(f), 28);
  t.is(sum(f), 0xffff);
});
