import test from 'ava';
import { TCP_ACK } from '../../flow/decode.js';
import { NAT_DEFAULTS, parseNatConfig } from './config.js';
import { NatEgress } from './egress.js';
import { tcpFrame, udpFrame, wire } from './testing.js';

const EXT = '203.0.113.1';

function egress(over: Record<string, unknown> = {}): NatEgress {
  return new NatEgress(parseNatConfig({ ...NAT_DEFAULTS, ...over }));
}

function out(sport: number, dst: string, dport: number): Buffer {
  return tcpFrame({ src: EXT, dst, sport, dport, flags: TCP_ACK, seq: 7, ack: 9, payload: Buffer.from('data') });
}

test('counts every packet, and as translated those from an external address', (t) => {
  const e = egress();
  e.receive(wire(out(1024, '198.51.100.1', 80), 1));
  e.receive(wire(udpFrame(EXT, 1025, '198.51.100.1', 53), 1));
  e.receive(wire(tcpFrame({ src: '198.51.100.1', dst: '10.0.0.5', sport: 80, dport: 40000, flags: TCP_ACK, seq: 1, ack: 1, payload: Buffer.alloc(0) }), 1));
  e.receive(wire(Buffer.alloc(60), 1));
  t.deepEqual(e.report(), {
    packets: 4, translated: 2, transportUnverifiable: 0, udpWithoutChecksum: 0, badIpChecksums: 0, badTcpChecksums: 0, badUdpChecksums: 0,
    badChecksumPackets: 0, sharedPairs: 0, externalPairsUsed: 2, sharedExamples: [],
  });
});

test('finds a wrong IPv4, TCP or UDP checksum by recomputing it in full', (t) => {
  const e = egress();
  const badIp = out(1024, '198.51.100.1', 80);
  badIp[24] ^= 0x40;
  const badTcp = out(1024, '198.51.100.1', 80);
  badTcp[14 + 20 + 20] ^= 0x01;
  const badUdp = udpFrame(EXT, 1025, '198.51.100.1', 53);
  badUdp[40] ^= 0x80;
  const noUdpSum = udpFrame(EXT, 1026, '198.51.100.1', 53);
  noUdpSum.writeUInt16BE(0, 40);
  const cut = out(1027, '198.51.100.1', 80).subarray(0, 56);
  for (const b of [badIp, badTcp, badUdp, noUdpSum, cut]) e.receive(wire(b, 1));
  t.like(e.report(), {
    translated: 5, badIpChecksums: 1, badTcpChecksums: 1, badUdpChecksums: 1, badChecksumPackets: 3, udpWithoutChecksum: 1, transportUnverifiable: 1,
  });
});

test('reads frames behind 802.1Q tags', (t) => {
  const e = egress();
  const plain = out(1024, '198.51.100.1', 80);
  const tagged = Buffer.concat([plain.subarray(0, 12), Buffer.from([0x81, 0x00, 0x00, 0x05]), plain.subarray(12)]);
  e.receive(wire(tagged, 1));
  tagged[tagged.length - 1] ^= 1;
  e.receive(wire(tagged, 1));
  t.like(e.report(), { translated: 2, badTcpChecksums: 1 });
});

test('an external pair used towards a second remote within the shortest timeout is shared', (t) => {
  const e = egress({ tcpEstablishedTimeout: 100, tcpTransitoryTimeout: 30 });
  e.receive(wire(out(1024, '198.51.100.1', 80), 0));
  e.receive(wire(out(1024, '198.51.100.1', 80), 10));
  e.receive(wire(out(1024, '198.51.100.2', 80), 39.9));
  e.receive(wire(out(1024, '198.51.100.3', 80), 69.9));
  e.receive(wire(udpFrame(EXT, 1024, '198.51.100.4', 53), 70));
  t.like(e.report(), {
    sharedPairs: 1, externalPairsUsed: 2,
    sharedExamples: ['tcp 203.0.113.1:1024 to 198.51.100.2:80 while in use to 198.51.100.1:80'],
  });
});

test('time is the latest timestamp seen, as in the NAT, so a late old timestamp cannot hide a sharing', (t) => {
  const e = egress({ udpTimeout: 60 });
  e.receive(wire(udpFrame(EXT, 3000, '198.51.100.9', 53), 100));
  e.receive(wire(udpFrame(EXT, 2000, '198.51.100.1', 53), 20));
  e.receive(wire(udpFrame(EXT, 2000, '198.51.100.2', 53), 150));
  t.is(e.report().sharedPairs, 1);
});
