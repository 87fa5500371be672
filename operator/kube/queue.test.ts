import test from 'ava';
import { ExponentialBackoff } from '../../shims/protocol/backoff.js';
import { runWorkers, WorkQueue, type Clock } from './queue.js';

/** A clock that moves only when told to; timers fire in order of their due time. */
class FakeClock implements Clock {
  t = 1000;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private ids = 0;
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.ids;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((x) => x.id !== handle);
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = this.timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.timers = this.timers.filter((x) => x !== due);
      this.t = due.at;
      due.fn();
    }
    this.t = end;
  }
  get pending(): number {
    return this.timers.length;
  }
}

const tick = () => new Promise<void>((r) => setImmediate(r));

test('a key is queued once however often it is added', async (t) => {
  const q = new WorkQueue<string>(new FakeClock());
  q.add('a');
  q.add('b');
  q.add('a');
  t.is(q.length, 2);
  t.is(await q.get(), 'a');
  t.is(await q.get(), 'b');
  t.is(q.length, 0);
});

test('a key being processed is not handed out again until done, then comes back once', async (t) => {
  const q = new WorkQueue<string>(new FakeClock());
  q.add('a');
  const k = await q.get();
  t.is(k, 'a');
  t.true(q.isProcessing('a'));
  q.add('a');
  q.add('a');
  t.is(q.length, 0, 'not queued while processing');
  q.done('a');
  t.is(q.length, 1, 'queued again once, after done');
  t.is(await q.get(), 'a');
  q.done('a');
  t.is(q.length, 0);
});

test('get waits for the next add, and resolves undefined on shutdown', async (t) => {
  const q = new WorkQueue<string>(new FakeClock());
  const waiting = q.get();
  q.add('x');
  t.is(await waiting, 'x');
  t.true(q.isProcessing('x'));
  const more = q.get();
  q.shutDown();
  t.is(await more, undefined);
  q.add('y');
  t.is(await q.get(), undefined, 'nothing is accepted after shutdown');
});

test('addAfter fires on the clock, and the earliest of two delayed adds wins', async (t) => {
  const clock = new FakeClock();
  const q = new WorkQueue<string>(clock);
  q.addAfter('a', 500);
  q.addAfter('a', 100);
  q.addAfter('a', 900);
  t.is(clock.pending, 1);
  clock.advance(99);
  t.is(q.length, 0);
  clock.advance(1);
  t.is(q.length, 1);
  clock.advance(10_000);
  t.is(q.length, 1, 'the later adds were dropped');
});

test('backoff doubles per failure up to the cap, and forget resets it', (t) => {
  const b = new ExponentialBackoff<string>({ baseMs: 100, maxMs: 1000 });
  t.deepEqual([b.next('a'), b.next('a'), b.next('a'), b.next('a'), b.next('a'), b.next('a')], [100, 200, 400, 800, 1000, 1000]);
  t.is(b.next('b'), 100, 'per key');
  b.forget('a');
  t.is(b.failuresOf('a'), 0);
  t.is(b.next('a'), 100);
});

test('addRateLimited requeues after the backoff delay', (t) => {
  const clock = new FakeClock();
  const q = new WorkQueue<string>(clock, { baseMs: 50, maxMs: 10_000 });
  t.is(q.addRateLimited('a'), 50);
  clock.advance(49);
  t.is(q.length, 0);
  clock.advance(1);
  t.is(q.length, 1);
  t.is(q.addRateLimited('a'), 100);
});

test('runWorkers: failures retry with growing backoff, success forgets, requeueAfter schedules', async (t) => {
  const clock = new FakeClock();
  const q = new WorkQueue<string>(clock, { baseMs: 10, maxMs: 1000 });
  const calls: [string, number][] = [];
  const errors: number[] = [];
  let failuresLeft = 3;
  const done = runWorkers(q, 2, async (key) => {
    calls.push([key, clock.now()]);
    if (key === 'bad' && failuresLeft-- > 0) throw new Error('boom');
    if (key === 'periodic') return { requeueAfter: 5000 };
    return undefined;
  }, (_k, _e, retry) => errors.push(retry));
  q.add('bad');
  q.add('periodic');
  await tick();
  t.deepEqual(errors, [10]);
  clock.advance(10);
  await tick();
  clock.advance(20);
  await tick();
  clock.advance(40);
  await tick();
  t.deepEqual(errors, [10, 20, 40]);
  t.is(calls.filter(([k]) => k === 'bad').length, 4, 'succeeded on the fourth try');
  t.is(q.backoff.failuresOf('bad'), 0, 'success forgets the failures');
  t.is(calls.filter(([k]) => k === 'periodic').length, 1);
  clock.advance(5000);
  await tick();
  t.is(calls.filter(([k]) => k === 'periodic').length, 2);
  q.shutDown();
  await done;
});

test('runWorkers: one reconcile at a time per key, even with several workers', async (t) => {
  const q = new WorkQueue<string>(new FakeClock());
  let running = 0;
  let maxRunning = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  let n = 0;
  const done = runWorkers(q, 4, async () => {
    running++;
    maxRunning = Math.max(maxRunning, running);
    n++;
    if (n === 1) await gate;
    running--;
  }, () => {});
  q.add('a');
  await tick();
  q.add('a');
  q.add('a');
  await tick();
  t.is(maxRunning, 1);
  release();
  await tick();
  await tick();
  t.is(n, 2, 'the adds made while it ran collapse into one more reconcile');
  t.is(maxRunning, 1);
  q.shutDown();
  await done;
});
