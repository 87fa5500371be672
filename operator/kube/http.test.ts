/**
 * The operator's HTTP endpoint: a pool's outputs (all of its state) only for the shared secret as
 * a bearer token; the health probe open to anyone.
 */
import test from 'ava';
import type { Server } from 'node:http';
import { silentLogger } from '../../shims/log/logger.js';
import { serveHttp } from './http.js';
import { PoolRegistry } from './pool-registry.js';

const SECRET = 'operator-secret';
let server: Server;
let base: string;

test.before(async () => {
  const registry = new PoolRegistry();
  registry.drained.set('ns/monitor', { outputs: { flows: 3 }, duplicateFlows: 0, drainedAt: '2026-01-01T00:00:00Z', instance: null });
  const http = await serveHttp({ host: '127.0.0.1', port: 0, registry, ready: () => true, log: silentLogger, secret: SECRET });
  server = http.server;
  base = `http://${http.address}`;
});

test.after.always(() => server?.close());

const get = (path: string, authorization?: string) => fetch(`${base}${path}`, { headers: authorization ? { authorization } : {} });

test('pool outputs need the shared secret as a bearer token', async (t) => {
  for (const authorization of [undefined, 'Bearer wrong', `Basic ${SECRET}`, 'Bearer ']) {
    const res = await get('/pools/ns/monitor/outputs', authorization);
    t.is(res.status, 401, `with ${authorization ?? 'no header'}`);
    t.is(res.headers.get('www-authenticate'), 'Bearer');
    t.regex(((await res.json()) as { error: string }).error, /^unauthorized: /);
  }
  const res = await get('/pools/ns/monitor/outputs', `Bearer ${SECRET}`);
  t.is(res.status, 200);
  t.deepEqual(await res.json(), { outputs: { flows: 3 }, duplicateFlows: 0, drained: '2026-01-01T00:00:00Z' });
  t.is((await get('/pools')).status, 401, 'the pool list names switch addresses: it needs the token too');
  t.is((await get('/pools', `bearer ${SECRET}`)).status, 200);
});

test('the health probe stays open', async (t) => {
  const res = await get('/healthz');
  t.is(res.status, 200);
  t.is(await res.text(), 'ok\n');
});
