/**
 * What a partitioning that splits a middlebox's multi-flow groups costs. The ids keeps scan
 * counters per source host and declares the `host` key; partitioned by `flow` across three
 * instances, each sees only a third of the scanner's targets, and the port scan that one
 * instance (or a host-partitioned pool) reports goes unseen. The report says so in a warning.
 */
import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../shims/log/logger.js';
import { tracePath } from '../../shims/traffic/trace-dir.js';
import { runLocal } from './run.js';

const run = (replicas: number, partitionKey?: 'flow' | 'host') => runLocal({
  middlebox: 'ids', trace: tracePath('ndpi_synscan.pcap'), out: mkdtempSync(join(tmpdir(), 'openmb-part-')), pace: { kind: 'asap' },
  config: { portScanThreshold: 700 }, log: silentLogger, interactive: false, noTimeline: true, replicas, partitionKey,
});

const scans = (r: Awaited<ReturnType<typeof run>>) => (r.outputs.alerts as { rule: string; host?: string }[]).filter((a) => a.rule === 'PortScan');

test('a flow-partitioned ids misses the port scan a host-partitioned one reports', async (t) => {
  const single = await run(1);
  const byHost = await run(3, 'host');
  const byFlow = await run(3, 'flow');
  t.deepEqual(scans(single).map((a) => a.host), ['172.16.0.8']);
  t.deepEqual(scans(byHost), scans(single));
  t.is(byHost.partitioning.warning, undefined);
  t.deepEqual(scans(byFlow), [], 'no instance sees more than 700 of the scanner\'s ~1000 targets');
  t.regex(byFlow.partitioning.warning ?? '', /needs partitioning by "host"; partitioning by "flow" splits those groups/);
  t.deepEqual(byFlow.outputs.connections, single.outputs.connections, 'per-flow records are still exact');
});
