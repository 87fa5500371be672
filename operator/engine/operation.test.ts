/**
 * The MB controller across real processes: moves under traffic with each guarantee, and the
 * failure cases of DESIGN §6 — the destination, the source or the switch killed mid-move, the
 * controller restarted — each ending as specified.
 */
import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LocalCluster } from '../runtime/local-cluster.js';
import { silentLogger } from '../../shims/log/logger.js';
import { syntheticFlows } from '../../shims/traffic/synthetic.js';
import { readCaptureFile } from '../../shims/flow/pcap.js';
import { tracePath } from '../../shims/traffic/trace-dir.js';
import { BucketRouter } from '../routing/bucket-router.js';
import { MbController } from './controller.js';
import { type Guarantee, NO_OPTIMIZATIONS, type OperationStatus } from './operation.js';

const BUCKETS = 16;

async function pool(n: number): Promise<{ c: LocalCluster; router: BucketRouter; mbc: MbController }> {
  const c = await LocalCluster.start({ log: silentLogger, logDir: mkdtempSync(join(tmpdir(), 'openmb-op-')) });
  for (let i = 0; i < n; i++) await c.addInstance('monitor', `m${i}`);
  const router = new BucketRouter(() => [c.sw], { key: 'flow', buckets: BUCKETS });
  router.owner.fill('m0');
  await router.apply();
  return { c, router, mbc: new MbController(c.sessions, router, silentLogger) };
}

const half = Array.from({ length: BUCKETS / 2 }, (_, i) => i);

for (const guarantee of ['loss-free', 'order-preserving'] as Guarantee[]) {
  for (const optimized of [true, false]) {
    test.serial(`a ${guarantee} move under traffic loses nothing${optimized ? '' : ' (puts after the whole get)'}`, async (t) => {
      const { packets } = readCaptureFile(tracePath('tryzeek_http.pcap'));
      const { c, router, mbc } = await pool(2);
      try {
        let move: Promise<OperationStatus> | null = null;
        await c.replay(packets, { kind: 'rate', pps: 8000 }, (sent) => {
          if (!move && sent > packets.length / 3) {
            move = mbc.move('m0', 'm1', router.bucketFilter(half), ['per-flow'], { guarantee, ...(optimized ? {} : { optimizations: NO_OPTIMIZATIONS }) });
          }
        });
        const s = await move!;
        t.is(s.phase, 'Succeeded', s.error);
        t.true(s.flows > 0);
        t.is(s.eventsReleased, s.eventsHeld, 'every held packet was released');
        const settled = await c.settle();
        t.is(settled.processed, packets.length);
        t.is(settled.dropped, 0);
        const stats = await Promise.all(['m0', 'm1'].map((n) => c.session(n).stats()));
        if (guarantee === 'order-preserving') t.is(stats[0].packetsReordered + stats[1].packetsReordered, 0);
        t.deepEqual(router.bucketsOf('m1'), half);
      } finally {
        await c.stop();
      }
    });
  }
}

/** Fills m0 with many flows, so a move lasts long enough to be interrupted. */
async function loaded(): Promise<{ c: LocalCluster; router: BucketRouter; mbc: MbController; flows: number }> {
  const p = await pool(2);
  const packets = syntheticFlows({ flows: 40000 });
  await p.c.replay(packets, { kind: 'asap' });
  await p.c.settle();
  return { ...p, flows: (await p.c.session('m0').stats()).entries['per-flow'] };
}

