/**
 * Move benchmark (not a test): how long moving half of a monitor's flows takes, by number of
 * flows, guarantee and transfer (brokered through the controller, or direct between the
 * instances), under background traffic; how many packets were held; the latency the move added
 * to packets (switch ingress to processed); and the state MB/s, beside a stop-and-copy baseline
 * (hold the flows at the switch, copy, re-route, release) and a loopback TCP throughput baseline
 * (bench/loopback.ts), all in the same run. Each move runs in a new cluster on the same seeded
 * synthetic traffic.
 *
 *   npm run bench:moves                                   # 1k, 10k, 100k flows, as a table
 *   npm run bench:moves -- --flows 1000,10000 --transfer direct
 *   npm run bench:moves -- --serial-puts                  # also loss-free, order-preserving with serial puts
 *   npm run -s bench:moves -- --json > docs/bench/moves.json
 *
 * With --json it prints one JSON object (bench/report/shapes.ts, movesReportSchema), progress on stderr:
 *   {"command": "npm run bench:moves -- …", "date": "…", "node": "v20…", "commit": "…", "dirty": bool,
 *    "cpus": n, "loadAverage": {"start": [1, 5, 15 min], "end": […]}, "rate": packets/s, "loopbackMBps": n,
 *    "moves": [{"flows": 10000, "variant": "none" | "loss-free" | "order-preserving" | "stop-and-copy",
 *      "transfer": "direct" | "brokered", "transferUsed"?: …, "puts": "parallel" | "serial", "moveMs": n,
 *      "held": n, "p50Ms": n, "p99Ms": n, "bytes": n, "stateMBps": n, "movedFlows": n, "load": n}, …]}
 * Stop-and-copy is a sequence of southbound calls made here (bench/moves.ts stopAndCopy), with
 * either transfer; "transferUsed" is what a controller operation's status says it used.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LocalCluster } from '../operator/runtime/local-cluster.js';
import { silentLogger } from '../shims/log/logger.js';
import { syntheticFlows } from '../shims/traffic/synthetic.js';
import type { MbCounters } from '../shims/protocol/messages.js';
import { latencyQuantile } from '../shims/shim/runtime.js';
import { BucketRouter } from '../operator/routing/bucket-router.js';
import { MbController } from '../operator/engine/controller.js';
import { ALL_OPTIMIZATIONS, type Guarantee, NO_OPTIMIZATIONS, type Transfer, TRANSFERS } from '../operator/engine/operation.js';
import { loopbackMBps } from './loopback.js';
import { loadNow, startRun } from './report/run-info.js';
import type { MoveRow, MovesReport } from './report/shapes.js';

const run = startRun('bench:moves');
const { values } = parseArgs({ options: {
  flows: { type: 'string', default: '1000,10000,100000' }, rate: { type: 'string', default: '20000' },
  transfer: { type: 'string', default: TRANSFERS.join(',') }, 'serial-puts': { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
} });
const sizes = values.flows!.split(',').map(Number);
for (const n of sizes) if (!Number.isInteger(n) || n <= 0) throw new Error(`--flows: "${values.flows}" is not a list of positive integers`);
const rate = Number(values.rate);
if (!(rate > 0)) throw new Error(`--rate: "${values.rate}" is not a positive number of packets/s`);
const transfers = values.transfer!.split(',') as Transfer[];
for (const t of transfers) if (!TRANSFERS.includes(t)) throw new Error(`--transfer: unknown transfer "${t}" (known: ${TRANSFERS.join(', ')})`);
const BUCKETS = 64;
const half = Array.from({ length: BUCKETS / 2 }, (_, i) => i);
/** A small move first warms up the JIT of all three processes; the measured move is the half. */
const warmup = [BUCKETS - 1];

interface Ctx { c: LocalCluster; router: BucketRouter; mbc: MbController }
interface Outcome { ms: number; held: number; bytes: number; flows: number; transferUsed?: Transfer }
interface Variant extends Pick<MoveRow, 'variant' | 'transfer' | 'puts'> { run: (ctx: Ctx, buckets: number[]) => Promise<Outcome> }

function moveVariant(guarantee: Guarantee, transfer: Transfer, puts: MoveRow['puts']): Variant {
  const optimizations = puts === 'parallel' ? ALL_OPTIMIZATIONS : NO_OPTIMIZATIONS;
  return {
    variant: guarantee, transfer, puts,
    run: async ({ router, mbc }, buckets) => {
      const s = await mbc.move('m0', 'm1', router.bucketFilter(buckets), ['per-flow'], { guarantee, optimizations, transfer });
      if (s.phase !== 'Succeeded') throw new Error(`${guarantee} (${transfer}): ${s.error}`);
      return { ms: s.timeline.end! - s.timeline.start, held: s.eventsHeld, bytes: s.bytes, flows: s.flows, ...(s.transfer ? { transferUsed: s.transfer } : {}) };
    },
  };
}

/**
 * Pause the moved flows at the switch, copy their state (through this process, or from the
 * source straight into the destination), re-route, resume: no drain, no journal, no per-step
 * progress. Bytes are counted as an operation counts them: batch bodies, or what the destination acked.
 */
function stopAndCopy(transfer: Transfer): Variant {
  return {
    variant: 'stop-and-copy', transfer, puts: 'parallel',
    run: async ({ c, router, mbc }, buckets) => {
      const filter = router.bucketFilter(buckets);
      const src = mbc.session('m0');
      const dst = mbc.session('m1');
      const start = performance.now();
      await c.sw.hold('bench', filter);
      let copied: { flows: number; bytes: number };
      if (transfer === 'direct') {
        const r = await src.transfer('per-flow', filter, `bench-stop-and-copy-${buckets.length}`, dst, () => {});
        copied = { flows: r.count, bytes: r.bytes };
      } else {
        const puts: Promise<{ count: number }>[] = [];
        let bytes = 0;
        await src.getBatches('per-flow', filter, (batch) => {
          bytes += batch.body.length;
          puts.push(dst.putBatch(batch));
        });
        copied = { flows: (await Promise.all(puts)).reduce((n, p) => n + p.count, 0), bytes };
      }
      await router.route(filter, 'm1');
      const { count: held } = await c.sw.release('bench');
      await src.del('per-flow', filter);
      return { ms: performance.now() - start, held, ...copied };
    },
  };
}

