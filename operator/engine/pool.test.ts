/**
 * The pool executor across real switch and monitor processes: pinned flows (a spec pin, and the
 * route a user's move of one server's flows leaves) keep their state with the pin's instance
 * while the buckets around them move, so their counts stay whole; and moves to different
 * destinations run at once up to the pool's concurrency.
 */
import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode } from '../../shims/flow/decode.js';
import { keyHash } from '../../shims/flow/hash.js';
import { flowId, packetFlow } from '../../shims/flow/key.js';
import { silentLogger } from '../../shims/log/logger.js';
import { syntheticFlows } from '../../shims/traffic/synthetic.js';
import { initialPlacement, plan, type Pin, type Step } from '../placement/plan.js';
import { BucketRouter } from '../routing/bucket-router.js';
import { describeMiddlebox } from '../runtime/describe.js';
import { LocalCluster } from '../runtime/local-cluster.js';
import { MbController } from './controller.js';
import { mergedOutputs } from './merged-outputs.js';
import type { OperationStatus } from './operation.js';
import { joinsWave, PoolExecutor, waves } from './pool.js';

const BUCKETS = 16;
/** Interleaved TCP flows, each live across much of the run, to two hundred servers 198.51.100.1-200. */
const packets = syntheticFlows({ flows: 600 });

interface Flow { proto: string; a: { ip: string; port: number }; b: { ip: string; port: number }; packets: number; bytes: number }

/** Each flow's packets and bytes: what one monitor reports for it. */
function expectedCounts(): string[] {
  const byFlow = new Map<string, { packets: number; bytes: number }>();
  for (const p of packets) {
    const id = packetFlow(p.data, decode(p.data, p.linkType))!.id;
    const c = byFlow.get(id) ?? { packets: 0, bytes: 0 };
    c.packets++;
    c.bytes += p.origLen;
    byFlow.set(id, c);
  }
  return [...byFlow].map(([id, c]) => `${id} ${c.packets} ${c.bytes}`).sort();
}

const flowKey = (f: Flow) => ({ proto: f.proto === 'tcp' ? 6 : 17, a: f.a, b: f.b });
const counts = (flows: Flow[]) => flows.map((f) => `${flowId(flowKey(f))} ${f.packets} ${f.bytes}`).sort();
const bucketOf = (f: Flow) => keyHash('flow', [], flowKey(f)) % BUCKETS;

async function pool(concurrency: number) {
  const c = await LocalCluster.start({ log: silentLogger, logDir: mkdtempSync(join(tmpdir(), 'openmb-pool-')) });
  const router = new BucketRouter(() => [c.sw], { key: 'flow', buckets: BUCKETS });
  const mbc = new MbController(c.sessions, router, silentLogger);
  const descriptor = await describeMiddlebox('monitor');
  const steps: Step[] = [];
  const operations = new Set<OperationStatus>();
  const exec = new PoolExecutor(initialPlacement(BUCKETS), mbc, router, {
    start: async (name) => { await c.addInstance('monitor', name); },
    stop: (name) => c.stopInstance(name),
  }, {
    descriptor, configuration: () => ({ values: {}, generation: 1 }), guarantee: 'loss-free', optimizations: { parallelPuts: true }, concurrency, log: silentLogger,
    onOperation: (s) => operations.add(s), onStep: (s) => steps.push(s),
  });
  const scale = (replicas: number, pins: Pin[] = []) => exec.run(plan({ current: exec.placement, replicas, pins, namePrefix: 'm' }));
  const outputs = async () => {
    await c.settle();
    return mergedOutputs(descriptor.outputs, exec.placement.instances.map((n) => c.session(n)));
  };
  return { c, router, mbc, exec, steps, operations, scale, outputs };
}

