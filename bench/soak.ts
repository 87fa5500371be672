/**
 * The soak run (not a test): a pool of real switch and instance processes, a capture replayed in
 * a loop at a steady rate, and a scale step every few seconds (loss-free moves, clones and merges),
 * for as long as asked. Every sample prints the resident memory of this process (the controller
 * and the pool's executor), the switch and the instances, and what each retains (soak-memory.ts:
 * resident memory less the heap the garbage collector holds empty or young); at the end it fits
 * a line to each long-lived process's retained memory after the warm-up and fails if it keeps
 * growing.
 *
 *   npm run soak                       # 2 minutes
 *   npm run soak -- --minutes 30 --json soak.json
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { MbController } from '../operator/engine/controller.js';
import { ALL_OPTIMIZATIONS, type OperationStatus } from '../operator/engine/operation.js';
import { PoolExecutor } from '../operator/engine/pool.js';
import { initialPlacement, plan } from '../operator/placement/plan.js';
import { BucketRouter } from '../operator/routing/bucket-router.js';
import { LocalCluster } from '../operator/runtime/local-cluster.js';
import { ClusterInstances } from '../operator/runtime/cluster-instances.js';
import { readCaptureFile } from '../shims/flow/pcap.js';
import { createLogger } from '../shims/log/logger.js';
import { middleboxByType } from '../shims/middleboxes/registry.js';
import { describe } from '../shims/shim/descriptor.js';
import { tracePath } from '../shims/traffic/trace-dir.js';
import { memoryFigures, type MemoryFigures, PROBE_DIR_ENV, readMemoryReport } from './soak-memory.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '2' },
    middlebox: { type: 'string', default: 'monitor' },
    trace: { type: 'string' },
    rate: { type: 'string', default: '1000' },
    step: { type: 'string', default: '5' },
    sample: { type: 'string', default: '10' },
    warmup: { type: 'string' },
    json: { type: 'string' },
  },
});
const positive = (name: string, v: string | undefined): number => {
  const n = Number(v);
  if (!(n > 0)) throw new Error(`--${name} must be a positive number, got ${v}`);
  return n;
};
const minutes = positive('minutes', values.minutes);
const rate = positive('rate', values.rate);
const stepS = positive('step', values.step);
const sampleS = positive('sample', values.sample);
// By default a fifth of the run, at most five minutes: the time for caches and JIT to fill.
const warmupS = values.warmup === undefined ? Math.min(300, (minutes * 60) / 5) : positive('warmup', values.warmup);
const trace = values.trace ?? tracePath('tryzeek_sumstat.pcap');
const mbType = values.middlebox!;
/** Replica counts cycled through, one per step: every step moves, clones or merges state. */
const CYCLE = [2, 3, 1, 4, 2, 1];
/** A process "keeps growing" when its fitted line rises by more than this over the measured span. */
const GROWTH = { fraction: 0.1, bytes: 16 * 1024 * 1024 };

/** Least-squares slope (bytes per second) and value at the first point. */
function fit(points: readonly [number, number][]): { slope: number; start: number } {
  const n = points.length;
  const mt = points.reduce((a, [t]) => a + t, 0) / n;
  const mv = points.reduce((a, [, v]) => a + v, 0) / n;
  const cov = points.reduce((a, [t, v]) => a + (t - mt) * (v - mv), 0);
  const varT = points.reduce((a, [t]) => a + (t - mt) ** 2, 0);
  const slope = varT === 0 ? 0 : cov / varT;
  return { slope, start: mv + slope * (points[0][0] - mt) };
}

