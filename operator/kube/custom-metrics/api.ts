/**
 * The custom metrics API (custom.metrics.k8s.io/v1beta2) as the HPA reads it: the shapes of its
 * bodies, and the requests it makes, parsed from a URL at the boundary. Pure: no I/O.
 *
 *   GET /apis/custom.metrics.k8s.io/v1beta2                                   APIResourceList
 *   GET …/namespaces/NS/middleboxpools.openmb.io/NAME/packets_per_second   one pool (an Object metric)
 *   GET …/namespaces/NS/pods/NAME/packets_per_second                       one instance Pod, or with NAME "*"
 *                                                                          each Pod ?labelSelector= selects (a Pods metric)
 *   GET /openapi/v2                                                        an OpenAPI document with no paths
 */
import { API_VERSION, GROUP, MIDDLEBOX_POOL } from '../../api/types.js';

export const METRICS_GROUP = 'custom.metrics.k8s.io';
export const METRICS_VERSION = 'v1beta2';
export const METRICS_GROUP_VERSION = `${METRICS_GROUP}/${METRICS_VERSION}`;
export const BASE_PATH = `/apis/${METRICS_GROUP_VERSION}`;

/** Packets an instance processed per second, over the operator's sampling window. */
export const PACKETS_PER_SECOND = 'packets_per_second';
export const METRICS: readonly string[] = [PACKETS_PER_SECOND];

export const POOL_RESOURCE = `${MIDDLEBOX_POOL.plural}.${GROUP}`;
export const POD_RESOURCE = 'pods';

export interface ObjectReference {
  kind: string;
  namespace: string;
  name: string;
  apiVersion: string;
}

export interface MetricValue {
  describedObject: ObjectReference;
  metric: { name: string; selector: { matchLabels?: Record<string, string> } };
  /** RFC 3339 */
  timestamp: string;
  windowSeconds: number;
  /** A resource.Quantity: "1500m" is 1.5. */
  value: string;
}

export interface MetricValueList {
  kind: 'MetricValueList';
  apiVersion: typeof METRICS_GROUP_VERSION;
  metadata: Record<string, never>;
  items: MetricValue[];
}

export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure';
  message: string;
  reason: 'NotFound' | 'Unauthorized' | 'BadRequest' | 'ServiceUnavailable' | 'MethodNotAllowed';
  details?: { name?: string; group?: string; kind?: string };
  code: number;
}

export type MetricsRequest =
  | { kind: 'discovery' }
  /** The aggregator merges every APIService's OpenAPI document into the API server's; this API adds no paths to it. */
  | { kind: 'openapi' }
  | { kind: 'pool'; namespace: string; name: string; metric: string }
  /** `name` "*": every Pod matching `labelSelector`. */
  | { kind: 'pods'; namespace: string; name: string; metric: string; labelSelector?: string }
  | { kind: 'invalid'; status: Status };

export const POOL_REFERENCE = { kind: MIDDLEBOX_POOL.kind, apiVersion: API_VERSION } as const;
/** The core group is "", so its group/version is written "/v1" here, as the HPA's clients expect it. */
export const POD_REFERENCE = { kind: 'Pod', apiVersion: '/v1' } as const;

export function failure(code: number, reason: Status['reason'], message: string, details?: Status['details']): Status {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code };
}

export function discovery() {
  const resource = (name: string) => ({ name, singularName: '', namespaced: true, kind: 'MetricValueList', verbs: ['get'] });
  return {
    kind: 'APIResourceList', apiVersion: 'v1', groupVersion: METRICS_GROUP_VERSION,
    resources: METRICS.flatMap((m) => [resource(`${POD_RESOURCE}/${m}`), resource(`${POOL_RESOURCE}/${m}`)]),
  };
}

export function openApi() {
  return { swagger: '2.0', info: { title: 'OpenMB custom metrics API', version: METRICS_VERSION }, paths: {} };
}

export function metricValueList(items: MetricValue[]): MetricValueList {
  return { kind: 'MetricValueList', apiVersion: METRICS_GROUP_VERSION, metadata: {}, items };
}

/** A non-negative number as a resource.Quantity, to the thousandth: 1500 → "1500", 1.5 → "1500m". */
export function quantity(v: number): string {
  const milli = Math.round(Math.max(0, v) * 1000);
  return milli % 1000 === 0 ? String(milli / 1000) : `${milli}m`;
}

const unknownMetric = (metric: string, resource: string) =>
  failure(404, 'NotFound', `the custom metric "${metric}" is not served for ${resource}: OpenMB serves ${METRICS.join(', ')}`, { name: metric, group: METRICS_GROUP, kind: resource });

/** The request a GET of `url` makes, or why it is not one this API serves. */
export function parseRequest(url: URL): MetricsRequest {
  const path = url.pathname.replace(/\/+$/, '');
  if (path === BASE_PATH) return { kind: 'discovery' };
  if (path === '/openapi/v2') return { kind: 'openapi' };
  if (!path.startsWith(`${BASE_PATH}/`)) return { kind: 'invalid', status: failure(404, 'NotFound', `${path} is not served here: the custom metrics API is under ${BASE_PATH}`) };
  const parts = path.slice(BASE_PATH.length + 1).split('/').map(decodeURIComponent);
  if (parts.length !== 5 || parts[0] !== 'namespaces') {
    return { kind: 'invalid', status: failure(404, 'NotFound', `${path}: OpenMB serves namespaced metrics only, as namespaces/NS/{${POD_RESOURCE},${POOL_RESOURCE}}/NAME/METRIC`) };
  }
  const [, namespace, resource, name, metric] = parts;
  if (resource !== POD_RESOURCE && resource !== POOL_RESOURCE) {
    return { kind: 'invalid', status: failure(404, 'NotFound', `no custom metrics for the resource "${resource}": OpenMB serves ${POD_RESOURCE} and ${POOL_RESOURCE}`, { kind: resource, group: METRICS_GROUP }) };
  }
  if (!METRICS.includes(metric)) return { kind: 'invalid', status: unknownMetric(metric, resource) };
  // This metric has no labels of its own, so a selector on them can only be a mistake.
  if (url.searchParams.get('metricLabelSelector')) {
    return { kind: 'invalid', status: failure(400, 'BadRequest', `${metric} has no labels to select by (metricLabelSelector "${url.searchParams.get('metricLabelSelector')}")`) };
  }
  if (resource === POOL_RESOURCE) {
    if (name === '*') return { kind: 'invalid', status: failure(400, 'BadRequest', `name a pool: ${POOL_RESOURCE}/* is not served`) };
    return { kind: 'pool', namespace, name, metric };
  }
  const labelSelector = url.searchParams.get('labelSelector') ?? undefined;
  return { kind: 'pods', namespace, name, metric, ...(labelSelector ? { labelSelector } : {}) };
}
