/**
 * The NAT's checksums judged by tshark: a translated packet may be bad only where tshark lists
 * its original as bad too (captures taken with checksum offload), and the other way round. The
 * originals' verdicts are tshark's, stored beside the captures. The emitted packets, written to a
 * pcap, are dissected by live tshark where it is installed (CI installs it); elsewhere the NAT's
 * egress checker, a full recompute written apart from the NAT, counts the bad ones.
 */
import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TCP_ACK } from '../../flow/decode.js';
import { readCaptureFile, writePcap } from '../../flow/pcap.js';
import { referenceBadChecksumFrames } from '../../reference/stored.js';
import { tsharkAvailable, tsharkBadChecksumFrames } from '../../reference/tshark.js';
import { tracePath } from '../../traffic/trace-dir.js';
import { nat, type NatOutputs } from './nat.js';
import { ALL_BUT_10, fromCapture, natInstance, tcpFrame, udpFrame } from './testing.js';

const dir = mkdtempSync(join(tmpdir(), 'openmb-nat-tshark-'));

/** Frame numbers (from 1) in which live tshark finds an IPv4, TCP or UDP checksum bad. */
function badFrames(packets: { data: Uint8Array; tsSec: number; tsNsec: number; origLen?: number }[], name: string): Set<number> {
  const file = join(dir, name);
  writeFileSync(file, writePcap(packets, { nanosecond: true }));
  return new Set(tsharkBadChecksumFrames(file));
}

const live = tsharkAvailable();

if (live) test('tshark lists exactly the frames with a bad IPv4, TCP or UDP checksum', (t) => {
  const good = tcpFrame({ src: '203.0.113.1', dst: '198.51.100.1', sport: 1024, dport: 80, flags: TCP_ACK, seq: 1, ack: 1, payload: Buffer.from('x') });
  const badTcp = Buffer.from(good);
  badTcp[50] ^= 1;
  const badIp = Buffer.from(good);
  badIp[24] ^= 1;
  const badUdp = udpFrame('203.0.113.1', 1024, '198.51.100.1', 53);
  badUdp[40] ^= 1;
  const frames = [good, badTcp, badIp, badUdp, udpFrame('203.0.113.1', 1025, '198.51.100.1', 53)].map((data) => ({ data, tsSec: 1, tsNsec: 0 }));
  t.deepEqual([...badFrames(frames, 'known.pcap')].sort((a, b) => a - b), [2, 3, 4]);
});

const CASES: [string, Record<string, unknown>][] = [
  ['mercury_emix.pcap', {}],
  ['pcpp_example.pcap', {}],
  ['stopddos_pkt.TCP.synflood.spoofed.pcap', { internalPrefixes: ALL_BUT_10, portRange: [1024, 2047], tcpTransitoryTimeout: 0.05 }],
];

for (const [trace, config] of CASES) {
  test(`${trace}: a translated packet is bad only where tshark finds its original bad`, (t) => {
    const { packets } = readCaptureFile(tracePath(trace));
    const { mb, emitted } = natInstance(config);
    packets.forEach((p, i) => mb.receive(fromCapture(p, i + 1)));
    t.is(emitted.length, packets.length);
    const translated = new Set(emitted.flatMap((p, i) => (p.data !== packets[i].data ? [i + 1] : [])));
    const counters = (mb.outputs() as NatOutputs).counters;
    t.is(translated.size, counters.translatedOut);
    const before = referenceBadChecksumFrames(tracePath(trace));
    const badBefore = [...before].filter((n) => translated.has(n));
    if (!live) {
      const egress = nat.createEgress!(nat.parseConfig({ ...nat.defaultConfig, ...config }));
      for (const p of emitted) egress.receive(p);
      t.is(egress.report().badChecksumPackets, badBefore.length, 'translated packets the egress checker finds bad');
      t.is(counters.inputBadChecksums, badBefore.length);
      return;
    }
    const after = badFrames(emitted, `${trace}.out.pcap`);
    const badNow = [...after].filter((n) => translated.has(n));
    t.deepEqual(badNow.filter((n) => !before.has(n)), [], 'translated frames made bad by the NAT');
    t.deepEqual(badNow, badBefore, 'translated frames made good by the NAT');
    t.deepEqual([...after].filter((n) => !translated.has(n)), [...before].filter((n) => !translated.has(n)));
    t.is(badNow.length, counters.inputBadChecksums);
    t.log(`${translated.size} translated frames, ${badNow.length} of them bad before and after`);
  });
}
