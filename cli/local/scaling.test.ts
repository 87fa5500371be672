/**
 * Scaling under traffic, a representative slice of the full matrix (`npm run oracle` runs every
 * capture × middlebox × guarantee): 1 -> 2 -> 3 -> 2 instances while the trace plays, with
 * loss-free and order-preserving moves, checked against the unscaled run and tshark.
 */
import test from 'ava';
import { tracePath } from '../../shims/traffic/trace-dir.js';
import { MIDDLEBOXES } from '../../shims/middleboxes/registry.js';
import { checkScaled } from './acceptance.js';

const SLICE: [string, string[]][] = [
  ['tryzeek_sumstat.pcap', ['monitor', 'ids', 'nat', 're']],
  ['zeek_http-1000-requests.pcap', ['monitor', 're']],
  ['ndpi_synscan.pcap', ['ids', 'monitor']],
  ['mercury_emix.pcap', ['nat', 'monitor']],
];

for (const [trace, types] of SLICE) {
  for (const type of types.filter((t) => t in MIDDLEBOXES)) {
    for (const guarantee of ['loss-free', 'order-preserving'] as const) {
      test.serial(`${type} scaled 1→2→3→2 (${guarantee}) on ${trace} matches the unscaled run`, async (t) => {
        const v = await checkScaled(type, tracePath(trace), guarantee);
        t.log(JSON.stringify(v.notes));
        t.deepEqual(v.problems, []);
      });
    }
  }
}

test.serial('with guarantee none, the report shows what the moves lost', async (t) => {
  // Every packet of this SYN flood opens a flow, so flows opened at a source between its get
  // and its delete are certain to be lost when nothing holds them. Eight seconds of traffic, so
  // the moves run while it flows even when starting instances is slow on a loaded machine.
  const v = await checkScaled('monitor', tracePath('stopddos_pkt.TCP.synflood.spoofed.pcap'), 'none', undefined, undefined, 8);
  t.true(v.problems.some((p) => p.startsWith('flows:')), `expected flow records to differ, got ${JSON.stringify(v.problems)}`);
});
