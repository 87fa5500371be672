import test from 'ava';
import { ipv4HeaderChecksum, transportChecksum } from '../../flow/checksum.js';
import { TCP_ACK } from '../../flow/decode.js';
import { checksumsValid, rewriteSource } from './rewrite.js';
import { tcpFrame, udpFrame } from './testing.js';

const IP = 14;
const L4 = 34;
const EXT = 0xcb007101; // 203.0.113.1

function tcp(): Buffer {
  return tcpFrame({ src: '10.0.0.5', dst: '93.184.216.34', sport: 40000, dport: 443, flags: TCP_ACK, seq: 1, ack: 2, payload: Buffer.from('GET / HTTP/1.1\r\n\r\n') });
}

function fullTransport(b: Buffer, proto: number): number {
  return transportChecksum(b, IP, L4, b.readUInt16BE(IP + 2) - 20, proto, L4 + (proto === 6 ? 16 : 6));
}

/** How far a checksum field is from the right value, in ones' complement (0 when right). */
function error(right: number, field: number): number {
  return (right - field + 0xffff) % 0xffff;
}

test('a TCP rewrite sets source address and port and leaves both checksums equal to a full recompute', (t) => {
  const b = tcp();
  rewriteSource(b, IP, L4, 6, EXT, 1024);
  t.is([...b.subarray(IP + 12, IP + 16)].join('.'), '203.0.113.1');
  t.is(b.readUInt16BE(L4), 1024);
  t.is(b.readUInt16BE(IP + 10), ipv4HeaderChecksum(b, IP));
  t.is(b.readUInt16BE(L4 + 16), fullTransport(b, 6));
  t.true(checksumsValid(b, IP, L4, 6));
});

test('a UDP rewrite leaves both checksums equal to a full recompute', (t) => {
  const b = udpFrame('192.168.1.9', 5353, '8.8.8.8', 53);
  rewriteSource(b, IP, L4, 17, EXT, 61000);
  t.is(b.readUInt16BE(IP + 10), ipv4HeaderChecksum(b, IP));
  t.is(b.readUInt16BE(L4 + 6), fullTransport(b, 17));
});

test('a wrong checksum stays wrong by the same amount (offloaded captures stay as they were)', (t) => {
  const b = tcp();
  b.writeUInt16BE(b.readUInt16BE(L4 + 16) ^ 0x1234, L4 + 16);
  b.writeUInt16BE(b.readUInt16BE(IP + 10) ^ 0x0101, IP + 10);
  const tcpError = error(fullTransport(b, 6), b.readUInt16BE(L4 + 16));
  const ipError = error(ipv4HeaderChecksum(b, IP), b.readUInt16BE(IP + 10));
  t.false(checksumsValid(b, IP, L4, 6));
  rewriteSource(b, IP, L4, 6, EXT, 2000);
  t.false(checksumsValid(b, IP, L4, 6));
  t.is(error(fullTransport(b, 6), b.readUInt16BE(L4 + 16)), tcpError);
  t.is(error(ipv4HeaderChecksum(b, IP), b.readUInt16BE(IP + 10)), ipError);
});

test('a UDP packet without checksum (zero) keeps none', (t) => {
  const b = udpFrame('192.168.1.9', 5353, '8.8.8.8', 53);
  b.writeUInt16BE(0, L4 + 6);
  t.true(checksumsValid(b, IP, L4, 17));
  rewriteSource(b, IP, L4, 17, EXT, 61000);
  t.is(b.readUInt16BE(L4 + 6), 0);
  t.is(b.readUInt16BE(IP + 10), ipv4HeaderChecksum(b, IP));
});

test('a UDP checksum that comes out zero is sent as 0xffff', (t) => {
  const base = udpFrame('192.168.1.9', 5353, '8.8.8.8', 53);
  let hits = 0;
  for (let port = 1; port <= 65535; port++) {
    const b = Buffer.from(base);
    rewriteSource(b, IP, L4, 17, EXT, port);
    if (fullTransport(b, 17) !== 0xffff) continue;
    hits++;
    t.is(b.readUInt16BE(L4 + 6), 0xffff, `port ${port}`);
  }
  t.is(hits, 1, 'exactly one port makes the sum zero');
});

test('checksumsValid checks the IPv4 header always and the transport only over a whole unfragmented datagram', (t) => {
  const good = tcp();
  t.true(checksumsValid(good, IP, L4, 6));
  const badIp = Buffer.from(good);
  badIp[IP + 10] ^= 1;
  t.false(checksumsValid(badIp, IP, L4, 6));
  const badTcp = Buffer.from(good);
  badTcp[L4 + 16] ^= 1;
  t.false(checksumsValid(badTcp, IP, L4, 6));
  t.true(checksumsValid(badTcp.subarray(0, badTcp.length - 4), IP, L4, 6), 'a datagram cut short cannot be checked');
  const fragment = Buffer.from(badTcp);
  fragment[IP + 6] |= 0x20;
  fragment.writeUInt16BE(ipv4HeaderChecksum(fragment, IP), IP + 10);
  t.true(checksumsValid(fragment, IP, L4, 6), 'a first fragment carries only part of what its checksum covers');
});