test.serial('pinned flows keep their state with the pin\'s instance while the buckets around them move: their counts are whole', async (t) => {
  const p = await pool(1);
  try {
    await p.scale(2);
    // A spec pin: the flows of servers 198.51.100.1-15 stay on m-0 whatever their buckets.
    const pins = [{ name: 'servers', filter: { nwDst: '198.51.100.0/28', bidirectional: true }, instance: 'm-0' }];
    p.router.setPins(pins);
    await p.router.apply();
    const planPins: Pin[] = [{ name: 'servers', instance: 'm-0' }, { name: 'user-move', instance: 'm-1' }];
    let chain = Promise.resolve();
    const errors: string[] = [];
    const then = (fn: () => Promise<unknown>) => { chain = chain.then(fn).then(() => {}, (e: Error) => { errors.push(e.message); }); };
    let stage = 0;
    await p.c.replay(packets, { kind: 'rate', pps: 4000 }, (sent, total) => {
      if (stage === 0 && sent > total * 0.15) {
        stage++;
        // A user's move of the flows of servers 198.51.100.16-31 from m-0 to m-1: its route pins them there.
        then(async () => {
          const s = await p.mbc.move('m-0', 'm-1', { nwDst: '198.51.100.16/28', bidirectional: true, buckets: p.router.bucketFilter(p.router.bucketsOf('m-0')).buckets! },
            ['per-flow'], { guarantee: 'loss-free' });
          if (s.phase !== 'Succeeded') throw new Error(`user move: ${s.error}`);
        });
      } else if (stage === 1 && sent > total * 0.3) {
        stage++;
        then(() => p.scale(3, planPins));
      } else if (stage === 2 && sent > total * 0.5) {
        stage++;
        then(() => p.scale(2, planPins));
      }
    });
    await chain;
    t.deepEqual(errors, []);
    t.deepEqual([...p.operations].filter((s) => s.phase !== 'Succeeded').map((s) => s.error), []);
    const merged = await p.outputs();
    t.is(merged.duplicateFlows, 0, 'no flow has state on two instances');
    const flows = merged.outputs.flows as Flow[];
    t.deepEqual(counts(flows), expectedCounts(), 'every flow\'s packets and bytes');

    // The pinned flows' buckets did move away from the pins' instances.
    const movedAway = (instance: string) => new Set(p.steps.flatMap((s) => (s.kind === 'move' && s.from === instance ? s.buckets : [])));
    const toServers = (f: Flow, first: number, last: number) => [f.a.ip, f.b.ip].some((ip) => {
      const m = /^198\.51\.100\.(\d+)$/.exec(ip);
      return m !== null && Number(m[1]) >= first && Number(m[1]) <= last;
    });
    t.true(flows.some((f) => toServers(f, 1, 15) && movedAway('m-0').has(bucketOf(f))), 'a bucket with a pinned flow moved away from m-0');
    t.true(flows.some((f) => toServers(f, 16, 31) && movedAway('m-1').has(bucketOf(f))), 'a bucket with a migrated flow moved away from m-1');
  } finally {
    await p.c.stop();
  }
});

test.serial('moves to different destinations run at once, up to the concurrency, and lose nothing', async (t) => {
  const p = await pool(2);
  try {
    await p.scale(1);
    let scaled: Promise<void> | null = null;
    await p.c.replay(packets, { kind: 'rate', pps: 4000 }, (sent, total) => {
      if (!scaled && sent > total / 3) scaled = p.scale(3);
    });
    await scaled;
    const moves = [...p.operations].filter((s) => s.kind === 'move');
    t.deepEqual(moves.map((s) => [s.from[0], s.to, s.phase]), [['m-0', 'm-1', 'Succeeded'], ['m-0', 'm-2', 'Succeeded']]);
    const [x, y] = moves.map((s) => s.timeline);
    t.true(x.start < y.end! && y.start < x.end!, 'the two moves overlapped');
    const merged = await p.outputs();
    t.is(merged.duplicateFlows, 0);
    t.deepEqual(counts(merged.outputs.flows as Flow[]), expectedCounts());
  } finally {
    await p.c.stop();
  }
});

test('a wave takes moves in a row to different destinations, none coming from another\'s destination, up to the concurrency', (t) => {
  const move = (from: string, to: string, b: number): Step => ({ kind: 'move', from, to, buckets: [b] });
  const steps: Step[] = [
    { kind: 'create', instance: 'c' }, { kind: 'clone', from: 'a', to: 'c' },
    move('a', 'c', 1), move('b', 'c', 2), move('a', 'd', 3), move('b', 'e', 4), move('e', 'f', 5),
    { kind: 'merge', from: 'a', to: 'c' }, move('a', 'c', 6), move('a', 'd', 7),
  ];
  const kinds = (ws: Step[][]) => ws.map((w) => w.map((s) => (s.kind === 'move' ? s.buckets[0] : s.kind)));
  t.deepEqual(kinds(waves(steps, 3)), [['create'], ['clone'], [1], [2, 3, 4], [5], ['merge'], [6, 7]]);
  t.deepEqual(kinds(waves(steps, 1)), steps.map((s) => [s.kind === 'move' ? s.buckets[0] : s.kind]));
  t.false(joinsWave([move('a', 'b', 1)], { kind: 'merge', from: 'a', to: 'b' }, 4));
});
