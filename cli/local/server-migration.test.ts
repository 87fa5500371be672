/**
 * The server-migration scenario across real switch and middlebox processes: mid-trace, every
 * flow of the busiest server moves, with its state, to one instance and is pinned there. The
 * moves are reported; the server's flows are all at that instance at the end and nowhere else
 * (the pins took its later packets there), and the outputs are the unscaled run's.
 */
import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tracePath } from '../../shims/traffic/trace-dir.js';
import { baseOptions } from './acceptance.js';
import { runLocal } from './run.js';

/** Middlebox, capture (whose busiest server has flows live across the migration), and the middlebox's per-flow output. */
const CASES: [string, string, string][] = [
  ['monitor', 'tryzeek_sumstat.pcap', 'flows'],
  ['monitor', 'zeek_http-1000-requests.pcap', 'flows'],
  ['ids', 'tryzeek_sumstat.pcap', 'connections'],
];

interface FlowRecord { a: { ip: string }; b: { ip: string } }

for (const [middlebox, trace, perFlow] of CASES) {
  test.serial(`${middlebox} on ${trace}: the busiest server's flows move to one instance, stay pinned there, and the outputs are the unscaled run's`, async (t) => {
    const r = await runLocal({
      ...baseOptions(middlebox, tracePath(trace)), out: mkdtempSync(join(tmpdir(), 'openmb-migration-')),
      scenario: 'server-migration', replicas: 2, at: 0.4, compare: true,
    });
    t.deepEqual(r.errors, []);
    const m = r.migration;
    if (!m) return t.fail('the report has no migration');
    const moves = r.operations.filter((o) => o.kind === 'move' && o.to === m.to && o.filter.nwDst === m.server);
    t.true(moves.length > 0, 'the migration\'s moves are reported');
    t.true(moves.reduce((n, o) => n + o.flows, 0) > 0, 'flows moved with their state mid-trace');
    t.deepEqual(r.operations.filter((o) => o.phase !== 'Succeeded'), []);
    const elsewhere = Object.entries(m.flowsAt).filter(([name, n]) => name !== m.to && n > 0);
    t.deepEqual(elsewhere, [], 'no instance but the target holds a flow of the server');
    t.true(m.pinnedPackets > 0, 'the pins carried the server\'s later packets');
    const serverFlows = (r.outputs[perFlow] as FlowRecord[]).filter((f) => f.a.ip === m.server || f.b.ip === m.server).length;
    t.is(m.flowsAt[m.to], serverFlows, 'every flow of the server is at the target');
    t.is(r.packets.processed, r.packets.sent);
    t.is(r.packets.dropped, 0);
    t.is(r.duplicateFlows, 0, 'no flow held by two instances');
    t.deepEqual(r.comparison?.differences, {}, 'outputs equal the unscaled run');
  });
}
