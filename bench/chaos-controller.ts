/**
 * One controller process of the chaos run (bench/chaos.ts) and of the crash tests
 * (operator/engine/crash.test.ts): the MB controller, route controller and plan executor of one
 * pool over a LocalCluster on a state directory, so its switch and instances outlive it. Each
 * operation's steps are journaled to STATE/journal/<id>.json (written by rename) before they run;
 * a process that starts on a state directory adopts the data plane there and takes over every
 * journaled operation (MbController.resume) before it serves.
 *
 * Commands come on stdin, one JSON object per line: {"replicas": n} scales the pool (a plan of
 * moves, clones and merges), {"report": true} asks for every instance's counters and the pool's
 * merged outputs, {"stop": true} ends the data plane too. Every event goes to stdout as one JSON line: ready, resumed, operation,
 * retired (an instance's final counters, printed before it stops), scaled, report.
 *
 * OPENMB_CRASH_AT=<kind>:<step>[:<n>] (kind: move, clone, merge; step: hold, copy, route,
 * delete, or between-puts) makes the process SIGKILL itself as its n-th operation of that kind
 * (default 1) enters that step, once the step is journaled.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { MbController } from '../operator/engine/controller.js';
import { mergeOutputs } from '../operator/engine/merged-outputs.js';
import { GUARANTEES, type Guarantee, type OperationStatus } from '../operator/engine/operation.js';
import { PoolExecutor } from '../operator/engine/pool.js';
import { initialPlacement, plan, type Placement } from '../operator/placement/plan.js';
import { BucketRouter } from '../operator/routing/bucket-router.js';
import { ClusterInstances } from '../operator/runtime/cluster-instances.js';
import { LocalCluster } from '../operator/runtime/local-cluster.js';
import { createLogger } from '../shims/log/logger.js';
import { middleboxByType } from '../shims/middleboxes/registry.js';
import { describe } from '../shims/shim/descriptor.js';

const { values } = parseArgs({
  options: {
    'state-dir': { type: 'string' },
    'log-dir': { type: 'string' },
    middlebox: { type: 'string', default: 'monitor' },
    buckets: { type: 'string', default: '16' },
    guarantee: { type: 'string', default: 'loss-free' },
    'lease-ms': { type: 'string' },
  },
});
const stateDir = values['state-dir'];
if (!stateDir) throw new Error('--state-dir is required');
const guarantee = values.guarantee as Guarantee;
if (!GUARANTEES.includes(guarantee)) throw new Error(`--guarantee: one of ${GUARANTEES.join(', ')}, got ${values.guarantee}`);
const buckets = Number(values.buckets);
const leaseMs = values['lease-ms'] === undefined ? undefined : Number(values['lease-ms']);
const def = middleboxByType(values.middlebox!);
const partitioning = { key: def.partitionKey, buckets };
const journalDir = join(stateDir, 'journal');
mkdirSync(journalDir, { recursive: true });
const log = createLogger('chaos-controller', process.env.OPENMB_LOG_LEVEL ?? 'warn');
const emit = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(event)}\n`);

const [crashKind, crashStep, crashNth] = (process.env.OPENMB_CRASH_AT ?? '').split(':');
/** Each operation's ordinal among this process's operations of its kind. */
const ordinals = new Map<string, number>();
const seenOfKind = new Map<string, number>();
function ordinal(s: OperationStatus): number {
  let n = ordinals.get(s.id);
  if (n === undefined) {
    n = (seenOfKind.get(s.kind) ?? 0) + 1;
    seenOfKind.set(s.kind, n);
    ordinals.set(s.id, n);
  }
  return n;
}
const crashesAt = (s: OperationStatus, step: string) => crashKind === s.kind && crashStep === step && ordinal(s) === Number(crashNth || 1);

/** The journal: written before each step; the crash point, if any, comes once it is on disk. */
function journal(s: OperationStatus): Promise<void> {
  const file = join(journalDir, `${s.id}.json`);
  writeFileSync(`${file}.tmp`, JSON.stringify(s));
  renameSync(`${file}.tmp`, file);
  if (s.step && crashesAt(s, s.step)) process.kill(process.pid, 'SIGKILL');
  return Promise.resolve();
}

