/**
 * `openmb local`: a pool on this machine (controller here; switch and instances as processes),
 * a capture replayed through it while the pool scales, migrates a server or loses an instance,
 * and a report of what was sent, processed, moved, and what the middleboxes concluded.
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { FlowFilter } from '../../shims/flow/filter.js';
import { readCaptureFile } from '../../shims/flow/pcap.js';
import type { PartitionKeyKind } from '../../shims/flow/hash.js';
import type { Pace } from '../../shims/traffic/replay.js';
import { middleboxByType } from '../../shims/middleboxes/registry.js';
import { describe, poolInstanceConfig } from '../../shims/shim/descriptor.js';
import type { Logger } from '../../shims/log/logger.js';
import { MbController } from '../../operator/engine/controller.js';
import { ALL_OPTIMIZATIONS, type Guarantee, type OperationStatus, type Optimizations, type Transfer } from '../../operator/engine/operation.js';
import { type ConfigVersion, PoolExecutor } from '../../operator/engine/pool.js';
import { initialPlacement, plan } from '../../operator/placement/plan.js';
import { BucketRouter } from '../../operator/routing/bucket-router.js';
import { LocalCluster } from '../../operator/runtime/local-cluster.js';
import { ClusterInstances } from '../../operator/runtime/cluster-instances.js';
import { mergedOutputs } from '../../operator/engine/merged-outputs.js';
import { compareOutputs, type Comparison } from './compare.js';
import { renderTimeline } from './timeline.js';
import { TimelineFeed } from '../../operator/timeline/feed.js';
import { PoolSampler } from '../../operator/timeline/sampler.js';
import { countLost, type Kill, type Lost, NOTHING_LOST } from './losses.js';
import { busiestServer, killAndFailOver, migrateServer, type Migration, whereMigrated } from './scenarios.js';
import { progressBar } from '../progress.js';
import { type Reconfiguration, splitPoint } from './reconfigure.js';

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
  /** How state travels in every operation (default direct). */
  transfer?: Transfer;
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
  /** The run's live timeline, before the pool starts (to serve it: --serve); not called with noTimeline. */
  onTimeline?: (feed: TimelineFeed) => void | Promise<void>;
  /** Configuration changes at points of the trace (see reconfigure.ts). */
  reconfigure?: Reconfiguration[];
}

export interface Report {
  middlebox: string;
  trace: string;
  scenario: Scenario;
  guarantee: Guarantee;
  /** The transfer the pool's operations were asked for. */
  transfer: Transfer;
  partitioning: { key: PartitionKeyKind; buckets: number; inside?: string[]; warning?: string };
  /** sent = processed + dropped + lost: `lost` died with a killed instance (see `lost`). */
  packets: { sent: number; processed: number; dropped: number; lost: number; reordered: number };
  /** A killed instance's `packets` are those it had processed by its last report. */
  instances: { name: string; packets: number; state: 'live' | 'removed' | 'killed' }[];
  operations: OperationReport[];
  outputs: Record<string, unknown>;
  duplicateFlows: number;
  /** What died with killed instances (failover), packets and flows. */
  lost: Lost;
  /** server-migration: where the server's flows are at the end. */
  migration?: Migration;
  errors: string[];
  /** Each configuration change: its point (a fraction and the index of the first packet it applied to), its file, its generation. */
  reconfigurations?: { at: number; packet: number; file: string; generation: number }[];
  comparison?: Comparison;
  durationMs: number;
}

