/**
 * Serving a timeline over HTTP: the page's assets (open: code, no pool's state), and for
 * `openmb local --serve` a server of one feed:
 *
 *   GET /               the page
 *   GET /events         the feed (server-sent events)
 *   GET /assets/NAME    the page's modules and libraries
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TimelineFeed } from './feed.js';
import { assetText, assetType, servedPage } from './page.js';
import { streamTimeline } from './sse.js';

/** Sends the page's asset `name`; false (nothing sent) when there is no such asset. */
export function sendAsset(res: ServerResponse, name: string): boolean {
  const text = assetText(name);
  if (text === undefined) return false;
  res.writeHead(200, { 'content-type': `${assetType(name)}; charset=utf-8`, 'cache-control': 'no-cache' });
  res.end(text);
  return true;
}

export function sendPage(res: ServerResponse, page: string): void {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' });
  res.end(page);
}

/** Serves one feed; resolves with the server and the page's URL once it listens. */
export async function serveTimeline(feed: TimelineFeed, host: string, port: number): Promise<{ server: Server; url: string }> {
  const page = servedPage({ title: `OpenMB timeline: ${feed.hello.pool}`, assetBase: '/assets/', events: 'events', token: false });
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (req.method !== 'GET') {
      res.writeHead(405, { 'content-type': 'text/plain' }).end('only GET\n');
      return;
    }
    if (path === '/') return sendPage(res, page);
    if (path === '/events') return streamTimeline(req, res, feed);
    if (path.startsWith('/assets/') && sendAsset(res, path.slice('/assets/'.length))) return;
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const a = server.address() as AddressInfo;
  const h = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return { server, url: `http://${h}:${a.port}/` };
}
