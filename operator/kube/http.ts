/**
 * A small HTTP endpoint on loopback: health, metrics, the pools this operator runs, and each
 * pool's merged outputs (what one middlebox would report for all of the pool's traffic). After a
 * pool is deleted, its drained outputs stay available here. Pool outputs are all of a pool's
 * state, so everything but the health probe and the metrics needs `Authorization: Bearer <shared secret>`.
 *
 *   GET /healthz                      ok while the process serves (liveness; open)
 *   GET /readyz                       ok once ready, else 503 (readiness; open)
 *   GET /metrics                      the operator's metrics, Prometheus text format (open)
 *   GET /pools                        [{pool, switch, instances, placement owners}]
 *   GET /pools/NAMESPACE/NAME/outputs {outputs, duplicateFlows, drained?, egress?} (egress: the switch's link to spec.egress)
 *   GET /pools/NAMESPACE/NAME/timeline[/events]  the pool's live timeline (see operator/timeline/pool-timelines.ts)
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../shims/log/logger.js';
import { secretsEqual } from '../../shims/protocol/auth.js';
import type { Collector } from '../../shims/metrics/collector.js';
import type { PoolRegistry } from './pool-registry.js';
import { PoolTimelines } from '../timeline/pool-timelines.js';

export interface HttpOptions {
  host: string;
  port: number;
  registry: PoolRegistry;
  ready: () => boolean;
  log: Logger;
  /** The shared secret, which callers present as a bearer token. */
  secret: string;
  /** Served on /metrics, open like the probe: a scraper holds no secret, and load figures are not state. */
  metrics?: Collector;
}

function authorized(header: string | undefined, secret: string): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
  return m !== null && secretsEqual(m[1].trim(), secret);
}

export async function serveHttp(o: HttpOptions): Promise<{ server: Server; address: string }> {
  const timelines = new PoolTimelines(o.registry);
  const server = createServer((req, res) => {
    const send = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json' });
      res.end(typeof body === 'string' ? `${body}\n` : `${JSON.stringify(body)}\n`);
    };
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method !== 'GET') return send(405, 'only GET');
    // Liveness is only "this process answers": a standby waiting for the lease, or a leader whose
    // informers are still syncing, would not be helped by a restart.
    if (url.pathname === '/healthz') return send(200, 'ok');
    if (url.pathname === '/readyz') return o.ready() ? send(200, 'ok') : send(503, 'not ready');
    if (url.pathname === '/metrics' && o.metrics) return o.metrics.serve(res);
    // The timeline page is code only; its stream (below) needs the token like every pool's state.
    if (timelines.serveOpen(req, res, url.pathname)) return;
    // The probe and the metrics (above) stay open for the kubelet and scrapers; everything from here on needs the token.
    if (!authorized(req.headers.authorization, o.secret)) {
      res.setHeader('www-authenticate', 'Bearer');
      return send(401, { error: 'unauthorized: send the shared secret as "Authorization: Bearer SECRET"' });
    }
    if (url.pathname === '/pools') {
      return send(200, [...o.registry.states.values()].map((st) => ({
        pool: st.key, switch: st.engine.switchAddress, instances: st.actual.placement.instances, lastError: st.lastError ?? null,
      })));
    }
    if (timelines.serveEvents(req, res, url.pathname)) return;
    const m = /^\/pools\/([^/]+)\/([^/]+)\/outputs$/.exec(url.pathname);
    if (m) {
      const key = `${decodeURIComponent(m[1])}/${decodeURIComponent(m[2])}`;
      o.registry.outputs(key).then((out) => (out ? send(200, out) : send(404, `no pool ${key}`)), (e: Error) => {
        o.log.warn({ pool: key, err: e.message }, 'reading outputs failed');
        send(500, e.message);
      });
      return;
    }
    send(404, 'not found');
  });
  server.on('close', () => void timelines.stop());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  const a = server.address() as AddressInfo;
  return { server, address: `${a.address}:${a.port}` };
}
