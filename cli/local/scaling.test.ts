/**
 * Scaling under traffic, a representative slice of the full matrix (`npm run oracle` runs every
 * capture × middlebox × guarantee × transfer): 1 -> 2 -> 3 -> 2 instances while the trace plays,
 * with loss-free and order-preserving moves, checked against the unscaled run and tshark. Each
 * capture × middlebox runs one guarantee with direct transfer and the other brokered, swapped
 * from one to the next, so both transfers meet every middlebox and both guarantees at no added
 * time.
 */
import test from 'ava';
import { tracePath } from '../../shims/traffic/trace-dir.js';
import { MIDDLEBOXES } from '../../shims/middleboxes/registry.js';
import { checkScaled } from './acceptance.js';
import type { Transfer } from '../../operator/engine/operation.js';

const SLICE: [string, string[]][] = [
  ['tryzeek_sumstat.pcap', ['monitor', 'ids', 'nat', 're']],
  ['zeek_http-1000-requests.pcap', ['monitor', 're']],
  ['ndpi_synscan.pcap', ['ids', 'monitor']],
  ['mercury_emix.pcap', ['nat', 'monitor']],
];

const CASES = SLICE.flatMap(([trace, types]) => types.filter((t) => t in MIDDLEBOXES).map((type) => ({ trace, type })));

for (const [i, { trace, type }] of CASES.entries()) {
  const [first, second]: Transfer[] = i % 2 === 0 ? ['direct', 'brokered'] : ['brokered', 'direct'];
  for (const [guarantee, transfer] of [['loss-free', first], ['order-preserving', second]] as const) {
    test.serial(`${type} scaled 1→2→3→2 (${guarantee}, ${transfer} transfer) on ${trace} matches the unscaled run`, async (t) => {
      const v = await checkScaled(type, tracePath(trace), guarantee, { transfer });
      t.log(JSON.stringify(v.notes));
      t.deepEqual(v.problems, []);
    });
  }
}

test.serial('with guarantee none, the report shows what the moves lost', async (t) => {
  // Every packet of this SYN flood opens a flow, so flows opened at a source between its get
  // and its delete are certain to be lost when nothing holds them. Eight seconds of traffic, so
  // the moves run while it flows even when starting instances is slow on a loaded machine.
  const v = await checkScaled('monitor', tracePath('stopddos_pkt.TCP.synflood.spoofed.pcap'), 'none', { seconds: 8 });
  t.true(v.problems.some((p) => p.startsWith('flows:')), `expected flow records to differ, got ${JSON.stringify(v.problems)}`);
});
