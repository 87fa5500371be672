/**
 * `openmb local`: a pool on this machine (controller here; switch and instances as processes),
 * a capture replayed through it while the pool scales, migrates a server or loses an instance,
 * and a report of what was sent, processed, moved, and what the middleboxes concluded.
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readCaptureFile, type CapturedPacket } from '../../shims/flow/pcap.js';
import { decode } from '../../shims/flow/decode.js';
import { srcText, dstText } from '../../shims/flow/decode.js';
import type { PartitionKeyKind } from '../../shims/flow/hash.js';
import type { Pace } from '../../shims/traffic/replay.js';
import { middleboxByType } from '../../shims/middleboxes/registry.js';
import { describe, poolInstanceConfig } from '../../shims/shim/descriptor.js';
import type { MbCounters } from '../../shims/protocol/messages.js';
import type { Logger } from '../../shims/log/logger.js';
import { MbController } from '../../operator/engine/controller.js';
import type { Guarantee, OperationStatus, Optimizations } from '../../operator/engine/operation.js';
import { PoolExecutor } from '../../operator/engine/pool.js';
import { initialPlacement, plan } from '../../operator/placement/plan.js';
import { BucketRouter } from '../../operator/routing/bucket-router.js';
import { LocalCluster } from '../../operator/runtime/local-cluster.js';
import { LocalRuntime } from './runtime.js';
import { mergedOutputs } from '../../operator/engine/merged-outputs.js';
import { compareOutputs, type Comparison } from './compare.js';
import { renderTimeline, type Sample } from './timeline.js';
import { progressBar } from '../progress.js';

export interface ScaleStep {
  /** Fraction of the trace sent when the pool's desired replicas change. */
  at: number;
  replicas: number;
}

export type Scenario = 'scale' | 'server-migration' | 'failover';

export interface LocalOptions {
  middlebox: string;
  trace: string;
  out: string;
  pace: Pace;
  config: Record<string, unknown>;
  log: Logger;
  interactive: boolean;
  replicas?: number;
  schedule?: ScaleStep[];
  guarantee?: Guarantee;
  optimizations?: Optimizations;
  buckets?: number;
  partitionKey?: PartitionKeyKind;
  inside?: string[];
  scenario?: Scenario;
  /** server-migration: the server whose flows move (default: the busiest server in the trace). */
  server?: string;
  /** server-migration and failover: when, as a fraction of the trace. */
  at?: number;
  /** Also run the trace through one unscaled instance and report the differences. */
  compare?: boolean;
  /** Keep the timeline page from being written (tests). */
  noTimeline?: boolean;
}

export interface Report {
  middlebox: string;
  trace: string;
  scenario: Scenario;
  guarantee: Guarantee;
  partitioning: { key: PartitionKeyKind; buckets: number; inside?: string[]; warning?: string };
  packets: { sent: number; processed: number; dropped: number; reordered: number };
  instances: { name: string; packets: number; state: 'live' | 'removed' | 'killed' }[];
  operations: OperationReport[];
  outputs: Record<string, unknown>;
  duplicateFlows: number;
  lostFlows: number;
  orphanEvents: number;
  errors: string[];
  comparison?: Comparison;
  durationMs: number;
}

export interface OperationReport {
  kind: string;
  guarantee: string;
  from: string;
  to: string;
  flows: number;
  bytes: number;
  eventsHeld: number;
  eventsReleased: number;
  durationMs: number;
  startedAt: string;
  endedAt: string;
  phase: string;
  error?: string;
  lostFlows?: number;
}

function operationReport(s: OperationStatus): OperationReport {
  const end = s.timeline.end ?? Date.now();
  return {
    kind: s.kind, guarantee: s.guarantee, from: s.from.join(','), to: s.to, flows: s.flows, bytes: s.bytes,
    eventsHeld: s.eventsHeld, eventsReleased: s.eventsReleased, durationMs: end - s.timeline.start,
    startedAt: new Date(s.timeline.start).toISOString(), endedAt: new Date(end).toISOString(), phase: s.phase,
    ...(s.error ? { error: s.error } : {}), ...(s.lostFlows !== undefined ? { lostFlows: s.lostFlows } : {}),
  };
}

