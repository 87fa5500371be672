/** Packets per second of the NAT in process on large captures: printed, never asserted. */
import test from 'ava';
import { readCaptureFile } from '../../flow/pcap.js';
import { tracePath } from '../../traffic/trace-dir.js';
import type { NatOutputs } from './nat.js';
import { ALL_BUT_10, fromCapture, natInstance } from './testing.js';

const RUNS = 5;

for (const [trace, config, what] of [
  ['tryzeek_http.pcap', {}, 'web browsing, translated'],
  ['stopddos_pkt.TCP.synflood.spoofed.pcap', {}, 'SYN flood from outside, tracked as inbound flows'],
  ['stopddos_pkt.TCP.synflood.spoofed.pcap', { internalPrefixes: ALL_BUT_10 }, 'SYN flood sources inside, every flow translated'],
] as const) {
  test.serial(`speed on ${trace} (${what})`, (t) => {
    const packets = readCaptureFile(tracePath(trace)).packets.map((p, i) => fromCapture(p, i + 1));
    let best = 0;
    for (let run = 0; run < RUNS; run++) {
      const { mb, emitted } = natInstance(config);
      const start = performance.now();
      for (const p of packets) mb.receive(p);
      const rate = packets.length / ((performance.now() - start) / 1000);
      best = Math.max(best, rate);
      t.is(emitted.length, packets.length);
      t.is((mb.outputs() as NatOutputs).counters.packets, packets.length);
    }
    t.log(`${packets.length} packets, best of ${RUNS}: ${Math.round(best).toLocaleString('en-US')} packets/s`);
  });
}
