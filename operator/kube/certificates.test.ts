/**
 * Generated certificates pass Node's own mutual TLS handshake, and ensureTlsSecret creates,
 * reuses and checks Secrets through the real KubeClient against a small stand-in for the API
 * server's Secret endpoints on loopback.
 */
import test from 'ava';
import { KubeConfig, type V1Secret } from '@kubernetes/client-node';
import { X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { TLS_FILES, type TlsMaterial } from '../../shims/protocol/tls.js';
import { createCertificateAuthority, ensureTlsSecret, generateTlsMaterial, issueCertificate, TLS_SECRET_TYPE } from './certificates.js';
import { KubeClient } from './client.js';

/** Secrets by "namespace/name", as the API server stores them (stringData folded into base64 data). */
const secrets = new Map<string, V1Secret>();
let creates = 0;
/** When set, the next create finds that someone else created the Secret first. */
let raceWith: V1Secret | null = null;
let api: Server;
let client: KubeClient;

const status = (code: number, reason: string) => ({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason, code, message: reason });

test.before(async () => {
  api = createServer((req, res) => {
    const reply = (code: number, body: unknown) => { res.writeHead(code, { 'content-type': 'application/json' }); res.end(JSON.stringify(body)); };
    const one = /^\/api\/v1\/namespaces\/([^/]+)\/secrets\/([^/?]+)/.exec(req.url ?? '');
    const all = /^\/api\/v1\/namespaces\/([^/]+)\/secrets(\?|$)/.exec(req.url ?? '');
    if (req.method === 'GET' && one) {
      const s = secrets.get(`${one[1]}/${one[2]}`);
      return s ? reply(200, s) : reply(404, status(404, 'NotFound'));
    }
    if (req.method === 'POST' && all) {
      let body = '';
      req.on('data', (c: Buffer) => { body += c.toString(); });
      req.on('end', () => {
        creates++;
        const s = JSON.parse(body) as V1Secret;
        const key = `${all[1]}/${s.metadata!.name}`;
        if (raceWith) { secrets.set(key, raceWith); raceWith = null; }
        if (secrets.has(key)) return reply(409, status(409, 'AlreadyExists'));
        const data = Object.fromEntries(Object.entries(s.stringData ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
        const stored: V1Secret = { apiVersion: 'v1', kind: 'Secret', metadata: s.metadata, type: s.type, data };
        secrets.set(key, stored);
        reply(201, stored);
      });
      return;
    }
    reply(404, status(404, 'NotFound'));
  });
  await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'fake', server: `http://127.0.0.1:${(api.address() as AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'u' }],
    currentContext: 'fake',
  });
  client = new KubeClient(kc);
});

test.after.always(() => api?.close());

function secretOf(m: Partial<TlsMaterial>): V1Secret {
  const data: Record<string, string> = {};
  if (m.ca) data[TLS_FILES.ca] = Buffer.from(m.ca).toString('base64');
  if (m.cert) data[TLS_FILES.cert] = Buffer.from(m.cert).toString('base64');
  if (m.key) data[TLS_FILES.key] = Buffer.from(m.key).toString('base64');
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'x' }, type: TLS_SECRET_TYPE, data };
}

test('a generated CA and certificate pass a mutual TLS handshake in Node', async (t) => {
  const m = await generateTlsMaterial();
  const server = tls.createServer({ ...m, requestCert: true, rejectUnauthorized: true }, (s) => {
    t.true(s.authorized);
    s.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const reply = await new Promise<string>((resolve, reject) => {
    const c = tls.connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, ...m, servername: 'openmb' });
    let got = '';
    c.on('secureConnect', () => t.true(c.authorized));
    c.on('data', (d: Buffer) => { got += d.toString(); });
    c.on('end', () => resolve(got));
    c.on('error', reject);
  });
  server.close();
  t.is(reply, 'ok');

  const cert = new X509Certificate(m.cert);
  const ca = new X509Certificate(m.ca);
  t.true(ca.ca);
  t.false(cert.ca);
  t.true(cert.checkIssued(ca) && cert.verify(ca.publicKey));
  t.is(cert.subjectAltName, 'DNS:openmb');
  t.deepEqual(cert.keyUsage.sort(), ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']); // serverAuth, clientAuth
  const days = (Date.parse(cert.validTo) - Date.now()) / 86_400_000;
  t.true(days > 364 && days <= 365, `valid for ${days} days`);
});

test.serial('a missing Secret is created (kubernetes.io/tls, three keys); an existing one is used as it is', async (t) => {
  creates = 0;
  const made = await ensureTlsSecret(client, 'ns-a', 'openmb-tls');
  t.is(creates, 1);
  const stored = secrets.get('ns-a/openmb-tls')!;
  t.is(stored.type, TLS_SECRET_TYPE);
  t.deepEqual(Object.keys(stored.data!).sort(), ['ca.crt', 'tls.crt', 'tls.key']);
  t.deepEqual(await ensureTlsSecret(client, 'ns-a', 'openmb-tls'), made);
  t.is(creates, 1, 'no second create');

  // Another namespace gets the operator's material, so its Pods trust the same CA.
  t.deepEqual(await ensureTlsSecret(client, 'ns-b', 'openmb-tls', made), made);
  const user = await generateTlsMaterial();
  secrets.set('ns-c/openmb-tls', secretOf(user));
  t.deepEqual(await ensureTlsSecret(client, 'ns-c', 'openmb-tls'), user, 'a Secret made by someone else is used as it is');
  await t.throwsAsync(ensureTlsSecret(client, 'ns-c', 'openmb-tls', made), { message: /^Secret ns-c\/openmb-tls: its ca\.crt is not the CA the operator's listener trusts/ });
});

test.serial('a Secret created by someone else between the read and the create wins', async (t) => {
  const theirs = await generateTlsMaterial();
  raceWith = secretOf(theirs);
  t.deepEqual(await ensureTlsSecret(client, 'ns-race', 'openmb-tls'), theirs);
});

test.serial('an existing Secret without a key, or with a certificate for another name, is refused naming it', async (t) => {
  const m = await generateTlsMaterial();
  for (const missing of ['ca', 'cert', 'key'] as const) {
    secrets.set(`ns-bad/${missing}`, secretOf({ ...m, [missing]: undefined }));
    await t.throwsAsync(ensureTlsSecret(client, 'ns-bad', missing), { message: new RegExp(`^Secret ns-bad/${missing} has no "${TLS_FILES[missing].replace('.', '\\.')}"`) });
  }
  secrets.set('ns-bad/mixed', secretOf({ ...m, key: (await generateTlsMaterial()).key }));
  await t.throwsAsync(ensureTlsSecret(client, 'ns-bad', 'mixed'), { message: /^Secret ns-bad\/mixed: .*key values mismatch/ });
  secrets.set('ns-bad/other-name', secretOf(await issueCertificate(await createCertificateAuthority(), { dnsName: 'other' })));
  await t.throwsAsync(ensureTlsSecret(client, 'ns-bad', 'other-name'), { message: /^Secret ns-bad\/other-name: the certificate in tls\.crt does not carry the DNS name "openmb"/ });
});
