/**
 * Data-plane benchmark (not a test): packets/s through replay -> switch -> monitor, all separate
 * processes, on real and synthetic traffic; and southbound get/put throughput of flow state
 * between two monitor processes. Prints a table; the README records its output.
 *
 *   npm run bench                 # default sizes
 *   npm run bench -- --flows 50000
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LocalCluster } from '../cli/local/cluster.js';
import { silentLogger } from '../shims/log/logger.js';
import { readCaptureFile, type CapturedPacket } from '../shims/flow/pcap.js';
import type { Chunk } from '../shims/protocol/messages.js';
import { syntheticFlows } from '../shims/traffic/synthetic.js';
import { tracePath } from '../shims/traffic/trace-dir.js';

const { values } = parseArgs({ options: { flows: { type: 'string', default: '100000' }, rounds: { type: 'string', default: '3' } } });
const flows = Number(values.flows);
const rounds = Number(values.rounds);

async function withCluster<T>(fn: (c: LocalCluster) => Promise<T>): Promise<T> {
  const c = await LocalCluster.start({ log: silentLogger, logDir: mkdtempSync(join(tmpdir(), 'openmb-bench-')) });
  try {
    return await fn(c);
  } finally {
    await c.stop();
  }
}

/** End-to-end rate: from the first packet sent until the monitor has processed the last. */
async function throughput(packets: CapturedPacket[]): Promise<number> {
  return withCluster(async (c) => {
    await c.addInstance('monitor', 'm0', { hosts: true });
    await c.routeAll('m0');
    const start = performance.now();
    await c.replay(packets, { kind: 'asap' });
    const s = await c.settle(120_000);
    if (s.processed !== packets.length) throw new Error(`processed ${s.processed} of ${packets.length}`);
    return packets.length / ((performance.now() - start) / 1000);
  });
}

async function getPut(packets: CapturedPacket[]): Promise<{ flows: number; getMs: number; putMs: number; bytes: number }> {
  return withCluster(async (c) => {
    const src = await c.addInstance('monitor', 'm0', { hosts: false });
    const dst = await c.addInstance('monitor', 'm1', { hosts: false });
    await c.routeAll('m0');
    await c.replay(packets, { kind: 'asap' });
    await c.settle(120_000);
    // Each batch is put as soon as it arrives, as a move does: get and put overlap.
    const bytes = (await src.stats(true)).bytes!['per-flow'];
    const t0 = performance.now();
    const puts: Promise<number>[] = [];
    await src.get('per-flow', {}, (cs: Chunk[]) => puts.push(dst.put('per-flow', cs)));
    const t1 = performance.now();
    const n = (await Promise.all(puts)).reduce((a, b) => a + b, 0);
    const t2 = performance.now();
    if (n !== flows) throw new Error(`put ${n} of ${flows}`);
    return { flows: n, getMs: t1 - t0, putMs: t2 - t1, bytes };
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

const synthetic = syntheticFlows({ flows: Math.min(flows, 20000) });
const traces: [string, CapturedPacket[]][] = [
  ['stopddos_pkt.TCP.synflood.spoofed.pcap', readCaptureFile(tracePath('stopddos_pkt.TCP.synflood.spoofed.pcap')).packets],
  ['tryzeek_http.pcap', readCaptureFile(tracePath('tryzeek_http.pcap')).packets],
  [`synthetic ${Math.min(flows, 20000)} TCP flows`, synthetic],
];

console.log(`OpenMB data-plane benchmark: ${new Date().toISOString()}, node ${process.version}, median of ${rounds}`);
console.log('\nreplay -> switch -> monitor (three processes)');
console.log('traffic'.padEnd(44) + 'packets'.padStart(10) + 'packets/s'.padStart(14));
for (const [name, packets] of traces) {
  const rates: number[] = [];
  for (let r = 0; r < rounds; r++) rates.push(await throughput(packets));
  console.log(name.padEnd(44) + fmt(packets.length).padStart(10) + fmt(median(rates)).padStart(14));
}

console.log('\nsouthbound get + put of per-flow state (monitor -> monitor)');
console.log('flows'.padStart(10) + 'state MB'.padStart(10) + 'get ms'.padStart(10) + 'last put'.padStart(10) + 'flows/s'.padStart(12) + 'MB/s'.padStart(8));
const many = syntheticFlows({ flows });
const results: { flows: number; getMs: number; putMs: number; bytes: number }[] = [];
for (let r = 0; r < rounds; r++) results.push(await getPut(many));
const m = results.sort((a, b) => a.getMs + a.putMs - (b.getMs + b.putMs))[Math.floor(results.length / 2)];
const secs = (m.getMs + m.putMs) / 1000;
console.log(fmt(m.flows).padStart(10) + (m.bytes / 1e6).toFixed(1).padStart(10) + fmt(m.getMs).padStart(10) + fmt(m.putMs).padStart(10)
  + fmt(m.flows / secs).padStart(12) + (m.bytes / 1e6 / secs).toFixed(1).padStart(8));
