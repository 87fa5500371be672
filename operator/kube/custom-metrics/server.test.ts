/**
 * The custom metrics API over real HTTPS, with real certificates: the aggregator's front-proxy
 * client certificate is answered, a certificate of another CA, none, or one with a CN not
 * allowed gets 401 with a Status; discovery, a pool's value, instance Pods by label selector,
 * and 404s for an unknown metric, pool or Pod; 503 on a standby.
 */
import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:https';
import { silentLogger } from '../../../shims/log/logger.js';
import type { TlsMaterial } from '../../../shims/protocol/tls.js';
import { createCertificateAuthority, issueCertificate } from '../certificates.js';
import type { InstanceLoad } from '../load.js';
import { BASE_PATH, quantity } from './api.js';
import type { MetricSources, PodRef } from './handler.js';
import { serveCustomMetrics } from './server.js';
import { servingCertificate } from './trust.js';

const AT = Date.parse('2026-12-01T20:00:00.000Z');
const load = (packetsPerSecond: number): InstanceLoad => ({ packetsPerSecond, windowSeconds: 30, at: AT, packetsProcessed: 0, flows: 0, stateBytes: null });
const instancePod = (name: string): PodRef => ({ name, labels: { 'openmb.io/pool': 'monitor', 'openmb.io/role': 'instance', 'openmb.io/instance': name } });
const PODS: PodRef[] = [instancePod('monitor-0'), instancePod('monitor-1'), instancePod('monitor-2'),
  { name: 'monitor-switch', labels: { 'openmb.io/switch-of': 'monitor', 'openmb.io/role': 'switch' } }];

let leading = true;
const selected: (string | undefined)[] = [];
const sources: MetricSources = {
  leading: () => leading,
  poolExists: async (ns, name) => ns === 'ns' && (name === 'monitor' || name === 'fresh'),
  listPods: async (ns, selector) => {
    selected.push(selector);
    return ns === 'ns' ? PODS.filter((p) => selector !== 'openmb.io/pool=monitor,openmb.io/role=instance' || p.labels['openmb.io/role'] === 'instance') : [];
  },
  getPod: async (ns, name) => (ns === 'ns' ? PODS.find((p) => p.name === name) ?? null : null),
  load: {
    // fresh's instances have one reading each so far.
    pool: (key) => (key === 'ns/monitor' ? load(1500.5) : key === 'ns/fresh' ? { ...load(0), packetsPerSecond: null } : undefined),
    // monitor-2 was not sampled yet.
    instance: (pool, i) => (pool === 'ns/monitor' ? ({ 'monitor-0': load(1000), 'monitor-1': load(500.5) } as Record<string, InstanceLoad>)[i] : undefined),
  },
};

let server: Server;
let port: number;
let serving: TlsMaterial;
let frontProxy: TlsMaterial;
let otherCn: TlsMaterial;
let otherCa: TlsMaterial;

test.before(async () => {
  serving = await servingCertificate(mkdtempSync(join(tmpdir(), 'openmb-metrics-api-')), ['openmb-metrics.openmb-system.svc']);
  const ca = await createCertificateAuthority();
  frontProxy = await issueCertificate(ca, { dnsName: 'front-proxy-client' });
  otherCn = await issueCertificate(ca, { dnsName: 'someone-else' });
  otherCa = await issueCertificate(await createCertificateAuthority(), { dnsName: 'front-proxy-client' });
  const s = await serveCustomMetrics({
    host: '127.0.0.1', port: 0, serving, trust: { clientCa: frontProxy.ca, allowedNames: ['front-proxy-client'] }, sources, log: silentLogger,
  });
  server = s.server;
  port = Number(s.address.split(':')[1]);
});

test.after.always(() => server?.close());

interface Reply {
  status: number;
  body: Record<string, unknown> & { items?: Record<string, unknown>[] };
}

/** A GET as a client of `client`'s certificate (none: no certificate), checking the server's against its CA and 127.0.0.1. */
function get(path: string, client: TlsMaterial | null = frontProxy): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1', port, path, method: 'GET', ca: serving.ca, agent: false,
      ...(client ? { cert: client.cert, key: client.key } : {}),
    }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => { text += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Reply['body'] }));
    });
    req.on('error', reject);
    req.end();
  });
}

const POOL_PATH = `${BASE_PATH}/namespaces/ns/middleboxpools.openmb.io/monitor/packets_per_second`;

