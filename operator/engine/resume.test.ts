/**
 * A controller that stops mid-operation, and another that takes it over from the journal, across
 * real switch and monitor processes: at each step of a loss-free and an order-preserving move,
 * between the puts, and in the middle of a scale-down's merge. Each run ends with every packet
 * processed exactly once, none reordered, nothing dropped, and the pool's merged outputs equal to
 * the same capture through one instance that never moved. A hold whose controller never comes
 * back lapses, and the move is rolled back, losing nothing.
 */
import test, { type ExecutionContext } from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LocalCluster } from '../runtime/local-cluster.js';
import { silentLogger } from '../../shims/log/logger.js';
import { readCaptureFile } from '../../shims/flow/pcap.js';
import { tracePath } from '../../shims/traffic/trace-dir.js';
import { middleboxByType } from '../../shims/middleboxes/registry.js';
import { BucketRouter } from '../routing/bucket-router.js';
import { MbController, type OperationOptions } from './controller.js';
import { mergeOutputs } from './merged-outputs.js';
import type { Guarantee, OperationStatus, Step } from './operation.js';

const BUCKETS = 16;
const half = Array.from({ length: BUCKETS / 2 }, (_, i) => i);
const { packets } = readCaptureFile(tracePath('tryzeek_http.pcap'));
const monitor = middleboxByType('monitor');

async function cluster(n: number): Promise<LocalCluster> {
  const c = await LocalCluster.start({ log: silentLogger, logDir: mkdtempSync(join(tmpdir(), 'openmb-resume-')) });
  for (let i = 0; i < n; i++) await c.addInstance('monitor', `m${i}`);
  return c;
}

/** A controller bound to the switch session of now: once that closes (a restart), it can no longer act, as a dead one. */
function controllerOf(c: LocalCluster): { router: BucketRouter; mbc: MbController } {
  const sw = c.sw;
  const router = new BucketRouter(() => [sw], { key: 'flow', buckets: BUCKETS });
  return { router, mbc: new MbController(c.sessions, router, silentLogger) };
}

let reference: Record<string, unknown> | null = null;
async function unscaled(): Promise<Record<string, unknown>> {
  if (reference) return reference;
  const c = await cluster(1);
  try {
    await c.routeAll('m0');
    await c.replay(packets, { kind: 'asap' });
    await c.settle();
    reference = await c.session('m0').outputs();
    return reference;
  } finally {
    await c.stop();
  }
}

async function pooled(c: LocalCluster, instances: string[]): Promise<Record<string, unknown>> {
  return mergeOutputs(monitor.outputs, await Promise.all(instances.map((i) => c.session(i).outputs())));
}

/** The end every run must reach: each packet processed once, none dropped or reordered, no flow on both instances, the unscaled run's outputs. */
async function convergedAsUnscaled(t: ExecutionContext, c: LocalCluster, expected: Record<string, unknown>): Promise<void> {
  const settled = await c.settle();
  t.is(settled.processed, packets.length, 'every packet processed exactly once');
  t.is(settled.dropped, 0);
  const stats = await Promise.all(['m0', 'm1'].map((n) => c.session(n).stats()));
  t.is(stats[0].packetsReordered + stats[1].packetsReordered, 0);
  t.is(stats[0].entries['per-flow'] + stats[1].entries['per-flow'], (expected.flows as unknown[]).length, 'no flow is in both instances');
  t.deepEqual(await pooled(c, ['m0', 'm1']), expected);
}

const never = new Promise<void>(() => {});

/**
 * A first controller moves `half` m0 → m1, a third into the capture's replay, and stops (its
 * sessions restarted, as a crash) at the first status a stop condition accepts: entering a
 * journal step (the step then never runs), or in its progress. Resolves once the replay ended
 * and the stop (and `after`) is done, with the journal left and a second controller that learned
 * the routes.
 */
async function moveStoppedMidway(c: LocalCluster, options: OperationOptions, stop: { atStep?: (s: OperationStatus) => boolean; inProgress?: (s: OperationStatus) => boolean; after?: () => Promise<unknown> }):
  Promise<{ journal: OperationStatus; second: ReturnType<typeof controllerOf> }> {
  const first = controllerOf(c);
  first.router.owner.fill('m0');
  await first.router.apply();
  let journal: OperationStatus | null = null;
  let stopped: Promise<unknown> | null = null;
  const stopAt = (s: OperationStatus) => {
    journal = structuredClone(s);
    stopped = c.restartController().then(stop.after);
  };
  let moving = false;
  await c.replay(packets, { kind: 'rate', pps: 8000 }, (sent) => {
    if (moving || sent < packets.length / 3) return;
    moving = true;
    void first.mbc.move('m0', 'm1', first.router.bucketFilter(half), ['per-flow'], {
      ...options,
      journal: async (s) => {
        if (stop.atStep?.(s) && !journal) {
          stopAt(s);
          await never;
        }
      },
      onProgress: (s) => { if (stop.inProgress?.(s) && !journal) stopAt(s); },
    });
  });
  while (!stopped) await sleep(5);
  await stopped;
  const second = controllerOf(c);
  await second.router.learn();
  return { journal: journal!, second };
}

/** Where the first controller stops: entering a step of the journal, or once some puts were acknowledged. */
type CrashPoint = Step | 'between-puts';

