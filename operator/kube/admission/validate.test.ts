/**
 * The webhook's decisions with the middleboxes' own validators (`openmb describe --check-config`
 * as a child process, as the operator runs it), and its HTTPS endpoint answering a review.
 */
import test from 'ava';
import { request } from 'node:https';
import { checkConfig } from '../../runtime/check-config.js';
import { describeMiddlebox } from '../../runtime/describe.js';
import { createCertificateAuthority, issueCertificate } from '../certificates.js';
import { silentLogger } from '../../../shims/log/logger.js';
import type { AdmissionRequest } from './review.js';
import { serveAdmission, WEBHOOK_PATH } from './server.js';
import { admitPool, type PoolValidator } from './validate.js';

const validator: PoolValidator = { check: checkConfig, partitionKeyOf: async (type) => (await describeMiddlebox(type)).partitionKey };

const pool = (type: string, config?: Record<string, unknown>, more: Record<string, unknown> = {}) => ({
  apiVersion: 'openmb.io/v1alpha1', kind: 'MiddleboxPool', metadata: { name: 'p', namespace: 'n' }, spec: { middlebox: { type, ...(config ? { config } : {}) }, ...more },
});
const review = (object: unknown, o: Partial<AdmissionRequest> = {}): AdmissionRequest => ({
  uid: 'u-1', resource: { group: 'openmb.io', version: 'v1alpha1', resource: 'middleboxpools' }, operation: 'CREATE', name: 'p', namespace: 'n', object, ...o,
});

/** A wrong configuration of each middlebox, and the message kubectl shows for it. */
export const WRONG: [string, Record<string, unknown>, string][] = [
  ['ids', { rules: ['alert id=every-get msg="a GET" method=GET', 'alert id=bad msg=bad uri~"/x'] }, 'spec.middlebox.config.rules[1]: column 26: string is not closed with "'],
  ['monitor', { hosts: 'yes' }, 'spec.middlebox.config.hosts: must be true or false, got "yes"'],
  ['nat', { portRange: [2000, 1000] }, 'spec.middlebox.config.portRange: [2000, 1000] is inverted: first must not exceed last'],
  ['re', { cacheBytes: 512 }, 'spec.middlebox.config.cacheBytes: 512 is smaller than maxChunk 1024: every chunk must fit in the cache'],
];

for (const [type, config, message] of WRONG) {
  test(`${type}: a wrong configuration is refused with the middlebox's message naming the field; a right one is admitted`, async (t) => {
    t.deepEqual(await admitPool(review(pool(type, config)), validator), { allowed: false, code: 422, reason: 'Invalid', message });
    t.deepEqual(await admitPool(review(pool(type, {})), validator), { allowed: true });
  });
}

test('nat: the partitioning the pool\'s instances derive from is checked with the configuration', async (t) => {
  const small = { portRange: [20000, 20031] };
  t.like(await admitPool(review(pool('nat', small)), validator), { allowed: false, message: 'spec.middlebox.config.partitionBuckets: 64 buckets need at least 64 ports; portRange [20000, 20031] has 32' });
  t.deepEqual(await admitPool(review(pool('nat', small, { partitioning: { buckets: 32 } })), validator), { allowed: true });
});

test('what is not a change of a pool\'s configuration is let through without a check', async (t) => {
  const never: PoolValidator = { check: () => Promise.reject(new Error('not asked')), partitionKeyOf: () => Promise.reject(new Error('not asked')) };
  const bad = pool('monitor', { hosts: 'yes' });
  t.deepEqual(await admitPool(review(bad, { resource: { group: 'apps', version: 'v1', resource: 'deployments' } }), never), { allowed: true });
  t.deepEqual(await admitPool(review(bad, { subResource: 'status', operation: 'UPDATE', oldObject: bad }), never), { allowed: true });
  t.deepEqual(await admitPool(review(bad, { operation: 'UPDATE', oldObject: { ...bad, metadata: { name: 'p', finalizers: [] } } }), never), { allowed: true });
  t.deepEqual(await admitPool(review({ ...bad, metadata: { name: 'p', deletionTimestamp: '2030-01-01T00:00:00Z' } }, { operation: 'UPDATE', oldObject: pool('monitor') }), never), { allowed: true });
  t.deepEqual(await admitPool(review(undefined, { operation: 'DELETE', oldObject: bad }), never), { allowed: true });
  await t.throwsAsync(admitPool(review(bad, { operation: 'UPDATE', oldObject: pool('monitor') }), never), { message: 'not asked' }, 'a changed configuration is checked');
});

test('the HTTPS endpoint answers a review with its verdict, and refuses what is not one', async (t) => {
  const ca = await createCertificateAuthority();
  const serving = await issueCertificate(ca, { dnsName: 'openmb-webhook', altNames: ['127.0.0.1'] });
  const { server, address } = await serveAdmission({ host: '127.0.0.1', port: 0, serving, validator, log: silentLogger });
  const post = (path: string, body: string) => new Promise<{ code: number; json: Record<string, unknown> }>((resolve, reject) => {
    const [host, port] = address.split(':');
    const req = request({ host, port: Number(port), path, method: 'POST', ca: serving.ca, servername: 'openmb-webhook', headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => { text += d.toString(); });
      res.on('end', () => resolve({ code: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end(body);
  });
  try {
    const [type, config, message] = WRONG[0];
    const r = await post(WEBHOOK_PATH, JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: review(pool(type, config)) }));
    t.is(r.code, 200);
    t.deepEqual(r.json, {
      apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
      response: { uid: 'u-1', allowed: false, status: { status: 'Failure', code: 422, reason: 'Invalid', message } },
    });
    const ok = await post(WEBHOOK_PATH, JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: review(pool('ids')) }));
    t.deepEqual(ok.json.response, { uid: 'u-1', allowed: true });
    const notReview = await post(WEBHOOK_PATH, JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: '' } }));
    t.is(notReview.code, 400);
    t.regex(String(notReview.json.message), /^not an admission.k8s.io\/v1 AdmissionReview: request\.uid/);
    t.is((await post('/other', '{}')).code, 404);
  } finally {
    server.close();
  }
});
