/**
 * The chaos run (not a test): a monitor pool under steady traffic, scaled up and down round after
 * round, its controller process SIGKILLed at random moments (mostly in the middle of a scale) and
 * started again on the same state directory, where it adopts the switch and instances and takes
 * every journaled operation over. It prints each round, each kill, and at the end the operations
 * resumed and rolled back and every difference from the same packets through one instance that
 * never moved; it fails on any difference, or a packet lost or processed twice.
 *
 *   npm run chaos -- --rounds 20
 *   npm run chaos -- --rounds 50 --seed 7 --guarantee order-preserving --json chaos.json
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { readCaptureFile, type CapturedPacket } from '../shims/flow/pcap.js';
import { tracePath } from '../shims/traffic/trace-dir.js';
import { ChaosPool, replayInto, unscaledOutputs } from './chaos-run.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '20' },
    seed: { type: 'string' },
    guarantee: { type: 'string', default: 'loss-free' },
    trace: { type: 'string' },
    rate: { type: 'string', default: '3000' },
    'kill-chance': { type: 'string', default: '0.7' },
    json: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log(`npm run chaos -- [--rounds N] [--seed S] [--guarantee loss-free|order-preserving|none] [--trace FILE] [--rate PPS] [--kill-chance P] [--json FILE]
Scales a monitor pool round after round under traffic, SIGKILLs its controller process with chance P
per round at a random moment of the scale, and checks the end against an unscaled run.`);
  process.exit(0);
}
const number = (name: string, v: string | undefined, min: number): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number ≥ ${min}, got ${v}`);
  return n;
};
const rounds = number('rounds', values.rounds, 1);
const rate = number('rate', values.rate, 1);
const killChance = number('kill-chance', values['kill-chance'], 0);
let seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : number('seed', values.seed, 0);
const firstSeed = seed;
/** A small seeded generator (mulberry32), so a run can be repeated with --seed. */
function random(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
}

/** Where a controller may be told to die: an operation of a kind entering a step (see chaos-controller.ts). */
const CRASH_POINTS = ['move:hold', 'move:copy', 'move:between-puts', 'move:route', 'move:delete', 'clone:copy', 'merge:copy', 'merge:delete'];

const trace = values.trace ?? tracePath('tryzeek_http.pcap');
const one = readCaptureFile(trace).packets;
// The capture played again and again, long enough for every round (about 3 s each).
const copies = Math.max(1, Math.ceil((rounds * 3 * rate) / one.length));
const packets: CapturedPacket[] = Array.from({ length: copies }, () => one).flat();

console.log(`chaos: ${rounds} rounds, seed ${firstSeed}, ${values.guarantee}, ${trace} ×${copies} (${packets.length} packets) at ${rate} packets/s, kill chance ${killChance}`);
const expected = await unscaledOutputs('monitor', packets);
const pool = new ChaosPool({ guarantee: values.guarantee, buckets: 32 });
let exitCode = 0;
try {
  const ready = await pool.start();
  let replayDone = false;
  const replaying = replayInto(ready, packets, rate).finally(() => { replayDone = true; });
  let replicas = 1;
  let restarts = 0;
  /** Scales to `target`, starting a new controller (which adopts and takes over) whenever the current one dies, until one finishes it. */
  const scaleThroughKills = async (target: number): Promise<void> => {
    for (;;) {
      try {
        await pool.scale(target);
        return;
      } catch {
        await pool.controller.exited;
        const again = await pool.start();
        restarts++;
        console.log(`  a new controller adopted ${again.adopted.length} instances and took over ${again.resumed.length} operation(s)${again.resumed.length ? ` (${again.resumed.join(', ')})` : ''}`);
      }
    }
  };
  for (let round = 1; round <= rounds; round++) {
    let target = 1 + Math.floor(random() * 4);
    if (target === replicas) target = (target % 4) + 1;
    const kill = random() < killChance;
    // Half the kills come at a random moment, half as an operation enters a random step.
    const atStep = kill && random() < 0.5 ? CRASH_POINTS[Math.floor(random() * CRASH_POINTS.length)] : null;
    const delayMs = Math.floor(random() * 1500);
    const started = Date.now();
    if (atStep) {
      await pool.kill();
      await pool.start(atStep);
      restarts++;
    }
    console.log(`round ${round}: ${replicas} → ${target}${atStep ? `, the controller to die as its first ${atStep.replace(':', ' enters ')}` : kill ? `, the controller to be killed after ${delayMs} ms` : ''}${replayDone ? ' (the replay has ended)' : ''}`);
    const scaling = scaleThroughKills(target);
    if (kill && !atStep) {
      const done = await Promise.race([scaling.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), delayMs))]);
      if (done) console.log('  done before the kill was due');
      else await pool.kill();
    }
    await scaling;
    console.log(`  scaled in ${Date.now() - started} ms`);
    replicas = target;
  }
  const sent = await replaying;
  const totals = await pool.finish(sent, expected);
  console.log(`${restarts} controller restarts after ${totals.kills} kills from outside and ${restarts - totals.kills} as an operation entered a step; ${totals.operations} operations ended, ${totals.resumed} taken over and finished, ${totals.rolledBack} rolled back`);
  console.log(`${totals.sent} packets sent, ${totals.processed} processed, ${totals.dropped} dropped, ${totals.reordered} reordered`);
  for (const f of totals.failedOperations) console.log(`failed operation: ${f}`);
  for (const d of totals.differences) console.log(`differs from the unscaled run: ${d}`);
  console.log(`${totals.differences.length} differences from the unscaled run`);
  if (values.json) writeFileSync(values.json, `${JSON.stringify({ rounds, seed: firstSeed, guarantee: values.guarantee, trace, rate, restarts, ...totals }, null, 2)}\n`);
  const ok = totals.differences.length === 0 && totals.processed === totals.sent && totals.dropped === 0
    && (values.guarantee === 'none' || totals.reordered === 0);
  if (!ok) exitCode = 1;
} finally {
  await pool.abort();
}
process.exit(exitCode);
