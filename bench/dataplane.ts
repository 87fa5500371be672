/**
 * Data-plane benchmark (not a test): packets/s through the switch alone to 1, 2, 4 and 8
 * instances (bench/switch-alone.ts); for every middlebox, packets/s through replay -> switch ->
 * middlebox (all separate processes) on a real capture and on synthetic TCP traffic, state bytes
 * per flow, and southbound get + put throughput of its per-flow state between two instances
 * (binary batches passed on unparsed, as a brokered move does). Prints tables, or with --json one
 * object, from which bench/readme-tables.ts renders the README's.
 *
 *   npm run bench                                 # everything, default sizes
 *   npm run bench -- --middlebox monitor --flows 50000 --rounds 1
 *   npm run bench -- --only switch --json         # some sections (switch, middlebox, get-put), as JSON
 *   npm run -s bench -- --json > docs/bench/dataplane.json   # what the README's tables are rendered from
 *
 * With --json it prints one JSON object instead of the tables (bench/report/shapes.ts,
 * dataplaneReportSchema), holding the sections run:
 *   {"command": "npm run bench -- …", "date": "…", "node": "v20…", "commit": "…", "dirty": bool, "cpus": n,
 *    "loadAverage": {"start": [1, 5, 15 min], "end": […]}, "rounds": n, "flows": n,
 *    "switch": [{"instances": 1 | 2 | 4 | 8, "packets": n, "pps": n, "cpuUsPerPacket": n}, …],
 *    "middlebox": [{"middlebox": "monitor", "traffic": "…", "packets": n, "pps": n, "bytesPerFlow": n}, …],
 *    "getPut": [{"middlebox": "monitor", "scope": "per-flow", "entries": n, "stateBytes": n, "ms": n}, …]}
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LocalCluster } from '../operator/runtime/local-cluster.js';
import { silentLogger } from '../shims/log/logger.js';
import { readCaptureFile, type CapturedPacket } from '../shims/flow/pcap.js';
import type { Scope } from '../shims/protocol/messages.js';
import { MIDDLEBOXES } from '../shims/middleboxes/registry.js';
import { syntheticFlows } from '../shims/traffic/synthetic.js';
import { tracePath } from '../shims/traffic/trace-dir.js';
import { switchAlone } from './switch-alone.js';
import { startRun } from './report/run-info.js';
import type { DataplaneReport, GetPutFigure, MiddleboxFigure, RunInfo } from './report/shapes.js';

const run = startRun('bench');

const { values } = parseArgs({ options: {
  flows: { type: 'string', default: '100000' }, rounds: { type: 'string', default: '3' }, middlebox: { type: 'string', multiple: true },
  only: { type: 'string', multiple: true }, json: { type: 'boolean', default: false },
} });
const SECTIONS = ['switch', 'middlebox', 'get-put'];
for (const o of values.only ?? []) if (!SECTIONS.includes(o)) throw new Error(`--only: unknown section "${o}" (known: ${SECTIONS.join(', ')})`);
const sections = new Set(values.only ?? SECTIONS);
const flows = Number(values.flows);
const rounds = Number(values.rounds);
const types = values.middlebox ?? Object.keys(MIDDLEBOXES);

async function withCluster<T>(fn: (c: LocalCluster) => Promise<T>): Promise<T> {
  const c = await LocalCluster.start({ log: silentLogger, logDir: mkdtempSync(join(tmpdir(), 'openmb-bench-')) });
  try {
    return await fn(c);
  } finally {
    await c.stop();
  }
}

/** End-to-end rate: from the first packet sent until the middlebox has processed (and emitted) the last. */
async function throughput(type: string, packets: CapturedPacket[]): Promise<{ pps: number; bytesPerFlow: number }> {
  return withCluster(async (c) => {
    const def = MIDDLEBOXES[type];
    const egress = def.createEgress?.(def.parseConfig(def.defaultConfig));
    if (egress) await c.attachSink((p) => egress.receive(p));
    await c.addInstance(type, 'i0');
    await c.routeAll('i0');
    const start = performance.now();
    await c.replay(packets, { kind: 'asap' });
    const s = await c.settle(120_000);
    const secs = (performance.now() - start) / 1000;
    if (s.processed !== packets.length) throw new Error(`${type}: processed ${s.processed} of ${packets.length}`);
    const stats = await c.session('i0').stats(true);
    return { pps: packets.length / secs, bytesPerFlow: stats.entries['per-flow'] ? stats.bytes!['per-flow'] / stats.entries['per-flow'] : 0 };
  });
}