const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MB`;

interface Sample { t: number; controller: MemoryFigures; switch: MemoryFigures | null; instances: Record<string, MemoryFigures | null>; sent: number; operations: number; failed: number }

/** Every process the cluster starts loads the probe and reports its memory figures to `dir`. */
function probeChildren(dir: string): void {
  process.env[PROBE_DIR_ENV] = dir;
  const probe = new URL('./soak-probe.js', import.meta.url).href;
  process.env.NODE_OPTIONS = [process.env.NODE_OPTIONS, `--import=${probe}`].filter(Boolean).join(' ');
}

async function main(): Promise<void> {
  const log = createLogger('soak', process.env.OPENMB_LOG_LEVEL ?? 'warn');
  const def = middleboxByType(mbType);
  const { packets } = readCaptureFile(trace);
  const partitioning = { key: def.partitionKey, buckets: 64 };
  const probeDir = mkdtempSync(join(tmpdir(), 'openmb-soak-memory-'));
  probeChildren(probeDir);
  const cluster = await LocalCluster.start({ log, logDir: mkdtempSync(join(tmpdir(), 'openmb-soak-')) });
  const samples: Sample[] = [];
  let sent = 0;
  let operations = 0;
  let failed = 0;
  const errors: string[] = [];
  try {
    const router = new BucketRouter(() => [cluster.sw], partitioning);
    const controller = new MbController(cluster.sessions, router, log);
    const runtime = new ClusterInstances(cluster, mbType, () => ({}), partitioning);
    const configuration = { values: { ...def.defaultConfig }, generation: 1 };
    // Operations are counted as they end, not kept: the soak must not be what grows.
    const seen = new WeakSet<OperationStatus>();
    const pool = new PoolExecutor(initialPlacement(partitioning.buckets), controller, router, runtime, {
      descriptor: describe(def), configuration: () => configuration, guarantee: 'loss-free',
      optimizations: ALL_OPTIMIZATIONS, log,
      onOperation: (s) => {
        if (seen.has(s) || (s.phase !== 'Succeeded' && s.phase !== 'Failed')) return;
        seen.add(s);
        operations++;
        if (s.phase === 'Failed') {
          failed++;
          if (errors.length < 20) errors.push(`${s.kind} ${s.from.join(',')}→${s.to}: ${s.error ?? 'failed'}`);
        }
      },
    });
    await pool.run(plan({ current: pool.placement, replicas: 1, namePrefix: mbType }));
    const started = Date.now();
    const endAt = started + minutes * 60_000;
    console.log(`soak: ${mbType} on ${trace} (${packets.length} packets, looped) at ${rate} packets/s, a scale step every ${stepS} s through ${CYCLE.join(' → ')}, ${minutes} min, warm-up ${warmupS} s`);

    let stepping = true;
    const steps = (async () => {
      for (let k = 0; stepping; k++) {
        await new Promise((r) => setTimeout(r, stepS * 1000));
        if (!stepping) break;
        await pool.run(plan({ current: pool.placement, replicas: CYCLE[k % CYCLE.length], namePrefix: mbType })).catch((e: Error) => {
          if (errors.length < 20) errors.push(`scale step: ${e.message}`);
        });
      }
    })();
    const sampler = setInterval(() => {
      const instances = Object.fromEntries([...cluster.instances].map(([name, i]) => [name, readMemoryReport(probeDir, i.child.proc.pid)]));
      const s: Sample = { t: Math.round((Date.now() - started) / 1000), controller: memoryFigures(), switch: readMemoryReport(probeDir, cluster.switchPid), instances, sent, operations, failed };
      samples.push(s);
      const inst = Object.values(instances).filter((v): v is MemoryFigures => v !== null);
      const both = (f: MemoryFigures | null) => (f === null ? '?' : `${mb(f.rss)} (retains ${mb(f.retained)})`);
      const largest = inst.length ? inst.reduce((a, b) => (b.rss > a.rss ? b : a)) : null;
      console.log(`t=${s.t}s controller ${both(s.controller)}, switch ${both(s.switch)}, ${inst.length} instances (largest ${largest ? both(largest) : '-'}), ${sent} packets sent, ${operations} operations (${failed} failed)`);
    }, sampleS * 1000);
    while (Date.now() < endAt) {
      const r = await cluster.replay(packets, { kind: 'rate', pps: rate });
      sent += r.sent;
    }
    stepping = false;
    await steps;
    clearInterval(sampler);
    const settled = await cluster.settle();

    const after = samples.filter((s) => s.t >= warmupS);
    interface Verdict { process: string; startBytes: number; growthBytes: number; rssStartBytes: number; rssGrowthBytes: number; largestHeapTotal: number; growing: boolean }
    const verdicts: Verdict[] = [];
    /** Judged by what the process retains; its resident memory is reported beside, not judged. */
    const judge = (name: string, figures: { t: number; f: MemoryFigures }[]) => {
      if (figures.length < 3) return;
      const line = (pick: (f: MemoryFigures) => number) => {
        const { slope, start } = fit(figures.map(({ t, f }) => [t, pick(f)]));
        return { start: Math.round(start), growth: Math.round(slope * (figures[figures.length - 1].t - figures[0].t)) };
      };
      const retained = line((f) => f.retained);
      const rss = line((f) => f.rss);
      verdicts.push({
        process: name, startBytes: retained.start, growthBytes: retained.growth, rssStartBytes: rss.start, rssGrowthBytes: rss.growth,
        largestHeapTotal: Math.max(...figures.map(({ f }) => f.heapTotal)),
        growing: retained.growth > Math.max(GROWTH.bytes, GROWTH.fraction * retained.start),
      });
    };
    const present = (pick: (s: Sample) => MemoryFigures | null | undefined) =>
      after.flatMap((s) => { const f = pick(s); return f ? [{ t: s.t, f }] : []; });
    judge('controller', present((s) => s.controller));
    judge('switch', present((s) => s.switch));
    // An instance that lived through the whole measured span (the first one, unless a step removed it).
    for (const name of Object.keys(after[0]?.instances ?? {})) {
      if (after.every((s) => s.instances[name] != null)) judge(`instance ${name}`, present((s) => s.instances[name]));
    }
    const result = {
      middlebox: mbType, trace, minutes, rate, stepSeconds: stepS, warmupSeconds: warmupS,
      sent, processed: settled.processed, dropped: settled.dropped, operations, failedOperations: failed, errors, verdicts, samples,
    };
    if (values.json) writeFileSync(values.json, `${JSON.stringify(result, null, 2)}\n`);
    const signed = (b: number) => `${b >= 0 ? '+' : ''}${mb(b)}`;
    for (const v of verdicts) {
      console.log(`${v.process}: retains ${mb(v.startBytes)} after warm-up, ${signed(v.growthBytes)} over the rest of the run: ${v.growing ? 'KEEPS GROWING' : 'flat'} `
        + `(resident ${mb(v.rssStartBytes)}, ${signed(v.rssGrowthBytes)}; heap reserved at most ${mb(v.largestHeapTotal)})`);
    }
    if (!verdicts.some((v) => v.process === 'switch')) console.log('error: the switch reported no memory figures (is dist/bench/soak-probe.js built?)');
    console.log(`${sent} packets sent, ${operations} operations (${failed} failed), ${settled.dropped} packets dropped`);
    for (const e of errors) console.log(`error: ${e}`);
    if (verdicts.some((v) => v.growing) || failed > 0 || errors.length > 0 || !verdicts.some((v) => v.process === 'switch')) process.exitCode = 1;
  } finally {
    await cluster.stop();
    rmSync(probeDir, { recursive: true, force: true });
  }
}

await main();
