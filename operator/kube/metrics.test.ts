/**
 * The operator's /metrics, scraped from its real HTTP endpoint without the bearer token the pool
 * outputs need: per pool and instance load from the sampler, operations by kind and result with
 * their durations, events held and released, reconcile durations, work-queue depth and retries,
 * and leadership.
 */
import test from 'ava';
import { silentLogger } from '../../shims/log/logger.js';
import type { MbCounters } from '../../shims/protocol/messages.js';
import { serveHttp } from './http.js';
import { LoadSampler } from './load.js';
import { OperatorMetrics } from './metrics.js';
import { PoolRegistry } from './pool-registry.js';

const counters = (packetsProcessed: number, flows: number): MbCounters => ({
  packetsProcessed, packetsReceived: packetsProcessed, packetsEmitted: 0, packetsReordered: 0,
  entries: { 'per-flow': flows, 'multi-flow': 0, 'all-flows': 1 }, latencyUs: [], bytes: { 'per-flow': flows * 50, 'multi-flow': 0, 'all-flows': 0 },
});

/** The value of the series `name{labels}` in a Prometheus text body (labels in the order served). */
function value(body: string, series: string): number | undefined {
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test('/metrics is open and carries per-pool and per-instance series, operations, reconciles, queues and leadership', async (t) => {
  let now = 0;
  const packets: Record<string, number> = { 'monitor-0': 0, 'monitor-1': 0 };
  const sampler = new LoadSampler(() => [{ key: 'ns/monitor', instances: Object.keys(packets), stats: async (i) => counters(packets[i], 7) }], { now: () => now });
  await sampler.sample();
  now += 10_000;
  packets['monitor-0'] += 20_000;
  packets['monitor-1'] += 5_000;
  await sampler.sample();

  const metrics = new OperatorMetrics({ processMetrics: false });
  metrics.attach({ load: sampler, queues: { pools: { length: 2 }, operations: { length: 0 } }, leading: () => true });
  metrics.operationFinished({ pool: 'ns/monitor', kind: 'move', result: 'Succeeded', from: ['monitor-0'], to: 'monitor-1', seconds: 0.3, eventsHeld: 12, eventsReleased: 12, eventsDropped: 0 });
  metrics.operationFinished({ pool: 'ns/monitor', kind: 'merge', result: 'Failed', from: ['monitor-1'], to: 'monitor-0', seconds: 2, eventsHeld: 0, eventsReleased: 0, eventsDropped: 3 });
  metrics.reconciled('pool', 0.02, true);
  metrics.reconciled('pool', 0.5, false);
  metrics.retried('pools');

  const http = await serveHttp({ host: '127.0.0.1', port: 0, registry: new PoolRegistry(), ready: () => true, log: silentLogger, secret: 's', metrics: metrics.collector });
  t.teardown(() => http.server.close());
  const res = await fetch(`http://${http.address}/metrics`);
  t.is(res.status, 200, 'no bearer token needed');
  t.regex(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const body = await res.text();
  const i0 = 'namespace="ns",pool="monitor",instance="monitor-0"';
  t.is(value(body, `openmb_instance_packets_per_second{${i0}}`), 2000);
  t.is(value(body, `openmb_instance_packets_per_second{namespace="ns",pool="monitor",instance="monitor-1"}`), 500);
  t.is(value(body, `openmb_instance_packets_processed_total{${i0}}`), 20_000);
  t.is(value(body, `openmb_instance_flows{${i0}}`), 7);
  t.is(value(body, `openmb_instance_state_bytes{${i0}}`), 350);
  t.is(value(body, 'openmb_pool_packets_per_second{namespace="ns",pool="monitor"}'), 2500);
  t.is(value(body, 'openmb_pool_flows{namespace="ns",pool="monitor"}'), 14);
  t.is(value(body, 'openmb_pool_state_bytes{namespace="ns",pool="monitor"}'), 700);
  t.is(value(body, 'openmb_operations_total{namespace="ns",pool="monitor",kind="move",result="succeeded"}'), 1);
  t.is(value(body, 'openmb_operations_total{namespace="ns",pool="monitor",kind="merge",result="failed"}'), 1);
  t.is(value(body, 'openmb_operation_duration_seconds_bucket{le="0.5",kind="move",result="succeeded"}'), 1);
  t.is(value(body, 'openmb_operation_duration_seconds_count{kind="merge",result="failed"}'), 1);
  t.is(value(body, `openmb_instance_events_held_total{${i0}}`), 12);
  t.is(value(body, 'openmb_instance_events_released_total{namespace="ns",pool="monitor",instance="monitor-1"}'), 12);
  t.is(value(body, 'openmb_pool_events_held_total{namespace="ns",pool="monitor"}'), 12);
  t.is(value(body, 'openmb_pool_events_dropped_total{namespace="ns",pool="monitor"}'), 3);
  t.is(value(body, 'openmb_reconcile_duration_seconds_count{controller="pool",result="success"}'), 1);
  t.is(value(body, 'openmb_reconcile_duration_seconds_count{controller="pool",result="error"}'), 1);
  t.is(value(body, 'openmb_workqueue_depth{queue="pools"}'), 2);
  t.is(value(body, 'openmb_workqueue_retries_total{queue="pools"}'), 1);
  t.is(value(body, 'openmb_leader'), 1);
  t.regex(body, /# TYPE openmb_operation_duration_seconds histogram/);
  t.regex(body, /# TYPE openmb_operations_total counter/);
  t.is((await fetch(`http://${http.address}/pools`)).status, 401, 'the pool list still needs the token');
});

test('an instance that is gone leaves the load series', async (t) => {
  const instances = ['a', 'b'];
  const sampler = new LoadSampler(() => [{ key: 'ns/p', instances, stats: async () => counters(1, 1) }]);
  const metrics = new OperatorMetrics({ processMetrics: false });
  metrics.attach({ load: sampler, queues: {}, leading: () => false });
  await sampler.sample();
  t.regex(await metrics.collector.text(), /openmb_instance_flows\{namespace="ns",pool="p",instance="b"\} 1/);
  instances.pop();
  await sampler.sample();
  const body = await metrics.collector.text();
  t.notRegex(body, /instance="b"/);
  t.is(value(body, 'openmb_leader'), 0);
});