test('callers other than the front proxy are refused with 401 and a Status', async (t) => {
  for (const [who, cert] of [['no certificate', null], ['another CA', otherCa], ['a CN not allowed', otherCn]] as const) {
    const r = await get(POOL_PATH, cert);
    t.is(r.status, 401, who);
    t.like(r.body, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Unauthorized', code: 401 }, who);
  }
  t.regex((await get(POOL_PATH, otherCn)).body.message as string, /CN "someone-else" is not one of the requestheader allowed names/);
  t.is((await get(POOL_PATH)).status, 200, 'the front proxy is answered');
});

test('discovery lists packets_per_second for pods and pools', async (t) => {
  const r = await get(BASE_PATH);
  t.is(r.status, 200);
  t.deepEqual(r.body, {
    kind: 'APIResourceList', apiVersion: 'v1', groupVersion: 'custom.metrics.k8s.io/v1beta2',
    resources: [
      { name: 'pods/packets_per_second', singularName: '', namespaced: true, kind: 'MetricValueList', verbs: ['get'] },
      { name: 'middleboxpools.openmb.io/packets_per_second', singularName: '', namespaced: true, kind: 'MetricValueList', verbs: ['get'] },
    ],
  });
});

test('an OpenAPI document without paths, for the aggregator to merge (so it does not retry every minute)', async (t) => {
  const r = await get('/openapi/v2');
  t.is(r.status, 200);
  t.like(r.body, { swagger: '2.0', paths: {} });
});

test('a pool\'s value: exactly one item describing the MiddleboxPool', async (t) => {
  const r = await get(POOL_PATH);
  t.is(r.status, 200);
  t.deepEqual(r.body, {
    kind: 'MetricValueList', apiVersion: 'custom.metrics.k8s.io/v1beta2', metadata: {},
    items: [{
      describedObject: { kind: 'MiddleboxPool', apiVersion: 'openmb.io/v1alpha1', namespace: 'ns', name: 'monitor' },
      metric: { name: 'packets_per_second', selector: {} }, timestamp: '2026-12-01T20:00:00Z', windowSeconds: 30, value: '1500500m',
    }],
  });
});

test('instance Pods by label selector: one item per sampled instance Pod, the switch Pod left out', async (t) => {
  const selector = 'openmb.io/pool=monitor,openmb.io/role=instance';
  const r = await get(`${BASE_PATH}/namespaces/ns/pods/*/packets_per_second?labelSelector=${encodeURIComponent(selector)}`);
  t.is(r.status, 200);
  t.is(selected.at(-1), selector, 'the selector goes to the Pod list as given');
  t.deepEqual(r.body.items?.map((i) => [(i.describedObject as { name: string }).name, i.value]), [['monitor-0', '1000'], ['monitor-1', '500500m']]);
  t.deepEqual(r.body.items?.[0].describedObject, { kind: 'Pod', apiVersion: '/v1', namespace: 'ns', name: 'monitor-0' });
  const one = await get(`${BASE_PATH}/namespaces/ns/pods/monitor-1/packets_per_second`);
  t.is(one.body.items?.length, 1);
  t.is((await get(`${BASE_PATH}/namespaces/elsewhere/pods/*/packets_per_second`)).body.items?.length, 0, 'no Pods: an empty list');
});

test('an unknown metric, pool or Pod is a 404 with a Status; a metric label selector is a 400', async (t) => {
  const cases: [string, number, RegExp][] = [
    [`${BASE_PATH}/namespaces/ns/middleboxpools.openmb.io/monitor/cpu_usage`, 404, /custom metric "cpu_usage" is not served/],
    [`${BASE_PATH}/namespaces/ns/pods/*/cpu_usage`, 404, /custom metric "cpu_usage"/],
    [`${BASE_PATH}/namespaces/ns/middleboxpools.openmb.io/nosuch/packets_per_second`, 404, /"nosuch" not found in namespace ns/],
    [`${BASE_PATH}/namespaces/ns/pods/nosuch/packets_per_second`, 404, /pods "nosuch" not found/],
    [`${BASE_PATH}/namespaces/ns/pods/monitor-switch/packets_per_second`, 404, /not an OpenMB instance with a measured load/],
    [`${BASE_PATH}/namespaces/ns/pods/monitor-2/packets_per_second`, 404, /not an OpenMB instance with a measured load/],
    [`${BASE_PATH}/namespaces/ns/deployments/x/packets_per_second`, 404, /no custom metrics for the resource "deployments"/],
    [`${BASE_PATH}/middleboxpools.openmb.io/monitor/packets_per_second`, 404, /namespaced metrics only/],
    [`${POOL_PATH}?metricLabelSelector=a%3Db`, 400, /no labels to select by/],
  ];
  for (const [path, code, message] of cases) {
    const r = await get(path);
    t.is(r.status, code, path);
    t.like(r.body, { kind: 'Status', status: 'Failure', code }, path);
    t.regex(r.body.message as string, message, path);
  }
});

test('a pool not measured yet is a 503, not a 0 the HPA would act on', async (t) => {
  const r = await get(`${BASE_PATH}/namespaces/ns/middleboxpools.openmb.io/fresh/packets_per_second`);
  t.is(r.status, 503);
  t.like(r.body, { kind: 'Status', reason: 'ServiceUnavailable', code: 503 });
  t.regex(r.body.message as string, /not measured yet/);
});

test.serial('a standby replica says it cannot answer (503) rather than giving a 0 the HPA would act on', async (t) => {
  leading = false;
  t.teardown(() => { leading = true; });
  const r = await get(POOL_PATH);
  t.is(r.status, 503);
  t.like(r.body, { kind: 'Status', reason: 'ServiceUnavailable' });
  t.is((await get(BASE_PATH)).status, 200, 'discovery still answers');
});

test('quantities are written to the thousandth, without a unit when whole', (t) => {
  t.is(quantity(1500), '1500');
  t.is(quantity(1.5), '1500m');
  t.is(quantity(0.0004), '0');
  t.is(quantity(12.3456), '12346m');
});