export interface OperationReport {
  kind: string;
  guarantee: string;
  from: string;
  to: string;
  /** The flows it was for (a bucket set; a server's flows within one; all flows). */
  filter: FlowFilter;
  flows: number;
  bytes: number;
  eventsHeld: number;
  eventsReleased: number;
  eventsDropped: number;
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
    kind: s.kind, guarantee: s.guarantee, from: s.from.join(','), to: s.to, filter: s.filter, flows: s.flows, bytes: s.bytes,
    eventsHeld: s.eventsHeld, eventsReleased: s.eventsReleased, eventsDropped: s.eventsDropped, durationMs: end - s.timeline.start,
    startedAt: new Date(s.timeline.start).toISOString(), endedAt: new Date(end).toISOString(), phase: s.phase,
    ...(s.error ? { error: s.error } : {}), ...(s.lostFlows !== undefined ? { lostFlows: s.lostFlows } : {}),
  };
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
  const changes = [...(o.reconfigure ?? [])].sort((a, b) => a.at - b.at);
  for (const r of changes) {
    try {
      def.parseConfig({ ...def.defaultConfig, ...poolInstanceConfig(def, r.config, partitioning) });
    } catch (e) {
      throw new Error(`--reconfigure ${r.at}:${r.file}: ${(e as Error).message}`);
    }
  }
  const { packets } = readCaptureFile(o.trace);
  const out = resolve(o.out);
  const scenario = o.scenario ?? 'scale';
  const guarantee = o.guarantee ?? 'loss-free';
  const transfer = o.transfer ?? 'direct';
  const replicas = o.replicas ?? (scenario === 'scale' ? 1 : 2);
  const started = performance.now();
  const reference = o.compare ? await runLocal({ ...o, out: join(out, 'reference'), replicas: 1, schedule: [], scenario: 'scale', compare: false, interactive: false, noTimeline: true }) : null;

  const cluster = await LocalCluster.start({ log: o.log, logDir: join(out, 'logs') });
  const errors: string[] = [];
  const kills: Kill[] = [];
  let migrated: { server: string; to: string } | null = null;
  try {
    const egress = def.createEgress?.(parsedConfig);
    if (egress) await cluster.attachSink((p) => egress.receive(p));
    const router = new BucketRouter(() => [cluster.sw], partitioning);
    const controller = new MbController(cluster.sessions, router, o.log);
    const runtime = new ClusterInstances(cluster, o.middlebox, () => o.config, partitioning);
    const operations: OperationStatus[] = [];
    // Every 50 ms: packets processed per instance, the placement and the operations, for the timeline.
    const timeline = new TimelineFeed({ pool: `local/${o.middlebox}`, middlebox: o.middlebox, buckets });
    const sampler = new PoolSampler(timeline, {
      instances: () => [...cluster.instances.keys()],
      processed: async (n) => (await cluster.session(n).stats()).packetsProcessed,
      owner: () => router.owner,
      operations: () => operations,
    }, 50);
    if (!o.noTimeline) await o.onTimeline?.(timeline);
    sampler.start();
    let configuration: ConfigVersion = { values: o.config, generation: 1 };
    const pool = new PoolExecutor(initialPlacement(buckets), controller, router, runtime, {
      descriptor, configuration: () => configuration, guarantee, optimizations: o.optimizations ?? ALL_OPTIMIZATIONS, transfer, log: o.log,
      onOperation: (s) => { if (!operations.includes(s)) operations.push(s); timeline.operation(s); },
    });
    await pool.run(plan({ current: pool.placement, replicas, namePrefix: o.middlebox }));
    const rulesAtStart = JSON.stringify(router.rules());


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
        if (scenario === 'failover') enqueue('failover', () => killAndFailOver(pool, controller, runtime, router, rulesAtStart, o.middlebox, kills));
        else enqueue('server migration', async () => { migrated = await migrateServer(pool, o.server ?? busiestServer(packets)); });
      }
      const running = operations.filter((s) => s.phase === 'Running').map((s) => `${s.kind} ${s.from.join(',')}→${s.to}`).join(' ');
      bar?.update(sent, { instances: String(cluster.instances.size), ops: running || 'no operation running' });
    };
    // Each configuration change splits the replay: what came before it is processed everywhere, then every instance takes it.
    const reconfigurations: NonNullable<Report['reconfigurations']> = [];
    const r = { sent: 0 };
    let from = 0;
    for (const change of [...changes, null]) {
      const to = change ? splitPoint(change.at, packets.length) : packets.length;
      const part = await cluster.replay(packets.slice(from, to), o.pace, (sent) => onProgress(from + sent, packets.length));
      r.sent += part.sent;
      from = to;
      if (!change) break;
      await chain;
      await cluster.settle();
      configuration = { values: change.config, generation: configuration.generation + 1 };
      await pool.reconfigure();
      reconfigurations.push({ at: change.at, packet: to, file: change.file, generation: configuration.generation });
    }
    await chain;
    bar?.stop();
    const settled = await cluster.settle();
    await sampler.stop();
    await sampler.tick();

    const live = [...cluster.instances.keys()];
    const liveCounters = await Promise.all(live.map((n) => cluster.session(n).stats()));
    const all = [...liveCounters, ...runtime.retired.values()];
    const merged = await mergedOutputs(descriptor.outputs, live.map((n) => cluster.session(n)));
    if (egress) merged.outputs.egress = egress.report();
    const lost = kills.length > 0 ? countLost(kills, await cluster.sw.stats(), def, config, packets) : NOTHING_LOST;
    const migration = migrated ? await whereMigrated(migrated, live.map((n) => cluster.session(n)), cluster.sw) : undefined;
    const report: Report = {
      middlebox: o.middlebox,
      trace: o.trace,
      scenario,
      guarantee,
      transfer,
      partitioning: { ...partitioning, ...(key !== def.partitionKey ? { warning: partitionWarning(def.partitionKey, key) } : {}) },
      packets: {
        sent: r.sent,
        processed: all.reduce((n, c) => n + c.packetsProcessed, 0),
        dropped: settled.dropped - lost.queued,
        lost: lost.packets,
        reordered: all.reduce((n, c) => n + c.packetsReordered, 0),
      },
      instances: [
        ...live.map((name, i) => ({ name, packets: liveCounters[i].packetsProcessed, state: 'live' as const })),
        ...[...runtime.retired].map(([name, c]) => ({ name, packets: c.packetsProcessed, state: 'removed' as const })),
        ...kills.map((k) => ({ name: k.instance, packets: k.last.packetsProcessed, state: 'killed' as const })),
      ],
      operations: operations.map(operationReport),
      outputs: merged.outputs,
      duplicateFlows: merged.duplicateFlows,
      lost,
      ...(migration ? { migration } : {}),
      errors,
      ...(reconfigurations.length > 0 ? { reconfigurations } : {}),
      ...(reference ? { comparison: compareOutputs(merged.outputs, reference.outputs) } : {}),
      durationMs: Math.round(performance.now() - started),
    };
    writeFileSync(join(out, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
    if (!o.noTimeline) writeFileSync(join(out, 'timeline.html'), renderTimeline(report, timeline));
    return report;
  } finally {
    await cluster.stop();
  }
}

export function partitionWarning(needs: PartitionKeyKind, got: PartitionKeyKind): string {
  return `this middlebox keeps multi-flow state that needs partitioning by "${needs}"; partitioning by "${got}" splits those groups across instances, so state that spans them (e.g. per-host counters) is incomplete on each`;
}
