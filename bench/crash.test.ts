/**
 * The controller process SIGKILLed at each point of a loss-free and of an order-preserving move
 * (after the hold and before the copy; between puts; after the last put and before the route
 * change; after the route change and before the delete) and during a scale-down's merge, under
 * traffic, across real processes: the next controller process adopts the switch and instances
 * and takes the operation over from its journal. Each run converges with every packet processed
 * exactly once, none dropped or reordered, and the unscaled run's outputs.
 */
import test from 'ava';
import { readCaptureFile } from '../shims/flow/pcap.js';
import { tracePath } from '../shims/traffic/trace-dir.js';
import { ChaosPool, replayInto, unscaledOutputs } from './chaos-run.js';

const { packets } = readCaptureFile(tracePath('tryzeek_http.pcap'));
let reference: Promise<Record<string, unknown>> | null = null;
const expected = () => (reference ??= unscaledOutputs('monitor', packets));

/** Scales from `from` to `to` a third into the replay, with the controller set to die at `crashAt`; the next one finishes the scale. */
async function crashRun(guarantee: string, from: number, to: number, crashAt: string) {
  const pool = new ChaosPool({ guarantee, buckets: 16 });
  try {
    let ready = await pool.start(crashAt);
    if (from > 1) await pool.scale(from);
    let scaling: Promise<unknown> | null = null;
    const sent = await replayInto(ready, packets, 4000, (n) => {
      if (!scaling && n > packets.length / 3) scaling = pool.scale(to).catch(() => {});
    });
    const first = await pool.controller.exited;
    ready = await pool.start();
    await pool.scale(to);
    const totals = await pool.finish(sent, await expected());
    return { first, ready, totals };
  } finally {
    await pool.abort();
  }
}

const points: [string, number, number, string][] = [
  ['after the hold, before the copy', 1, 2, 'move:copy'],
  ['between puts', 1, 2, 'move:between-puts'],
  ['after the last put, before the route change', 1, 2, 'move:route'],
  ['after the route change, before the delete', 1, 2, 'move:delete'],
  ['during the merge of a scale-down', 2, 1, 'merge:copy'],
];

for (const guarantee of ['loss-free', 'order-preserving']) {
  for (const [where, from, to, crashAt] of points) {
    test.serial(`${guarantee}: the controller SIGKILLed ${where}; the next one converges with every packet processed once`, async (t) => {
      const { first, ready, totals } = await crashRun(guarantee, from, to, crashAt);
      t.is(first.signal, 'SIGKILL', 'the first controller died where it was told to');
      t.true(ready.resumed.length > 0, 'the next one took the operation over');
      t.deepEqual(totals.failedOperations, []);
      t.is(totals.processed, totals.sent, 'sent = processed');
      t.is(totals.dropped, 0);
      t.is(totals.reordered, 0);
      t.deepEqual(totals.differences, [], 'the outputs are the unscaled run\'s');
      t.log(JSON.stringify({ resumed: ready.resumed, rolledBack: totals.rolledBack }));
    });
  }
}
