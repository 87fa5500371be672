/**
 * Move benchmark (not a test): how long moving half of a monitor's flows takes, by number of
 * flows and guarantee, with parallel puts on and off, under background traffic; how many
 * packets were held; and the latency the move added to packets (switch ingress to processed),
 * next to a stop-and-copy baseline (hold the flows at the switch, copy, re-route, release) in
 * the same run.
 *
 *   npm run bench:moves                      # 1k, 10k, 100k flows
 *   npm run bench:moves -- --flows 1000,10000
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LocalCluster } from '../operator/runtime/local-cluster.js';
import { silentLogger } from '../shims/log/logger.js';
import { syntheticFlows } from '../shims/traffic/synthetic.js';
import type { Chunk, MbCounters } from '../shims/protocol/messages.js';
import { latencyQuantile } from '../shims/shim/runtime.js';
import { BucketRouter } from '../operator/routing/bucket-router.js';
import { MbController } from '../operator/engine/controller.js';
import { ALL_OPTIMIZATIONS, type Guarantee, NO_OPTIMIZATIONS, type Optimizations } from '../operator/engine/operation.js';

const { values } = parseArgs({ options: { flows: { type: 'string', default: '1000,10000,100000' }, rate: { type: 'string', default: '20000' } } });
const sizes = values.flows!.split(',').map(Number);
const rate = Number(values.rate);
const BUCKETS = 64;
const half = Array.from({ length: BUCKETS / 2 }, (_, i) => i);
/** A small move first warms up the JIT of all three processes; the measured move is the half. */
const warmup = [BUCKETS - 1];

type Variant = { name: string; run: (ctx: Ctx, buckets: number[]) => Promise<{ ms: number; held: number }> };
interface Ctx { c: LocalCluster; router: BucketRouter; mbc: MbController }

function moveVariant(guarantee: Guarantee, optimizations: Optimizations, label: string): Variant {
  return {
    name: `${guarantee}${label}`,
    run: async ({ router, mbc }, buckets) => {
      const s = await mbc.move('m0', 'm1', router.bucketFilter(buckets), ['per-flow'], { guarantee, optimizations });
      if (s.phase !== 'Succeeded') throw new Error(`${guarantee}: ${s.error}`);
      return { ms: s.timeline.end! - s.timeline.start, held: s.eventsHeld };
    },
  };
}

/** Pause the moved flows at the switch, copy their state, re-route, resume. */
const stopAndCopy: Variant = {
  name: 'stop-and-copy',
  run: async ({ c, router, mbc }, buckets) => {
    const filter = router.bucketFilter(buckets);
    const start = performance.now();
    await c.sw.hold('bench', filter);
    const src = mbc.session('m0');
    const dst = mbc.session('m1');
    const puts: Promise<number>[] = [];
    await src.get('per-flow', filter, (cs: Chunk[]) => puts.push(dst.put('per-flow', cs)));
    await Promise.all(puts);
    await router.route(filter, 'm1');
    const { count: held } = await c.sw.release('bench');
    await src.del('per-flow', filter);
    return { ms: performance.now() - start, held };
  },
};

const variants: Variant[] = [
  moveVariant('none', ALL_OPTIMIZATIONS, ''),
  moveVariant('loss-free', ALL_OPTIMIZATIONS, ''),
  moveVariant('loss-free', NO_OPTIMIZATIONS, ' (serial puts)'),
  moveVariant('order-preserving', ALL_OPTIMIZATIONS, ''),
  moveVariant('order-preserving', NO_OPTIMIZATIONS, ' (serial puts)'),
  stopAndCopy,
];

function histDiff(a: MbCounters[], b: MbCounters[]): number[] {
  const out = new Array<number>(a[0].latencyUs.length).fill(0);
  for (let k = 0; k < a.length; k++) for (let i = 0; i < out.length; i++) out[i] += b[k].latencyUs[i] - a[k].latencyUs[i];
  return out;
}

async function measure(flows: number, v: Variant): Promise<string> {
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
    let result = { ms: 0, held: 0 };
    let started = false;
    let moving: Promise<void> | null = null;
    await c.replay(traffic, { kind: 'rate', pps: rate }, (sent) => {
      if (!started && sent > traffic.length / 4) {
        started = true;
        moving = (async () => {
          await v.run({ c, router, mbc }, warmup);
          before = await Promise.all(sessions().map((s) => s.stats()));
          result = await v.run({ c, router, mbc }, half);
          after = await Promise.all(sessions().map((s) => s.stats()));
        })();
      }
    });
    await moving;
    await c.settle();
    const hist = histDiff(before, after);
    const ms = (n: number) => (n / 1000).toFixed(2);
    return `${String(flows).padStart(7)}  ${v.name.padEnd(30)}${result.ms.toFixed(1).padStart(9)}${String(result.held).padStart(8)}${ms(latencyQuantile(hist, 0.5)).padStart(9)}${ms(latencyQuantile(hist, 0.99)).padStart(9)}`;
  } finally {
    await c.stop();
  }
}

console.log(`OpenMB move benchmark: ${new Date().toISOString()}, node ${process.version}; half of a monitor's flows move m0 -> m1 under ${rate} packets/s of traffic`);
console.log('  flows  variant                          move ms    held  p50 ms   p99 ms');
for (const flows of sizes) for (const v of variants) console.log(await measure(flows, v));