function onOperation(s: OperationStatus): void {
  if (s.step === 'copy' && s.flows > 0 && crashesAt(s, 'between-puts')) process.kill(process.pid, 'SIGKILL');
  if (s.phase !== 'Succeeded' && s.phase !== 'Failed') return;
  rmSync(join(journalDir, `${s.id}.json`), { force: true });
  emit({ operation: { id: s.id, kind: s.kind, from: s.from, to: s.to, phase: s.phase, step: s.step, flows: s.flows, held: s.eventsHeld, dropped: s.eventsDropped, resumed: s.resumed ?? false, error: s.error } });
}

const cluster = await LocalCluster.start({ log, logDir: values['log-dir'] ?? join(stateDir, 'logs'), stateDir });
const router = new BucketRouter(() => [cluster.sw], partitioning);
if (cluster.adoption) await router.learn();
const controller = new MbController(cluster.sessions, router, log);
const instances = new ClusterInstances(cluster, def.type, () => ({}), partitioning);
/** The counters an instance ends with, printed before it stops, so the run's totals count it even if this process dies next. */
const runtime = {
  start: (name: string) => instances.start(name),
  stop: async (name: string) => {
    const s = cluster.sessions.instances.get(name);
    const last = s && !s.closed ? await s.stats() : null;
    if (last) emit({ retired: { name, pid: cluster.instances.get(name)?.child.proc.pid, counters: last } });
    await instances.stop(name);
  },
};

const resumed: string[] = [];
for (const file of readdirSync(journalDir).filter((f) => f.endsWith('.json')).sort()) {
  const j = JSON.parse(readFileSync(join(journalDir, file), 'utf8')) as OperationStatus;
  const s = await controller.resume(j, { journal, onProgress: onOperation, ...(leaseMs ? { leaseMs } : {}) });
  onOperation(s);
  resumed.push(`${s.id}:${s.phase}`);
  emit({ resumed: { id: s.id, step: j.step, phase: s.phase, error: s.error } });
}

const live = [...cluster.instances.keys()];
const placement: Placement = live.length === 0 ? initialPlacement(buckets) : { buckets, instances: live, owner: [...router.owner] };
const pool = new PoolExecutor(placement, controller, router, runtime, {
  descriptor: describe(def), configuration: () => ({ values: { ...def.defaultConfig }, generation: 1 }), guarantee,
  optimizations: { parallelPuts: false }, log, journal: (s) => journal(s), onOperation: (s) => onOperation(s),
});
if (live.length === 0) await pool.run(plan({ current: pool.placement, replicas: 1, namePrefix: def.type }));
emit({ ready: { switchSocket: cluster.switchSock, secret: cluster.secret, instances: pool.placement.instances, adopted: cluster.adoption?.adopted ?? [], resumed } });

for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const cmd = JSON.parse(line) as { replicas?: number; report?: boolean; stop?: boolean };
  if (cmd.replicas !== undefined) {
    await pool.run(plan({ current: pool.placement, replicas: cmd.replicas, namePrefix: def.type }));
    emit({ scaled: cmd.replicas, instances: pool.placement.instances });
  } else if (cmd.report) {
    await cluster.settle();
    const names = pool.placement.instances;
    const counters = Object.fromEntries(await Promise.all(names.map(async (n) => [n, { pid: cluster.instances.get(n)?.child.proc.pid, counters: await cluster.session(n).stats() }])));
    const outputs = mergeOutputs(def.outputs, await Promise.all(names.map((n) => cluster.session(n).outputs())));
    emit({ report: { instances: counters, switch: await cluster.sw.stats(), outputs } });
  } else if (cmd.stop) {
    await cluster.stop();
    break;
  }
}
// Without a stop the data plane goes on, recorded in the state directory, for the next process.
process.exit(0);
