/**
 * Answers the custom metrics API from the load the operator samples: a pool's packets per second
 * is the sum over its instances, an instance Pod's is its instance's. The cluster is asked only
 * whether the pool or Pods named exist (and which Pods a selector matches); the values are the
 * operator's own, so no metrics pipeline stands between the instances and the HPA.
 */
import { INSTANCE_LABEL, POOL_LABEL, ROLE_LABEL } from '../labels.js';
import type { InstanceLoad } from '../load.js';
import { rfc3339 } from '../status.js';
import {
  discovery, failure, metricValueList, openApi, POD_REFERENCE, POD_RESOURCE, POOL_REFERENCE, POOL_RESOURCE, quantity,
  type MetricsRequest, type MetricValue, type ObjectReference, type Status,
} from './api.js';

export interface PodRef {
  name: string;
  labels: Record<string, string>;
}

/** What the answers are made of; the Operator provides it, tests fake it. */
export interface MetricSources {
  /** False on a standby replica: it runs no pool, so it has no load to tell. */
  leading(): boolean;
  poolExists(namespace: string, name: string): Promise<boolean>;
  /** The Pods in `namespace` that `labelSelector` (Kubernetes syntax; none: all) selects. */
  listPods(namespace: string, labelSelector?: string): Promise<PodRef[]>;
  getPod(namespace: string, name: string): Promise<PodRef | null>;
  load: {
    pool(key: string): InstanceLoad | undefined;
    instance(pool: string, instance: string): InstanceLoad | undefined;
  };
}

export interface Answer {
  code: number;
  body: unknown;
}

const notLeading = failure(503, 'ServiceUnavailable', 'this operator replica is a standby: only the leader runs the pools and knows their load');

function item(o: ObjectReference, metric: string, load: InstanceLoad, packetsPerSecond: number): MetricValue {
  return {
    describedObject: o, metric: { name: metric, selector: {} }, timestamp: rfc3339(load.at), windowSeconds: load.windowSeconds, value: quantity(packetsPerSecond),
  };
}

/** The instance a Pod runs, if it is one of a pool's instance Pods. */
function instanceOf(namespace: string, pod: PodRef): { pool: string; instance: string } | null {
  const pool = pod.labels[POOL_LABEL];
  if (!pool || pod.labels[ROLE_LABEL] !== 'instance') return null;
  return { pool: `${namespace}/${pool}`, instance: pod.labels[INSTANCE_LABEL] ?? pod.name };
}

export async function answer(req: MetricsRequest, s: MetricSources): Promise<Answer> {
  const fail = (st: Status): Answer => ({ code: st.code, body: st });
  if (req.kind === 'invalid') return fail(req.status);
  if (req.kind === 'discovery') return { code: 200, body: discovery() };
  if (req.kind === 'openapi') return { code: 200, body: openApi() };
  if (!s.leading()) return fail(notLeading);
  if (req.kind === 'pool') {
    if (!(await s.poolExists(req.namespace, req.name))) {
      return fail(failure(404, 'NotFound', `${POOL_RESOURCE} "${req.name}" not found in namespace ${req.namespace}`, { name: req.name, group: 'openmb.io', kind: POOL_RESOURCE }));
    }
    const load = s.load.pool(`${req.namespace}/${req.name}`);
    // Not measured yet (the pool or the operator just started): no value is better than a 0 the HPA would act on.
    if (!load || load.packetsPerSecond === null) {
      return fail(failure(503, 'ServiceUnavailable', `pool ${req.namespace}/${req.name}'s load is not measured yet; try again in a few seconds`));
    }
    return { code: 200, body: metricValueList([item({ ...POOL_REFERENCE, namespace: req.namespace, name: req.name }, req.metric, load, load.packetsPerSecond)]) };
  }
  let pods: PodRef[];
  if (req.name === '*') {
    pods = await s.listPods(req.namespace, req.labelSelector);
  } else {
    const pod = await s.getPod(req.namespace, req.name);
    if (!pod) return fail(failure(404, 'NotFound', `pods "${req.name}" not found in namespace ${req.namespace}`, { name: req.name, kind: POD_RESOURCE }));
    pods = [pod];
  }
  // A Pod that is not an instance, or one not yet measured, has no value: the HPA treats it as missing.
  const items = pods.flatMap((pod) => {
    const of = instanceOf(req.namespace, pod);
    const load = of ? s.load.instance(of.pool, of.instance) : undefined;
    return load?.packetsPerSecond != null ? [item({ ...POD_REFERENCE, namespace: req.namespace, name: pod.name }, req.metric, load, load.packetsPerSecond)] : [];
  });
  if (req.name !== '*' && items.length === 0) {
    return fail(failure(404, 'NotFound', `pod ${req.namespace}/${req.name} is not an OpenMB instance with a measured load, so it has no ${req.metric}`, { name: req.name, kind: POD_RESOURCE }));
  }
  return { code: 200, body: metricValueList(items) };
}
