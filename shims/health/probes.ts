/**
 * Probe endpoints for a process that runs as a Pod: `/healthz` answers while the process serves
 * HTTP at all (liveness: a restart would not help a process that is only waiting for a peer),
 * `/readyz` only while every named check passes (readiness: connected and serving). Each answer
 * lists the checks, so `kubectl describe pod` shows which one fails. `/metrics`, when given a
 * collector, serves the process's metrics on the same port, so a Pod exposes one port for both.
 */
import { createServer, type Server } from 'node:http';
import type { Address } from '../protocol/address.js';
import { listenOptions } from '../protocol/address.js';
import type { Collector } from '../metrics/collector.js';

export interface ReadinessCheck {
  name: string;
  ok(): boolean;
}

export function serveProbes(address: Address, checks: ReadinessCheck[], metrics?: Collector): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    if (path === '/readyz') {
      const failing = checks.filter((c) => !c.ok()).map((c) => c.name);
      const body = checks.map((c) => `[${failing.includes(c.name) ? '-' : '+'}]${c.name}`).join('\n');
      res.writeHead(failing.length === 0 ? 200 : 503, { 'content-type': 'text/plain' }).end(`${body}\n`);
      return;
    }
    if (path === '/metrics' && metrics) {
      metrics.serve(res);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: /healthz, /readyz${metrics ? ' and /metrics' : ''} are served here\n`);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenOptions(address), () => resolve(server));
  });
}
