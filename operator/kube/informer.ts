/**
 * An informer of our own: list, then watch from the list's resourceVersion, keeping a cache and
 * calling handlers on add / update / delete. A watch that the server ends is resumed from the
 * last resourceVersion seen (bookmarks included); a 410 Gone (the version is too old) relists,
 * and any other failure relists after an exponential backoff — the informer never stays stopped
 * on an error, unlike client-node's ListWatch.
 */
import type { Logger } from '../../shims/log/logger.js';
import { ExponentialBackoff } from '../../shims/protocol/backoff.js';
import { systemClock, type Clock } from './queue.js';

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  deletionTimestamp?: string | Date;
  finalizers?: string[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }[];
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
}

export interface ListResult<T> {
  items: T[];
  resourceVersion: string;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

/** Where an informer lists and watches; the real one is in client.ts, tests use fakes. */
export interface ListWatchSource<T> {
  list(): Promise<ListResult<T>>;
  /** Starts a watch; `onDone` is called once, when it ends (with the error, if any). */
  watch(resourceVersion: string, onEvent: (type: WatchEventType, obj: unknown) => void, onDone: (err?: unknown) => void): Promise<{ abort(): void }>;
}

export interface Handlers<T> {
  add?: (obj: T) => void;
  update?: (oldObj: T, newObj: T) => void;
  delete?: (obj: T) => void;
}

export const objectKey = (o: KubeObject): string => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;

class GoneError extends Error {}

const isGone = (err: unknown): boolean => {
  const e = err as { statusCode?: number; code?: number } | null;
  return e?.statusCode === 410 || e?.code === 410;
};

export class Informer<T extends KubeObject> {
  private readonly cache = new Map<string, T>();
  private readonly handlers: Handlers<T>[] = [];
  private stopped = false;
  private current: { abort(): void } | null = null;
  private endWatch: (() => void) | null = null;
  private wake: (() => void) | null = null;
  private resourceVersion = '';
  private readonly backoff: ExponentialBackoff<string>;
  private syncedResolve!: () => void;
  /** Resolves once the first list is in the cache. */
  readonly synced: Promise<void> = new Promise((r) => { this.syncedResolve = r; });
  /** Times the informer relisted after an error or a 410. */
  restarts = 0;

  constructor(readonly name: string, private readonly source: ListWatchSource<T>, private readonly log: Logger,
    private readonly clock: Clock = systemClock, backoff = { baseMs: 500, maxMs: 30_000 }) {
    this.backoff = new ExponentialBackoff<string>(backoff);
  }

  on(h: Handlers<T>): void {
    this.handlers.push(h);
  }

  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  /** Runs until stop(); resolves then. */
  async run(): Promise<void> {
    while (!this.stopped) {
      try {
        const { items, resourceVersion } = await this.source.list();
        if (this.stopped) break;
        this.replace(items);
        this.resourceVersion = resourceVersion;
        this.syncedResolve();
        for (;;) {
          await this.watchOnce();
          if (this.stopped) return;
          this.backoff.forget('watch');
        }
      } catch (e) {
        if (this.stopped) break;
        this.restarts++;
        if (e instanceof GoneError) {
          this.log.info({ informer: this.name }, 'watch expired (410 Gone); relisting');
          continue;
        }
        const ms = this.backoff.next('watch');
        this.log.warn({ informer: this.name, err: (e as Error).message, retryInMs: ms }, 'list/watch failed; restarting');
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          this.clock.setTimeout(resolve, ms);
        });
        this.wake = null;
      }
    }
  }

  stop(): void {
    this.stopped = true;
    this.current?.abort();
    this.endWatch?.();
    this.wake?.();
  }

  /** One watch from the current resourceVersion; resolves when the server closes it. */
  private watchOnce(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let finished = false;
      const finish = (err?: unknown) => {
        if (finished) return;
        finished = true;
        this.current?.abort();
        this.current = null;
        this.endWatch = null;
        if (this.stopped) resolve();
        else if (err && isGone(err)) reject(new GoneError('410 Gone'));
        else if (err) reject(err instanceof Error ? err : new Error(String(err)));
        else resolve();
      };
      this.endWatch = () => finish();
      this.source.watch(this.resourceVersion, (type, raw) => {
        if (finished) return;
        if (type === 'ERROR') {
          const status = raw as { code?: number; message?: string };
          finish(status?.code === 410 ? status : new Error(`watch error: ${status?.message ?? JSON.stringify(raw)}`));
          return;
        }
        const obj = raw as T;
        const rv = obj.metadata?.resourceVersion;
        if (rv) this.resourceVersion = rv;
        if (type === 'BOOKMARK') return;
        if (type === 'DELETED') this.remove(obj);
        else this.upsert(obj);
      }, finish).then((handle) => {
        if (finished) handle.abort();
        else this.current = handle;
      }, finish);
    });
  }

  private upsert(obj: T): void {
    const key = objectKey(obj);
    const old = this.cache.get(key);
    this.cache.set(key, obj);
    for (const h of this.handlers) {
      if (old) h.update?.(old, obj);
      else h.add?.(obj);
    }
  }

  private remove(obj: T): void {
    const key = objectKey(obj);
    const old = this.cache.get(key) ?? obj;
    this.cache.delete(key);
    for (const h of this.handlers) h.delete?.(old);
  }

  /** A fresh list: objects not in it were deleted while we were not watching. */
  private replace(items: T[]): void {
    const keys = new Set(items.map(objectKey));
    for (const [key, old] of [...this.cache]) if (!keys.has(key)) this.remove(old);
    for (const obj of items) {
      const old = this.cache.get(objectKey(obj));
      if (old && old.metadata?.resourceVersion === obj.metadata?.resourceVersion) continue;
      this.upsert(obj);
    }
  }
}