const variants: Variant[] = [];
for (const guarantee of ['none', 'loss-free', 'order-preserving'] as const) {
  for (const transfer of transfers) {
    variants.push(moveVariant(guarantee, transfer, 'parallel'));
    if (values['serial-puts'] && guarantee !== 'none') variants.push(moveVariant(guarantee, transfer, 'serial'));
  }
}
for (const transfer of transfers) variants.push(stopAndCopy(transfer));

function histDiff(a: MbCounters[], b: MbCounters[]): number[] {
  const out = new Array<number>(a[0].latencyUs.length).fill(0);
  for (let k = 0; k < a.length; k++) for (let i = 0; i < out.length; i++) out[i] += b[k].latencyUs[i] - a[k].latencyUs[i];
  return out;
}

const round = (n: number, places: number) => Math.round(n * 10 ** places) / 10 ** places;

async function measure(flows: number, v: Variant): Promise<MoveRow> {
  const c = await LocalCluster.start({ log: silentLogger, logDir: mkdtempSync(join(tmpdir(), 'openmb-bench-moves-')) });
  try {
    await c.addInstance('monitor', 'm0', { hosts: false });
    await c.addInstance('monitor', 'm1', { hosts: false });
    const router = new BucketRouter(() => [c.sw], { key: 'flow', buckets: BUCKETS });
    router.owner.fill('m0');
    await router.apply();
    const mbc = new MbController(c.sessions, router, silentLogger);
    await c.replay(syntheticFlows({ flows, handshakeOnly: true }), { kind: 'asap' });
    await c.settle(120_000);
    // Background traffic on some of the same flows, at a steady rate, while the move runs.
    const traffic = syntheticFlows({ flows: Math.min(flows, 5000), seed: 3 }).filter((_, i) => i % 4 !== 0);
    const sessions = () => ['m0', 'm1'].map((n) => c.session(n));
    let before: MbCounters[] = [];
    let after: MbCounters[] = [];
    let outcome: Outcome = { ms: 0, held: 0, bytes: 0, flows: 0 };
    let load = 0;
    let moving: Promise<void> | null = null;
    await c.replay(traffic, { kind: 'rate', pps: rate }, (sent) => {
      if (!moving && sent > traffic.length / 4) {
        moving = (async () => {
          await v.run({ c, router, mbc }, warmup);
          before = await Promise.all(sessions().map((s) => s.stats()));
          load = loadNow();
          outcome = await v.run({ c, router, mbc }, half);
          after = await Promise.all(sessions().map((s) => s.stats()));
        })();
      }
    });
    await moving;
    await c.settle();
    const hist = histDiff(before, after);
    const { transferUsed: used, ...o } = outcome;
    return {
      flows, variant: v.variant, transfer: v.transfer, ...(used ? { transferUsed: used } : {}), puts: v.puts,
      moveMs: round(o.ms, 1), held: o.held, p50Ms: round(latencyQuantile(hist, 0.5) / 1000, 2), p99Ms: round(latencyQuantile(hist, 0.99) / 1000, 2),
      bytes: o.bytes, stateMBps: round(o.ms > 0 ? o.bytes / 1e6 / (o.ms / 1000) : 0, 1), movedFlows: o.flows, load,
    };
  } finally {
    await c.stop();
  }
}

const name = (r: Pick<MoveRow, 'variant' | 'puts'>) => `${r.variant}${r.puts === 'serial' ? ' (serial puts)' : ''}`;
const transferOf = (r: MoveRow) => (r.transferUsed && r.transferUsed !== r.transfer ? `${r.transfer}->${r.transferUsed}` : r.transfer);
const line = (r: MoveRow) => `${String(r.flows).padStart(7)}  ${name(r).padEnd(30)}${transferOf(r).padEnd(10)}`
  + `${r.moveMs.toFixed(1).padStart(9)}${String(r.held).padStart(8)}${r.p50Ms.toFixed(2).padStart(9)}${r.p99Ms.toFixed(2).padStart(9)}${r.stateMBps.toFixed(1).padStart(10)}${r.load.toFixed(2).padStart(7)}`;
/** The table goes to stdout, or with --json to stderr as progress. */
const out = values.json ? (s: string) => process.stderr.write(`${s}\n`) : (s: string) => console.log(s);

const loopbackRuns: number[] = [];
for (let i = 0; i < 3; i++) loopbackRuns.push(await loopbackMBps());
const loopback = round(loopbackRuns.sort((a, b) => a - b)[1], 1);
out(`OpenMB move benchmark: ${run.info.date}, node ${process.version}; half of a monitor's flows move m0 -> m1 under ${rate} packets/s of traffic`);
out(`loopback TCP (two processes, 256 MB in 64 KB writes, median of 3): ${loopback} MB/s`);
out('  flows  variant                       transfer    move ms    held   p50 ms   p99 ms  state MB/s  load');
const moves: MoveRow[] = [];
for (const flows of sizes) {
  for (const v of variants) {
    const row = await measure(flows, v);
    moves.push(row);
    out(line(row));
  }
}
const report: MovesReport = { ...run.end(), rate, loopbackMBps: loopback, moves };
if (values.json) console.log(JSON.stringify(report));