for (const guarantee of ['loss-free', 'order-preserving'] as Guarantee[]) {
  for (const at of ['hold', 'copy', 'between-puts', 'route', 'delete'] as CrashPoint[]) {
    test.serial(`${guarantee}: the controller stops ${at === 'between-puts' ? 'between puts' : `entering step ${at}`}; a new one resumes the move from its journal`, async (t) => {
      const expected = await unscaled();
      const c = await cluster(2);
      try {
        const { journal, second } = await moveStoppedMidway(c, {
          guarantee,
          // The puts wait for their batches, so a stop between them leaves some taken and some not.
          optimizations: { parallelPuts: false },
        }, {
          atStep: (s) => at !== 'between-puts' && s.step === at,
          inProgress: (s) => at === 'between-puts' && s.step === 'copy' && s.flows > 0,
        });
        const s = await second.mbc.resume(journal, {});
        t.is(s.phase, 'Succeeded', s.error);
        t.true(s.resumed);
        t.deepEqual(second.router.bucketsOf('m1'), half);
        await convergedAsUnscaled(t, c, expected);
      } finally {
        await c.stop();
      }
    });
  }
}

test.serial('the controller stops in the middle of a scale-down\'s merge; the resumed merge adds nothing twice', async (t) => {
  const expected = await unscaled();
  const c = await cluster(2);
  try {
    const first = controllerOf(c);
    first.router.owner.fill('m0');
    first.router.owner.fill('m1', 0, BUCKETS / 2);
    await first.router.apply();
    await c.replay(packets, { kind: 'asap' });
    await c.settle();
    // Scale-down: m1's buckets move to m0, then what it still holds (host tallies) merges into m0.
    const moved = await first.mbc.move('m1', 'm0', first.router.bucketFilter(half), ['per-flow'], { guarantee: 'loss-free' });
    t.is(moved.phase, 'Succeeded', moved.error);
    let journal: OperationStatus | null = null;
    let restarted: Promise<void> | null = null;
    // Stopped once the host tallies' put is acknowledged: the resumed merge gets and puts them again.
    let puts = 0;
    void first.mbc.merge(['m1'], 'm0', {}, ['multi-flow', 'all-flows'], {
      optimizations: { parallelPuts: false },
      onProgress: (s) => {
        if (s.step === 'copy' && s.timeline.putStart !== undefined && ++puts === 1 && !journal) {
          journal = structuredClone(s);
          restarted = c.restartController();
        }
      },
    });
    while (!restarted) await sleep(5);
    await restarted;
    const second = controllerOf(c);
    const s = await second.mbc.resume(journal!, {});
    t.is(s.phase, 'Succeeded', s.error);
    t.is((await c.session('m1').stats()).entries['multi-flow'], 0, 'the merged state is gone from the source');
    t.deepEqual(await c.session('m0').outputs(), expected, 'one instance holds everything, counted once');
  } finally {
    await c.stop();
  }
});

test.serial('a hold whose controller never comes back lapses: its packets go on to the source in order, and the resumed move rolls back', async (t) => {
  const expected = await unscaled();
  const c = await cluster(2);
  try {
    // No controller renews the hold once stopped; the replay goes on meanwhile.
    const { journal, second } = await moveStoppedMidway(c, { guarantee: 'order-preserving', leaseMs: 300 }, { atStep: (s) => s.step === 'route', after: () => sleep(600) });
    const s = await second.mbc.resume(journal, {});
    t.is(s.phase, 'Failed');
    t.regex(s.error ?? '', /^rolled back: its hold at the switch lapsed/);
    t.deepEqual(second.router.bucketsOf('m0').length, BUCKETS, 'every bucket still routes to the source');
    const settled = await c.settle();
    t.is(settled.processed, packets.length, 'every packet processed exactly once');
    t.is(settled.dropped, 0);
    t.is((await c.session('m1').stats()).entries['per-flow'], 0, 'the partial copy is gone');
    t.is((await c.session('m0').stats()).packetsReordered, 0);
    t.deepEqual(await c.session('m0').outputs(), expected);
  } finally {
    await c.stop();
  }
});

/** The buckets of parts 0 and 1 of a move of `half` in 4 parts. */
const firstTwoParts = half.slice(0, half.length / 2);

for (const at of ['hold', 'copy', 'route', 'delete'] as Step[]) {
  test.serial(`a move in 4 parts: the controller stops entering part 3's step ${at}; a new one resumes from there, the first two parts stay moved`, async (t) => {
    const expected = await unscaled();
    const c = await cluster(2);
    try {
      const { journal, second } = await moveStoppedMidway(c, { guarantee: 'loss-free', parts: 4 }, { atStep: (s) => s.part === 2 && s.step === at });
      t.deepEqual(second.router.bucketsOf('m1'), at === 'delete' ? half.slice(0, 6) : firstTwoParts, 'the parts before the stop had moved');
      const s = await second.mbc.resume(journal, {});
      t.is(s.phase, 'Succeeded', s.error);
      t.is(s.part, 3);
      t.deepEqual(second.router.bucketsOf('m1'), half);
      await convergedAsUnscaled(t, c, expected);
    } finally {
      await c.stop();
    }
  });
}

test.serial('a move in 4 parts whose third part\'s hold lapses with no controller: that part rolls back, the first two stay moved, nothing is lost', async (t) => {
  const expected = await unscaled();
  const c = await cluster(2);
  try {
    const { journal, second } = await moveStoppedMidway(c, { guarantee: 'order-preserving', leaseMs: 300, parts: 4 },
      { atStep: (s) => s.part === 2 && s.step === 'route', after: () => sleep(600) });
    const s = await second.mbc.resume(journal, {});
    t.is(s.phase, 'Failed');
    t.regex(s.error ?? '', /^rolled back \(part 3 of 4; the parts before it moved\): its hold at the switch lapsed/);
    t.deepEqual(second.router.bucketsOf('m1'), firstTwoParts);
    await convergedAsUnscaled(t, c, expected);
  } finally {
    await c.stop();
  }
});
