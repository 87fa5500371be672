/**
 * The operator's metrics, served on /metrics of its HTTP endpoint. Per pool and instance: the
 * load the LoadSampler reads (packets per second, packets processed, flows, state bytes) and the
 * events moves held and released; StateOperations by kind and result, and how long they took;
 * reconcile durations; work-queue depth and retries; whether this replica leads. One process-wide
 * collector, so the trackers and reconcilers record into it without it being passed through them.
 */
import { Collector, type Sample } from '../../shims/metrics/collector.js';
import type { InstanceLoad, LoadSampler } from './load.js';

type PoolLabels = 'namespace' | 'pool';
type InstanceLabels = PoolLabels | 'instance';

export interface FinishedOperation {
  /** "namespace/name" of the pool. */
  pool: string;
  kind: string;
  result: 'Succeeded' | 'Failed';
  from: readonly string[];
  to: string;
  seconds: number;
  eventsHeld: number;
  eventsReleased: number;
  eventsDropped: number;
}

/** What the collector reads at each scrape; the Operator attaches it once it runs. */
export interface OperatorSources {
  load: LoadSampler;
  queues: Record<string, { readonly length: number }>;
  /** 1 while this replica leads (or runs without election), else 0. */
  leading: () => boolean;
}

const OPERATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
const RECONCILE_BUCKETS = [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

const poolLabels = (key: string): Record<PoolLabels, string> => {
  const i = key.indexOf('/');
  return { namespace: key.slice(0, i), pool: key.slice(i + 1) };
};

export class OperatorMetrics {
  readonly collector: Collector;
  private sources: OperatorSources | null = null;
  private readonly operations;
  private readonly operationSeconds;
  private readonly eventsHeld;
  private readonly eventsReleased;
  private readonly poolEventsHeld;
  private readonly poolEventsReleased;
  private readonly poolEventsDropped;
  private readonly reconcileSeconds;
  private readonly retries;

  constructor(o: { processMetrics?: boolean } = {}) {
    const c = new Collector({ processMetrics: o.processMetrics });
    this.collector = c;
    this.operations = c.counter<PoolLabels | 'kind' | 'result'>('operations_total', 'StateOperations finished, by kind (move, clone, merge) and result', ['namespace', 'pool', 'kind', 'result']);
    this.operationSeconds = c.histogram<'kind' | 'result'>('operation_duration_seconds', 'how long StateOperations took, start to end', ['kind', 'result'], OPERATION_BUCKETS);
    this.eventsHeld = c.counter<InstanceLabels>('instance_events_held_total', 'packets of moved flows held while their state moved, by the instance they left', ['namespace', 'pool', 'instance']);
    this.eventsReleased = c.counter<InstanceLabels>('instance_events_released_total', 'held packets released to the instance the flows moved to', ['namespace', 'pool', 'instance']);
    this.poolEventsHeld = c.counter<PoolLabels>('pool_events_held_total', 'packets of moved flows held while their state moved, in a pool', ['namespace', 'pool']);
    this.poolEventsReleased = c.counter<PoolLabels>('pool_events_released_total', 'held packets released to the instances flows moved to, in a pool', ['namespace', 'pool']);
    this.poolEventsDropped = c.counter<PoolLabels>('pool_events_dropped_total', 'packets of moved flows dropped because a move already held its maximum (200,000), in a pool', ['namespace', 'pool']);
    this.reconcileSeconds = c.histogram<'controller' | 'result'>('reconcile_duration_seconds', 'how long reconciles took, by reconciler and result (success, error)', ['controller', 'result'], RECONCILE_BUCKETS);
    this.retries = c.counter<'queue'>('workqueue_retries_total', 'keys put back on a work queue with backoff after a failed reconcile', ['queue']);

    const load = (read: (l: InstanceLoad) => number | null) => (): Sample<InstanceLabels>[] => [...this.sources?.load.instances() ?? []]
      .flatMap(({ pool, instance, load: l }) => { const v = read(l); return v === null ? [] : [{ labels: { ...poolLabels(pool), instance }, value: v }]; });
    const poolLoad = (read: (l: InstanceLoad) => number | null) => (): Sample<PoolLabels>[] => (this.sources?.load.poolKeys() ?? [])
      .flatMap((key) => { const l = this.sources!.load.pool(key); const v = l ? read(l) : null; return v === null ? [] : [{ labels: poolLabels(key), value: v }]; });
    const instanceLabels = ['namespace', 'pool', 'instance'] as const;
    c.gauge('instance_packets_per_second', 'packets an instance processed per second, over the sampling window', instanceLabels, load((l) => l.packetsPerSecond));
    c.totals('instance_packets_processed_total', 'packets an instance processed (from its own counters; a replaced instance starts again)', instanceLabels, load((l) => l.packetsProcessed));
    c.gauge('instance_flows', 'per-flow state entries an instance holds', instanceLabels, load((l) => l.flows));
    c.gauge('instance_state_bytes', 'an instance\'s state, serialized, every scope', instanceLabels, load((l) => l.stateBytes));
    c.gauge('pool_packets_per_second', 'packets a pool\'s instances processed per second, over the sampling window', ['namespace', 'pool'], poolLoad((l) => l.packetsPerSecond));
    c.gauge('pool_flows', 'per-flow state entries across a pool\'s instances', ['namespace', 'pool'], poolLoad((l) => l.flows));
    c.gauge('pool_state_bytes', 'a pool\'s state, serialized, across its instances', ['namespace', 'pool'], poolLoad((l) => l.stateBytes));
    c.gauge<'queue'>('workqueue_depth', 'keys waiting on a work queue', ['queue'],
      () => Object.entries(this.sources?.queues ?? {}).map(([queue, q]) => ({ labels: { queue }, value: q.length })));
    c.gauge('leader', '1 while this replica is the leader (or runs without leader election)', [], () => [{ labels: {}, value: this.sources?.leading() ? 1 : 0 }]);
  }

  attach(sources: OperatorSources): void {
    this.sources = sources;
  }

  operationFinished(op: FinishedOperation): void {
    const pool = poolLabels(op.pool);
    const result = op.result.toLowerCase();
    this.operations.inc({ ...pool, kind: op.kind, result });
    this.operationSeconds.observe({ kind: op.kind, result }, op.seconds);
    // Only a move holds packets, and a move has one source.
    this.eventsHeld.inc({ ...pool, instance: op.from[0] }, op.eventsHeld);
    this.eventsReleased.inc({ ...pool, instance: op.to }, op.eventsReleased);
    this.poolEventsHeld.inc(pool, op.eventsHeld);
    this.poolEventsReleased.inc(pool, op.eventsReleased);
    this.poolEventsDropped.inc(pool, op.eventsDropped);
  }

  reconciled(controller: string, seconds: number, ok: boolean): void {
    this.reconcileSeconds.observe({ controller, result: ok ? 'success' : 'error' }, seconds);
  }

  retried(queue: string): void {
    this.retries.inc({ queue });
  }
}

export const operatorMetrics = new OperatorMetrics();
