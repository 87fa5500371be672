/**
 * The timelines of the operator's pools, on its HTTP endpoint:
 *
 *   GET /timeline/assets/NAME                    the page's modules and libraries (open: code)
 *   GET /pools/NAMESPACE/NAME/timeline           the page (open: it holds no state; it asks for the token)
 *   GET /pools/NAMESPACE/NAME/timeline/events    the pool's timeline, server-sent events (bearer token)
 *
 * A pool's feed starts with its first watcher, from the operations its controller has run so
 * far; while someone watches, it polls the pool and hears of every step of every operation as
 * the controller takes it. An unwatched pool costs nothing.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { PoolRegistry, PoolState } from '../kube/pool-registry.js';
import { TimelineFeed } from './feed.js';
import { servedPage } from './page.js';
import { PoolSampler, type PoolProbe } from './sampler.js';
import { sendAsset, sendPage } from './server.js';
import { streamTimeline } from './sse.js';

const POLL_MS = 250;
const PAGE = /^\/pools\/([^/]+)\/([^/]+)\/timeline$/;
const EVENTS = /^\/pools\/([^/]+)\/([^/]+)\/timeline\/events$/;
const ASSETS = '/timeline/assets/';

function probeOf(get: () => PoolState | undefined): PoolProbe {
  return {
    instances: () => get()?.actual.placement.instances ?? [],
    processed: async (n) => (await get()?.engine.session(n)?.stats())?.packetsProcessed ?? null,
    owner: () => get()?.engine.router.owner ?? [],
    operations: () => {
      const c = get()?.engine.controller;
      return c ? [...c.finished, ...c.runningStatuses] : [];
    },
  };
}

interface Watched {
  feed: TimelineFeed;
  sampler: PoolSampler;
  /** Ends the controller's calls at each step of an operation (faster than a poll: a move may take milliseconds). */
  unwatch: (() => void) | null;
}

export class PoolTimelines {
  private readonly pools = new Map<string, Watched>();

  constructor(private readonly registry: PoolRegistry, private readonly pollMs = POLL_MS) {}

  /** Serves what needs no token (the page and its assets); false when the path is not one of them. */
  serveOpen(req: IncomingMessage, res: ServerResponse, path: string): boolean {
    if (path.startsWith(ASSETS)) return sendAsset(res, path.slice(ASSETS.length));
    const m = PAGE.exec(path);
    if (!m) return false;
    const pool = `${decodeURIComponent(m[1])}/${decodeURIComponent(m[2])}`;
    sendPage(res, servedPage({ title: `OpenMB timeline: ${pool}`, assetBase: ASSETS, events: 'timeline/events', token: true }));
    return true;
  }

  /** Serves a pool's stream (the caller has checked the token); false when the path is not one. */
  serveEvents(req: IncomingMessage, res: ServerResponse, path: string): boolean {
    const m = EVENTS.exec(path);
    if (!m) return false;
    const key = `${decodeURIComponent(m[1])}/${decodeURIComponent(m[2])}`;
    const watched = this.watch(key);
    if (!watched) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`no pool ${key}\n`);
      return true;
    }
    const { w, ready } = watched;
    void ready.then(() => streamTimeline(req, res, w.feed, () => { if (w.feed.watchers === 0) void this.pause(w); }));
    return true;
  }

  /** The pool's feed, polling; `ready` once a new feed has read the pool once (so its first watcher's history has it). */
  private watch(key: string): { w: Watched; ready: Promise<void> } | null {
    const st = this.registry.states.get(key);
    let w = this.pools.get(key);
    const fresh = !w;
    if (!st) {
      // The pool is gone: its feed, if it had one, is of no use any more.
      if (w) void this.pause(w);
      this.pools.delete(key);
      return null;
    }
    if (!w) {
      const feed = new TimelineFeed({ pool: key, middlebox: st.descriptor.type, buckets: st.engine.router.owner.length });
      w = { feed, sampler: new PoolSampler(feed, probeOf(() => this.registry.states.get(key)), this.pollMs), unwatch: null };
      this.pools.set(key, w);
    }
    const feed = w.feed;
    w.unwatch ??= st.engine.controller.watchOperations((s) => feed.operation(s));
    w.sampler.start();
    return { w, ready: fresh ? w.sampler.tick() : Promise.resolve() };
  }

  /** No one watches: the pool is left alone until someone does again. */
  private pause(w: Watched): Promise<void> {
    w.unwatch?.();
    w.unwatch = null;
    return w.sampler.stop();
  }

  async stop(): Promise<void> {
    await Promise.all([...this.pools.values()].map((w) => this.pause(w)));
    this.pools.clear();
  }
}
