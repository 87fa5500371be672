import test from 'ava';
import { silentLogger } from '../../shims/log/logger.js';
import { Informer, type KubeObject, type ListWatchSource, type WatchEventType } from './informer.js';
import type { Clock } from './queue.js';

const obj = (name: string, rv: string): KubeObject => ({ metadata: { name, namespace: 'ns', resourceVersion: rv } });
const tick = async (n = 5) => { for (let i = 0; i < n; i++) await new Promise<void>((r) => setImmediate(r)); };

/** A scripted API server: lists return `items`; each watch is handed to the test to drive. */
class FakeSource implements ListWatchSource<KubeObject> {
  items: KubeObject[] = [];
  rv = '1';
  lists = 0;
  listError: Error | null = null;
  watches: { rv: string; onEvent: (t: WatchEventType, o: unknown) => void; onDone: (err?: unknown) => void; aborted: boolean }[] = [];
  async list() {
    this.lists++;
    if (this.listError) throw this.listError;
    return { items: [...this.items], resourceVersion: this.rv };
  }
  async watch(rv: string, onEvent: (t: WatchEventType, o: unknown) => void, onDone: (err?: unknown) => void) {
    const w = { rv, onEvent, onDone, aborted: false };
    this.watches.push(w);
    return { abort: () => { w.aborted = true; } };
  }
  get last() {
    return this.watches[this.watches.length - 1];
  }
}

const immediateClock: Clock = { now: () => 0, setTimeout: (fn) => { setImmediate(fn); return 0; }, clearTimeout: () => {} };

test('lists, then watches from the list version; events keep the cache and call handlers', async (t) => {
  const src = new FakeSource();
  src.items = [obj('a', '5')];
  src.rv = '7';
  const inf = new Informer('t', src, silentLogger, immediateClock);
  const seen: string[] = [];
  inf.on({ add: (o) => seen.push(`add ${o.metadata!.name}`), update: (_a, b) => seen.push(`update ${b.metadata!.name}`), delete: (o) => seen.push(`delete ${o.metadata!.name}`) });
  const run = inf.run();
  await inf.synced;
  await tick();
  t.is(src.last.rv, '7');
  src.last.onEvent('ADDED', obj('b', '8'));
  src.last.onEvent('MODIFIED', obj('a', '9'));
  src.last.onEvent('BOOKMARK', { metadata: { resourceVersion: '11' } });
  src.last.onEvent('DELETED', obj('b', '12'));
  t.deepEqual(seen, ['add a', 'add b', 'update a', 'delete b']);
  t.deepEqual(inf.list().map((o) => o.metadata!.name), ['a']);
  // The server ends the watch: it resumes from the last version seen, without a list.
  src.last.onDone();
  await tick();
  t.is(src.watches.length, 2);
  t.is(src.last.rv, '12');
  t.is(src.lists, 1);
  inf.stop();
  await run;
});

test('410 Gone relists, and objects deleted meanwhile are reported deleted', async (t) => {
  const src = new FakeSource();
  src.items = [obj('a', '1'), obj('b', '1')];
  const inf = new Informer('t', src, silentLogger, immediateClock);
  const deleted: string[] = [];
  inf.on({ delete: (o) => deleted.push(o.metadata!.name!) });
  const run = inf.run();
  await inf.synced;
  await tick();
  src.items = [obj('a', '3')];
  src.rv = '20';
  src.last.onEvent('ERROR', { kind: 'Status', code: 410, message: 'too old resource version' });
  await tick();
  t.is(src.lists, 2);
  t.true(src.watches[0].aborted);
  t.deepEqual(deleted, ['b']);
  t.is(src.last.rv, '20');
  t.is(inf.restarts, 1);
  inf.stop();
  await run;
});

test('an informer that failed restarts after a backoff instead of staying stopped', async (t) => {
  const src = new FakeSource();
  src.items = [obj('a', '1')];
  const delays: number[] = [];
  const clock: Clock = { now: () => 0, setTimeout: (fn, ms) => { delays.push(ms); setImmediate(fn); return 0; }, clearTimeout: () => {} };
  const inf = new Informer('t', src, silentLogger, clock, { baseMs: 100, maxMs: 1000 });
  const run = inf.run();
  await inf.synced;
  await tick();
  src.listError = new Error('connection refused');
  src.last.onDone(new Error('connection reset'));
  await tick(20);
  t.true(delays.length >= 2, 'it kept trying');
  t.deepEqual(delays.slice(0, 3), [100, 200, 400].slice(0, Math.min(3, delays.length)));
  src.listError = null;
  await tick(20);
  t.is(inf.get('ns/a')?.metadata?.name, 'a');
  t.true(src.watches.length >= 2, 'watching again');
  inf.stop();
  await run;
});