/** Per-flow state for most middleboxes; for one whose state is a shared cache (re), that cache. */
async function getPut(type: string, packets: CapturedPacket[], scope: Scope): Promise<{ flows: number; ms: number; bytes: number }> {
  return withCluster(async (c) => {
    const src = await c.addInstance(type, 'i0');
    const dst = await c.addInstance(type, 'i1');
    await c.routeAll('i0');
    await c.replay(packets, { kind: 'asap' });
    await c.settle(120_000);
    const bytes = (await src.stats(true)).bytes![scope];
    // Each batch is put as soon as it arrives and as the source encoded it, as a brokered move does: get and put overlap.
    const t0 = performance.now();
    const puts: Promise<{ count: number }>[] = [];
    await src.getBatches(scope, {}, (batch) => puts.push(dst.putBatch(batch)));
    const n = (await Promise.all(puts)).reduce((a, p) => a + p.count, 0);
    return { flows: n, ms: performance.now() - t0, bytes };
  });
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

const traffic: [string, CapturedPacket[]][] = [
  ['tryzeek_http.pcap', readCaptureFile(tracePath('tryzeek_http.pcap')).packets],
  ['stopddos_pkt.TCP.synflood.spoofed.pcap', readCaptureFile(tracePath('stopddos_pkt.TCP.synflood.spoofed.pcap')).packets],
  ['synthetic 20000 TCP flows', syntheticFlows({ flows: 20000 })],
];
const handshakes = syntheticFlows({ flows, handshakeOnly: true });
const median = <T>(runs: T[], by: (x: T) => number): T => runs.sort((a, b) => by(a) - by(b))[Math.floor(runs.length / 2)];
const report: Omit<DataplaneReport, keyof RunInfo> = { rounds, flows };
const print = (line: string) => { if (!values.json) console.log(line); };

print(`OpenMB data-plane benchmark: ${run.info.date}, node ${process.version}, median of ${rounds}`);
if (sections.has('switch')) {
  const figures = await withCluster((c) => switchAlone(c, handshakes, [1, 2, 4, 8], rounds));
  report.switch = figures;
  print(`\nreplay -> switch -> N instances that only count (the switch's own process; ${fmt(flows)} TCP handshakes, 64 buckets)`);
  print('instances'.padEnd(11) + 'packets'.padStart(10) + 'packets/s'.padStart(12) + '  switch CPU µs/packet');
  for (const f of figures) print(String(f.instances).padEnd(11) + fmt(f.packets).padStart(10) + fmt(f.pps).padStart(12) + f.cpuUsPerPacket.toFixed(2).padStart(22));
}
if (sections.has('middlebox')) {
  const rows: MiddleboxFigure[] = [];
  print('\nreplay -> switch -> middlebox (three processes, plus the egress sink for nat and re)');
  print('middlebox  traffic'.padEnd(52) + 'packets'.padStart(10) + 'packets/s'.padStart(12) + '  state bytes/flow');
  for (const type of types) {
    for (const [name, packets] of traffic) {
      const runs: { pps: number; bytesPerFlow: number }[] = [];
      for (let r = 0; r < rounds; r++) runs.push(await throughput(type, packets));
      const m = median(runs, (x) => x.pps);
      rows.push({ middlebox: type, traffic: name, packets: packets.length, ...m });
      print(`${type.padEnd(11)}${name}`.padEnd(52) + fmt(packets.length).padStart(10) + fmt(m.pps).padStart(12) + fmt(m.bytesPerFlow).padStart(19));
    }
  }
  report.middlebox = rows;
}
if (sections.has('get-put')) {
  const rows: GetPutFigure[] = [];
  print(`\nsouthbound get + put (instance -> instance): per-flow state after ${fmt(flows)} TCP handshakes; re: its chunk cache after the synthetic traffic`);
  print('middlebox'.padEnd(11) + 'scope'.padEnd(11) + 'entries'.padStart(10) + 'state MB'.padStart(10) + 'ms'.padStart(8) + 'entries/s'.padStart(12) + 'MB/s'.padStart(8));
  for (const type of types) {
    const shared = MIDDLEBOXES[type].sharedAllFlows === true;
    const scope: Scope = shared ? 'all-flows' : 'per-flow';
    const runs: { flows: number; ms: number; bytes: number }[] = [];
    for (let r = 0; r < rounds; r++) runs.push(await getPut(type, shared ? traffic[2][1] : handshakes, scope));
    const m = median(runs, (x) => x.ms);
    rows.push({ middlebox: type, scope, entries: m.flows, stateBytes: m.bytes, ms: m.ms });
    print(type.padEnd(11) + scope.padEnd(11) + fmt(m.flows).padStart(10) + (m.bytes / 1e6).toFixed(1).padStart(10) + fmt(m.ms).padStart(8)
      + fmt(m.flows / (m.ms / 1000)).padStart(12) + (m.bytes / 1e6 / (m.ms / 1000)).toFixed(1).padStart(8));
  }
  report.getPut = rows;
}
if (values.json) console.log(JSON.stringify({ ...run.end(), ...report } satisfies DataplaneReport));
