/**
 * Probe endpoints for a process that runs as a Pod: `/healthz` answers while the process serves
 * HTTP at all (liveness: a restart would not help a process that is only waiting for a peer),
 * `/readyz` only while every named check passes (readiness: connected and serving). Each answer
 * lists the checks, so `kubectl describe pod` shows which one fails.
 */
import { createServer, type Server } from 'node:http';
import type { Address } from '../protocol/address.js';
import { listenOptions } from '../protocol/address.js';

export interface ReadinessCheck {
  name: string;
  ok(): boolean;
}

export function serveProbes(address: Address, checks: ReadinessCheck[]): Promise<Server> {
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
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: /healthz and /readyz are served here\n');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenOptions(address), () => resolve(server));
  });
}
