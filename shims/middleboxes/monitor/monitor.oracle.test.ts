/**
 * The monitor against tshark: every capture in data/traces, replayed by `openmb local` through a
 * real switch and monitor process, gives each TCP/UDP flow exactly tshark's packet and byte
 * counts (stored beside the captures, re-checked against live tshark by reference.test.ts), and
 * no flow tshark does not have.
 */
import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLocal } from '../../../cli/local/run.js';
import { silentLogger } from '../../log/logger.js';
import { tracesDir } from '../../traffic/trace-dir.js';
import { flowKeyText, type MonitorFlowOutput } from './monitor.js';
import { captures, referenceFlows } from '../../reference/stored.js';

const traces = captures();

test('the capture set is present', (t) => {
  t.true(traces.length >= 19, `found ${traces.length} captures in ${tracesDir()}`);
});

for (const trace of traces) {
  test.serial(`monitor flow counts equal tshark's: ${trace}`, async (t) => {
    const file = join(tracesDir(), trace);
    const expected = referenceFlows(file);
    const report = await runLocal({
      middlebox: 'monitor', trace: file, out: mkdtempSync(join(tmpdir(), 'openmb-oracle-')), pace: { kind: 'asap' }, config: {},
      log: silentLogger, interactive: false,
    });
    t.is(report.packets.processed, report.packets.sent);
    t.is(report.packets.dropped, 0);
    const got = new Map((report.outputs.flows as MonitorFlowOutput[]).map((f) => [flowKeyText(f), f]));
    const wrong: string[] = [];
    for (const e of expected) {
      const g = got.get(flowKeyText(e));
      if (!g) wrong.push(`missing ${flowKeyText(e)}`);
      else if (g.packets !== e.packets || g.bytes !== e.bytes) wrong.push(`${flowKeyText(e)}: ${g.packets}/${g.bytes} != tshark ${e.packets}/${e.bytes}`);
      got.delete(flowKeyText(e));
    }
    for (const k of got.keys()) wrong.push(`not in tshark: ${k}`);
    t.deepEqual(wrong.slice(0, 10), [], `${wrong.length} flows differ`);
    t.true(expected.length > 0);
  });
}
