/**
 * The failover scenario across real switch and middlebox processes: one of three instances is
 * killed mid-trace, its flows go to the survivors. Every packet sent is accounted for (processed,
 * dropped, or lost with the dead instance: queued for it, in flight, processed there), and the
 * lost flows the report counts are those the unscaled run has and the pool cannot give whole.
 */
import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tracePath } from '../../shims/traffic/trace-dir.js';
import { baseOptions } from './acceptance.js';
import { type Report, runLocal, type ScaleStep } from './run.js';

/** Each middlebox's per-flow output: one record per flow it keeps state for. */
const PER_FLOW_OUTPUT: Record<string, string> = { monitor: 'flows', ids: 'connections' };

const failover = (middlebox: string, trace: string, replicas = 3, schedule: ScaleStep[] = []) => runLocal({
  ...baseOptions(middlebox, tracePath(trace)), out: mkdtempSync(join(tmpdir(), 'openmb-failover-')),
  scenario: 'failover', replicas, at: 0.5, schedule, compare: true,
});

/** Records of the unscaled run's per-flow output that the pool's outputs do not have as they are. */
const missing = (r: Report) => r.comparison?.differences[PER_FLOW_OUTPUT[r.middlebox]]?.onlyReference ?? 0;

function accountsForEveryPacket(t: { is(a: unknown, b: unknown, m?: string): void }, r: Report): void {
  const p = r.packets;
  const l = r.lost;
  t.is(p.processed + p.dropped + p.lost, p.sent, `sent ${p.sent} = processed ${p.processed} + dropped ${p.dropped} + lost ${p.lost}`);
  t.is(l.queued + l.inFlight + l.processed, p.lost, 'lost = queued + in flight + processed there');
}

// The monitor keeps per-flow state for ICMP too, which its flow list leaves out: its captures here
// are TCP and UDP only, so that list is all of its flows. The ids keeps flows only for TCP and UDP.
const CASES: [string, string][] = [
  ['monitor', 'ndpi_synscan.pcap'],
  ['monitor', 'esnet_masscan_udp_0_1000.pcap'],
  ['monitor', 'tryzeek_http.pcap'],
  ['ids', 'mercury_emix.pcap'],
  ['ids', 'tryzeek_sumstat.pcap'],
];

for (const [middlebox, trace] of CASES) {
  test.serial(`${middlebox} on ${trace}: an instance killed mid-trace; every packet and every lost flow is counted exactly`, async (t) => {
    const r = await failover(middlebox, trace);
    t.deepEqual(r.errors, []);
    accountsForEveryPacket(t, r);
    const [dead] = r.lost.instances;
    t.deepEqual(r.instances.filter((i) => i.state === 'killed').map((i) => i.name), [dead]);
    t.true(r.lost.packets > 0 && r.lost.flows > 0, `the dead instance had traffic: ${JSON.stringify(r.lost)}`);
    t.is(r.lost.flowsCount, 'exact');
    t.is(r.lost.flows, missing(r), 'lost flows = the unscaled run\'s flows the pool cannot give whole');
    const failovers = r.operations.filter((o) => o.from === dead);
    t.is(failovers.length, 1, 'the failover is one of the reported operations');
    t.true(failovers[0].lostFlows !== undefined && failovers[0].flows === 0);
    t.deepEqual(r.operations.filter((o) => o.phase !== 'Succeeded'), []);
    t.is(r.duplicateFlows, 0);
  });
}

test.serial('when the dead instance\'s routes changed mid-trace, its lost flows are a lower bound, and the report says so', async (t) => {
  // The third instance starts at 0.2 and takes buckets with their state: which packets went to it is not known afterwards.
  const r = await failover('monitor', 'ndpi_synscan.pcap', 2, [{ at: 0.2, replicas: 3 }]);
  t.deepEqual(r.errors, []);
  accountsForEveryPacket(t, r);
  t.is(r.lost.flowsCount, 'at-least');
  t.true(r.lost.flows > 0 && r.lost.flows <= missing(r), `${r.lost.flows} flows lost at least, ${missing(r)} missing`);
});
