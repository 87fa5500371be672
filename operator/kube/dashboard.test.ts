/**
 * The Grafana dashboard (manifests/dashboard/openmb-dashboard.json) is a dashboard in Grafana's
 * JSON model (panels on the 24-column grid, each query with a refId, variables defined before
 * use) and charts only series OpenMB serves: every metric its PromQL names is registered by the
 * operator's, an instance's or a switch's real collector.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { middleboxMetrics } from '../../shims/metrics/middlebox-metrics.js';
import { switchMetrics } from '../../shims/metrics/switch-metrics.js';
import type { MbCounters, SwitchStats } from '../../shims/protocol/messages.js';
import { OperatorMetrics } from './metrics.js';

interface Target { refId?: string; expr?: string }
interface Panel { id?: number; type?: string; title?: string; gridPos?: { h: number; w: number; x: number; y: number }; targets?: Target[] }
interface Dashboard { title?: string; uid?: string; schemaVersion?: number; panels?: Panel[]; templating?: { list?: { name?: string; type?: string }[] } }

const dashboard = JSON.parse(readFileSync(new URL('../../../manifests/dashboard/openmb-dashboard.json', import.meta.url), 'utf8')) as Dashboard;

/** Metric names in PromQL: identifiers with our prefix, histogram series folded into their metric. */
const metricsIn = (expr: string) => [...expr.matchAll(/\bopenmb_[a-z0-9_]+/g)].map(([m]) => m.replace(/_(bucket|sum|count)$/, ''));

function servedNames(): Set<string> {
  const counters = {} as MbCounters;
  const stats = {} as SwitchStats;
  const registries = [
    new OperatorMetrics({ processMetrics: false }).collector.registry,
    middleboxMetrics({ stats: () => counters }, { pool: 'p', instance: 'i', middlebox: 'monitor' }, { processMetrics: false }).registry,
    switchMetrics({ snapshot: () => stats }, { pool: 'p', switch: 's' }, { processMetrics: false }).registry,
  ];
  return new Set(registries.flatMap((r) => r.getMetricsAsArray().map((m) => m.name)));
}

test('the dashboard is in Grafana\'s JSON model', (t) => {
  t.truthy(dashboard.title);
  t.truthy(dashboard.uid);
  t.true(typeof dashboard.schemaVersion === 'number' && dashboard.schemaVersion >= 30);
  const panels = dashboard.panels ?? [];
  t.true(panels.length >= 8);
  t.is(new Set(panels.map((p) => p.id)).size, panels.length, 'panel ids are unique');
  for (const p of panels) {
    t.truthy(p.title && p.type, `panel ${p.id}`);
    const g = p.gridPos!;
    t.true(g.w > 0 && g.h > 0 && g.x >= 0 && g.x + g.w <= 24, `${p.title}: on the 24-column grid`);
    t.true((p.targets ?? []).length > 0, `${p.title}: has queries`);
    t.is(new Set(p.targets!.map((q) => q.refId)).size, p.targets!.length, `${p.title}: refIds are unique`);
  }
  const defined = new Set((dashboard.templating?.list ?? []).map((v) => v.name));
  const used = JSON.stringify(dashboard.panels).match(/\$\{?([a-z]+)/g) ?? [];
  for (const u of used) t.true(defined.has(u.replace(/^\$\{?/, '')), `variable ${u} is defined`);
});

test('every metric the dashboard charts is one OpenMB serves', (t) => {
  const served = servedNames();
  const charted = new Set((dashboard.panels ?? []).flatMap((p) => (p.targets ?? []).flatMap((q) => metricsIn(q.expr ?? ''))));
  t.true(charted.size >= 10);
  t.deepEqual([...charted].filter((m) => !served.has(m)), []);
});
