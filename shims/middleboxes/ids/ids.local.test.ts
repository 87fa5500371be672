/**
 * The ids end to end: `openmb local` runs a real switch and ids process, replays a whole capture,
 * and writes the alerts to report.json; they equal those of one in-process instance.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readCaptureFile } from '../../flow/pcap.js';
import { MiddleboxInstance } from '../../shim/runtime.js';
import { tracePath } from '../../traffic/trace-dir.js';
import { ids } from './ids.js';

const CLI = fileURLToPath(new URL('../../../../bin/openmb.js', import.meta.url));

function local(trace: string): { packets: { sent: number; processed: number; dropped: number }; outputs: Record<string, unknown> } {
  const out = mkdtempSync(join(tmpdir(), 'openmb-ids-local-'));
  execFileSync(process.execPath, [CLI, 'local', '--middlebox', 'ids', '--trace', tracePath(trace), '--out', out], { stdio: 'ignore' });
  return JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
}

function inProcess(trace: string): Record<string, unknown> {
  const mb = new MiddleboxInstance(ids, {});
  readCaptureFile(tracePath(trace)).packets.forEach((p, i) => mb.receive({ ...p, seq: i, ingressMs: 0 }));
  return mb.outputs();
}

test.serial('openmb local: the scanner in ndpi_synscan.pcap raises PortScan', (t) => {
  const report = local('ndpi_synscan.pcap');
  t.deepEqual([report.packets.sent, report.packets.processed, report.packets.dropped], [2011, 2011, 0]);
  t.deepEqual(report.outputs.alerts, [{
    ts: 1278275058.280333, rule: 'PortScan', host: '172.16.0.8',
    detail: 'more than 100 distinct targets within 60 s (latest 101: 1 host, 101 ports)',
  }]);
  t.deepEqual(report.outputs, inProcess('ndpi_synscan.pcap'));
});

test.serial('openmb local: signature alerts on esnet_nmap_80_all.pcap equal those in-process', (t) => {
  const report = local('esnet_nmap_80_all.pcap');
  t.is(report.packets.processed, 431);
  t.is((report.outputs.alerts as unknown[]).length, 35);
  t.deepEqual(report.outputs, inProcess('esnet_nmap_80_all.pcap'));
});