/** The address that receives the most packets on a well-known port: a server worth migrating. */
export function busiestServer(packets: readonly CapturedPacket[]): string | null {
  const counts = new Map<string, number>();
  for (const p of packets) {
    const d = decode(p.data, p.linkType);
    if (!d.hasPorts) continue;
    const ip = d.dport < 1024 ? dstText(p.data, d) : d.sport < 1024 ? srcText(p.data, d) : null;
    if (ip) counts.set(ip, (counts.get(ip) ?? 0) + 1);
  }
  let best: string | null = null;
  for (const [ip, n] of counts) if (!best || n > counts.get(best)!) best = ip;
  return best;
}

export async function runLocal(o: LocalOptions): Promise<Report> {
  const def = middleboxByType(o.middlebox);
  const key = o.partitionKey ?? def.partitionKey;
  const buckets = o.buckets ?? 64;
  const partitioning = { key, buckets, ...(o.inside ? { inside: o.inside } : {}) };
  const descriptor = describe(def);
  // Each instance derives the same from the partitioning it is started with.
  const config = poolInstanceConfig(def, o.config, partitioning);
  const parsedConfig = def.parseConfig({ ...def.defaultConfig, ...config }); // refuse a bad configuration before starting anything
  const { packets } = readCaptureFile(o.trace);
  const out = resolve(o.out);
  const scenario = o.scenario ?? 'scale';
  const guarantee = o.guarantee ?? 'loss-free';
  const replicas = o.replicas ?? (scenario === 'scale' ? 1 : 2);
  const started = performance.now();
  const reference = o.compare ? await runLocal({ ...o, out: join(out, 'reference'), replicas: 1, schedule: [], scenario: 'scale', compare: false, interactive: false, noTimeline: true }) : null;

  const cluster = await LocalCluster.start({ log: o.log, logDir: join(out, 'logs') });
  const errors: string[] = [];
  const killed = new Set<string>();
  let lostFlows = 0;
  try {
    const egress = def.createEgress?.(parsedConfig);
    if (egress) await cluster.attachSink((p) => egress.receive(p));
    const router = new BucketRouter(() => [cluster.sw], partitioning);
    const controller = new MbController(cluster.sessions, router, o.log);
    const runtime = new LocalRuntime(cluster, o.middlebox, o.config, partitioning);
    const operations: OperationStatus[] = [];
    const pool = new PoolExecutor(initialPlacement(buckets), controller, router, runtime, {
      descriptor, guarantee, optimizations: o.optimizations ?? { parallelPuts: true, earlyRelease: true, lateLocking: true }, log: o.log,
      onOperation: (s) => { if (!operations.includes(s)) operations.push(s); },
    });
    await pool.run(plan({ current: pool.placement, replicas, namePrefix: o.middlebox }));

    // Every 50 ms: packets processed per instance, for the timeline.
    const samples: Sample[] = [];
    const sampler = setInterval(() => {
      const names = [...cluster.instances.keys()];
      Promise.all(names.map((n) => cluster.session(n).stats().then((c) => [n, c] as const).catch(() => null)))
        .then((rows) => samples.push({ t: Date.now(), processed: Object.fromEntries(rows.filter((r): r is readonly [string, MbCounters] => r !== null).map(([n, c]) => [n, c.packetsProcessed])) }))
        .catch(() => {});
    }, 50);

    let chain: Promise<void> = Promise.resolve();
    const enqueue = (what: string, fn: () => Promise<void>) => {
      chain = chain.then(fn).catch((e: Error) => { errors.push(`${what}: ${e.message}`); });
    };
    const schedule = [...(o.schedule ?? [])].sort((a, b) => a.at - b.at);
    let next = 0;
    let scenarioDone = scenario === 'scale';
    const at = o.at ?? 0.5;
    const bar = o.interactive ? progressBar(`${o.middlebox}`, packets.length, ' | {instances} instances | {ops}') : null;
    const onProgress = (sent: number, total: number) => {
      while (next < schedule.length && sent >= schedule[next].at * total) {
        const r = schedule[next++].replicas;
        enqueue(`scale to ${r}`, () => pool.run(plan({ current: pool.placement, replicas: r, namePrefix: o.middlebox })));
      }
      if (!scenarioDone && sent >= at * total) {
        scenarioDone = true;
        if (scenario === 'failover') enqueue('failover', async () => { lostFlows += await failover(pool, router, runtime, controller, killed); });
        else enqueue('server migration', () => migrateServer(o.server ?? busiestServer(packets), pool, router, controller, guarantee, o.optimizations));
      }
      const running = operations.filter((s) => s.phase === 'Running').map((s) => `${s.kind} ${s.from.join(',')}→${s.to}`).join(' ');
      bar?.update(sent, { instances: String(cluster.instances.size), ops: running || 'no operation running' });
    };
    const r = await cluster.replay(packets, o.pace, onProgress);
    await chain;
    bar?.stop();
    const settled = await cluster.settle();
    clearInterval(sampler);

    const live = [...cluster.instances.keys()];
    const liveCounters = await Promise.all(live.map((n) => cluster.session(n).stats()));
    const all = [...liveCounters, ...runtime.retired.values()];
    const merged = await mergedOutputs(descriptor.outputs, live.map((n) => cluster.session(n)));
    if (egress) merged.outputs.egress = egress.report();
    const report: Report = {
      middlebox: o.middlebox,
      trace: o.trace,
      scenario,
      guarantee,
      partitioning: { ...partitioning, ...(key !== def.partitionKey ? { warning: partitionWarning(def.partitionKey, key) } : {}) },
      packets: {
        sent: r.sent,
        processed: all.reduce((n, c) => n + c.packetsProcessed, 0),
        dropped: settled.dropped,
        reordered: all.reduce((n, c) => n + c.packetsReordered, 0),
      },
      instances: [
        ...live.map((name, i) => ({ name, packets: liveCounters[i].packetsProcessed, state: 'live' as const })),
        ...[...runtime.retired].map(([name, c]) => ({ name, packets: c.packetsProcessed, state: 'removed' as const })),
        ...[...killed].map((name) => ({ name, packets: 0, state: 'killed' as const })),
      ],
      operations: operations.map(operationReport),
      outputs: merged.outputs,
      duplicateFlows: merged.duplicateFlows,
      lostFlows,
      orphanEvents: controller.orphanEvents,
      errors,
      ...(reference ? { comparison: compareOutputs(merged.outputs, reference.outputs) } : {}),
      durationMs: Math.round(performance.now() - started),
    };
    writeFileSync(join(out, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
    if (!o.noTimeline) writeFileSync(join(out, 'timeline.html'), renderTimeline(report, operations, samples));
    return report;
  } finally {
    await cluster.stop();
  }
}

export function partitionWarning(needs: PartitionKeyKind, got: PartitionKeyKind): string {
  return `this middlebox keeps multi-flow state that needs partitioning by "${needs}"; partitioning by "${got}" splits those groups across instances, so state that spans them (e.g. per-host counters) is incomplete on each`;
}

/** Kills the newest instance; its buckets go to the survivors, its state is lost and counted. */
async function failover(pool: PoolExecutor, router: BucketRouter, runtime: LocalRuntime, controller: MbController, killed: Set<string>): Promise<number> {
  const p = pool.placement;
  if (p.instances.length < 2) throw new Error('failover needs at least two instances');
  const victim = p.instances[p.instances.length - 1];
  const lost = (await controller.session(victim).stats()).entries['per-flow'];
  await runtime.kill(victim);
  killed.add(victim);
  const survivors = p.instances.filter((i) => i !== victim);
  let k = 0;
  const owner = p.owner.map((o) => (o === victim ? survivors[k++ % survivors.length] : o));
  pool.placement = { ...p, instances: survivors, owner };
  owner.forEach((o, b) => { router.owner[b] = o; });
  await router.apply();
  return lost;
}

/** Moves every flow of one server to the last instance, from each instance that has some. */
async function migrateServer(server: string | null, pool: PoolExecutor, router: BucketRouter, controller: MbController,
  guarantee: Guarantee, optimizations?: Optimizations): Promise<void> {
  if (!server) throw new Error('no server found in the trace to migrate');
  const instances = pool.placement.instances;
  if (instances.length < 2) throw new Error('server migration needs at least two instances');
  const target = instances[instances.length - 1];
  for (const src of instances.slice(0, -1)) {
    const own = router.bucketsOf(src);
    if (own.length === 0) continue;
    const filter = { nwDst: server, bidirectional: true, buckets: router.bucketFilter(own).buckets! };
    const s = await controller.move(src, target, filter, ['per-flow'], { guarantee, optimizations });
    if (s.phase === 'Failed') throw new Error(`moving ${server}'s flows from ${src} failed: ${s.error}`);
  }
}
