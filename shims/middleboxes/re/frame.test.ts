import test from 'ava';
import { decode, TCP_ACK, TCP_PSH } from '../../flow/decode.js';
import { ipv4HeaderChecksum, transportChecksum } from '../../flow/checksum.js';
import { tcpFrame } from '../../traffic/frames.js';
import { describeFrame, encodedTransport } from './frame.js';
import { tracePackets } from './testing.js';

const payload = Buffer.from('some payload bytes');

test('TCP and UDP packets with payload are encoded; others are not', (t) => {
  const tcp = tcpFrame({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1234, dport: 80, flags: TCP_ACK | TCP_PSH, seq: 1, ack: 1, payload });
  t.is(encodedTransport(tcp, decode(tcp)), 34);
  const ack = tcpFrame({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1234, dport: 80, flags: TCP_ACK, seq: 1, ack: 1, payload: Buffer.alloc(0) });
  t.is(encodedTransport(ack, decode(ack)), -1);
  const fragment = Buffer.from(tcp);
  fragment[14 + 6] |= 0x20; // more fragments: the first fragment of a datagram
  t.is(encodedTransport(fragment, decode(fragment)), -1);
  const arp = Buffer.alloc(42);
  arp.writeUInt16BE(0x0806, 12);
  t.is(encodedTransport(arp, decode(arp)), -1);
});

test('a rebuilt IPv4/TCP frame has the lengths and checksums of its new payload', (t) => {
  const tcp = tcpFrame({ src: '10.0.0.1', dst: '10.0.0.2', sport: 1234, dport: 80, flags: TCP_ACK | TCP_PSH, seq: 1, ack: 1, payload });
  const d = decode(tcp);
  const l4 = encodedTransport(tcp, d);
  const frame = Buffer.concat([tcp.subarray(0, d.payloadOff), Buffer.from('a different, longer payload')]);
  describeFrame(frame, d, l4);
  t.is(frame.readUInt16BE(16), frame.length - 14);
  t.is(frame.readUInt16BE(24), ipv4HeaderChecksum(frame, 14));
  t.is(frame.readUInt16BE(l4 + 16), transportChecksum(frame, 14, l4, frame.length - l4, 6, l4 + 16));
  const again = decode(frame);
  t.is(again.payloadOff, d.payloadOff);
  t.is(again.payloadLen, 27);
});

test('a rebuilt IPv6 frame has the payload length of its new payload', (t) => {
  const p = tracePackets('zeek_http-1000-requests.pcap').find((x) => decode(x.data, x.linkType).payloadLen > 0)!;
  const d = decode(p.data, p.linkType);
  const l4 = encodedTransport(p.data, d);
  t.true(l4 > 0);
  const frame = Buffer.concat([p.data.subarray(0, d.payloadOff), Buffer.alloc(10, 1)]);
  describeFrame(frame, d, l4);
  const ip = d.srcOff - 8;
  t.is(frame.readUInt16BE(ip + 4), frame.length - ip - 40);
  t.is(frame.readUInt16BE(l4 + 16), transportChecksum(frame, ip, l4, frame.length - l4, 6, l4 + 16));
  t.is(decode(frame, p.linkType).payloadLen, 10);
});