test.serial('the destination dies mid-move: routes go back to the source, its state is intact, the move fails with the cause', async (t) => {
  const { c, router, mbc, flows } = await loaded();
  try {
    // Killed once the switch holds the moved flows, as the copy starts.
    const move = mbc.move('m0', 'm1', router.bucketFilter(half), ['per-flow'], { guarantee: 'loss-free', optimizations: NO_OPTIMIZATIONS,
      journal: async (s) => { if (s.step === 'copy') await c.stopInstance('m1', true); } });
    const s = await move;
    t.is(s.phase, 'Failed');
    t.regex(s.error ?? '', /^destination m1 failed: /);
    t.deepEqual(router.bucketsOf('m0').length, BUCKETS, 'every bucket routes to the source again');
    t.is((await c.session('m0').stats()).entries['per-flow'], flows, 'the source kept all its flows');
    // The source still processes the moved buckets' traffic.
    const more = syntheticFlows({ flows: 500, seed: 7 });
    await c.replay(more, { kind: 'asap' });
    const settled = await c.settle();
    t.is(settled.dropped, 0);
  } finally {
    await c.stop();
  }
});

test.serial('the source dies mid-move: the move fails and the flows whose state was lost are counted', async (t) => {
  const { c, router, mbc, flows } = await loaded();
  try {
    const s = await mbc.move('m0', 'm1', router.bucketFilter(half), ['per-flow'], { guarantee: 'loss-free', optimizations: NO_OPTIMIZATIONS,
      journal: async (st) => { if (st.step === 'copy') await c.stopInstance('m0', true); } });
    t.is(s.phase, 'Failed');
    t.regex(s.error ?? '', /^source m0 failed: /);
    const copied = (await c.session('m1').stats()).entries['per-flow'];
    t.is(s.flows, 0, 'nothing was copied');
    t.is(s.lostFlows, flows, 'every flow the source held is counted lost');
    t.is(copied, 0);
    t.deepEqual(router.bucketsOf('m1'), half, 'the moved buckets route to the survivor');
  } finally {
    await c.stop();
  }
});

test.serial('the switch dies mid-move: the move fails with the cause, the destination\'s partial copy is deleted, the source keeps every flow', async (t) => {
  const { c, router, mbc, flows } = await loaded();
  try {
    const s = await mbc.move('m0', 'm1', router.bucketFilter(half), ['per-flow'], { guarantee: 'loss-free', optimizations: NO_OPTIMIZATIONS,
      journal: async (st) => {
        if (st.step !== 'route') return;
        process.kill(c.switchPid, 'SIGKILL');
        while (!c.sw.closed) await sleep(5);
      } });
    t.is(s.phase, 'Failed');
    t.regex(s.error ?? '', /^the switch lost the move's hold \(it died or restarted\) with the packets it held/);
    t.is(s.eventsDropped, s.eventsHeld, 'what the switch held is counted lost');
    t.is((await c.session('m1').stats()).entries['per-flow'], 0, 'the partial copy is gone');
    t.is((await c.session('m0').stats()).entries['per-flow'], flows, 'the source kept all its flows');
  } finally {
    await c.stop();
  }
});

test.serial('the controller restarts: the switch and instances reconnect, and the new controller re-learns them and their routes', async (t) => {
  const { c, router } = await pool(2);
  try {
    router.owner.fill('m1', 0, BUCKETS / 2);
    await router.apply();
    const rules = await c.sw.rules();
    const before = await Promise.all(['m0', 'm1'].map((n) => c.session(n).stats()));
    await c.restartController();
    t.deepEqual(await c.sw.rules(), rules, 'the switch kept its table and reports it to the new controller');
    const after = await Promise.all(['m0', 'm1'].map((n) => c.session(n).stats()));
    t.deepEqual(after.map((s) => s.entries), before.map((s) => s.entries));
    const relearned = new BucketRouter(() => [c.sw], { key: 'flow', buckets: BUCKETS });
    await relearned.learn();
    t.deepEqual(relearned.owner, router.owner);
    const mbc = new MbController(c.sessions, relearned, silentLogger);
    const packets = syntheticFlows({ flows: 2000 });
    await c.replay(packets, { kind: 'asap' });
    await c.settle();
    const s = await mbc.move('m1', 'm0', relearned.bucketFilter(half), ['per-flow'], { guarantee: 'loss-free' });
    t.is(s.phase, 'Succeeded', s.error);
    await sleep(10);
    t.is((await c.session('m1').stats()).entries['per-flow'], 0);
  } finally {
    await c.stop();
  }
});
