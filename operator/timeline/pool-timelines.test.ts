/**
 * A pool's timeline on the operator's HTTP endpoint, with a real pool (the process runtime: a
 * switch and two monitor instances as processes) under a real capture: the page and its assets
 * are open, the stream needs the shared secret like the pool's outputs, and a watcher sees the
 * instances' packets, the move as it runs and ends, and the buckets change owner.
 */
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../shims/log/logger.js';
import { readCaptureFile } from '../../shims/flow/pcap.js';
import { describe } from '../../shims/shim/descriptor.js';
import { middleboxByType } from '../../shims/middleboxes/registry.js';
import { parseAddress } from '../../shims/protocol/address.js';
import { replay } from '../../shims/traffic/replay.js';
import { tracePath } from '../../shims/traffic/trace-dir.js';
import type { MiddleboxPool } from '../api/types.js';
import { serveHttp } from '../kube/http.js';
import { Mutex } from '../kube/operations.js';
import { PoolRegistry, type PoolState } from '../kube/pool-registry.js';
import { ProcessRuntime } from '../kube/process-runtime.js';
import type { OperationMessage, TimelineMessage } from './messages.js';
import { chromiumAvailable, launchChromium } from './chromium.js';

const SECRET = 'timeline-secret';

/** Reads server-sent events until `done` says enough (or the stream ends, or a minute passes), and returns the messages. */
async function watch(url: string, done: (all: TimelineMessage[]) => boolean): Promise<TimelineMessage[]> {
  const deadline = Date.now() + 60_000;
  const res = await fetch(url, { headers: { authorization: `Bearer ${SECRET}` } });
  if (res.status !== 200 || !res.body) throw new Error(`status ${res.status}`);
  const all: TimelineMessage[] = [];
  const decoder = new TextDecoder();
  let buf = '';
  const reader = res.body.getReader();
  while (!done(all) && Date.now() < deadline) {
    const { value, done: ended } = await reader.read();
    if (ended) break;
    buf += decoder.decode(value, { stream: true });
    for (let i; (i = buf.indexOf('\n\n')) >= 0; buf = buf.slice(i + 2)) {
      const block = buf.slice(0, i);
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (!data) continue;
      if (block.startsWith('event: history')) all.push(...(JSON.parse(data) as TimelineMessage[]));
      else all.push(JSON.parse(data) as TimelineMessage);
    }
  }
  await reader.cancel();
  return all;
}

test('the operator serves a live pool\'s timeline: the page open, the stream for the token only', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'openmb-timeline-'));
  const engine = await new ProcessRuntime({ secret: SECRET, logDir: dir, log: silentLogger }).open({
    // The process runtime reads nothing of the resource (a Pod runtime takes its template from it).
    pool: 'ns/p', resource: {} as MiddleboxPool, mbType: 'monitor', config: {}, partitioning: { key: 'flow', buckets: 8 },
  });
  const registry = new PoolRegistry();
  const http = await serveHttp({ host: '127.0.0.1', port: 0, registry, ready: () => true, log: silentLogger, secret: SECRET });
  t.teardown(async () => {
    http.server.closeAllConnections();
    http.server.close();
    await engine.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const base = `http://${http.address}`;

  await engine.instances.start('p-0');
  engine.router.owner.fill('p-0');
  await engine.router.apply();
  const st = {
    key: 'ns/p', descriptor: describe(middlebox), engine, actual: { placement: { buckets: 8, instances: ['p-0'], owner: [...engine.router.owner] }, load: {}, lostFlows: 0 },
    lock: new Mutex(), userPins: [], appliedPins: '', lost: [], opsInFlight: 0, nextOp: 0,
  } satisfies Partial<PoolState>;
  // What the timeline reads of a pool's state; the reconcilers' own fields play no part here.
  registry.states.set('ns/p', st as unknown as PoolState);

  // The page and its assets are code: open. The stream is the pool's state: the token's.
  const shell = await fetch(`${base}/pools/ns/p/timeline`);
  t.is(shell.status, 200);
  t.regex(await shell.text(), /"events":"timeline\/events","token":true/);
  t.is((await fetch(`${base}/timeline/assets/uplot.mjs`)).status, 200);
  t.is((await fetch(`${base}/timeline/assets/nothing.mjs`)).status, 401, 'past the open paths, the token');
  for (const authorization of [undefined, 'Bearer wrong']) {
    const res = await fetch(`${base}/pools/ns/p/timeline/events`, { headers: authorization ? { authorization } : {} });
    t.is(res.status, 401, `with ${authorization ?? 'no header'}`);
  }
  t.is((await fetch(`${base}/pools/ns/other/timeline/events`, { headers: { authorization: `Bearer ${SECRET}` } })).status, 404);

  // Traffic, a second instance, and a loss-free move of half the buckets while it flows.
  const { packets } = readCaptureFile(tracePath('tryzeek_sumstat.pcap'));
  const traffic = replay(packets, { switchAddress: parseAddress(engine.switchAddress), secret: SECRET, pace: { kind: 'rate', pps: 1000 }, log: silentLogger });
  const watching = watch(`${base}/pools/ns/p/timeline/events`, (all) => all.some((m) => m.type === 'placement' && m.owner.includes('p-1'))
    && all.some((m) => m.type === 'operation' && m.op.phase === 'Succeeded') && all.filter((m) => m.type === 'sample' && (m.processed['p-0'] ?? 0) > 0).length >= 2
    // A loaded machine may send the last operation message before the first sample with p-1 in it.
    && all.some((m) => m.type === 'sample' && 'p-0' in m.processed && 'p-1' in m.processed));
  await engine.instances.start('p-1');
  await new Promise((r) => setTimeout(r, 500));
  const moved = await engine.controller.move('p-0', 'p-1', engine.router.bucketFilter([4, 5, 6, 7]), ['per-flow'], { guarantee: 'loss-free' });
  t.is(moved.phase, 'Succeeded');
  st.actual.placement = { buckets: 8, instances: ['p-0', 'p-1'], owner: [...engine.router.owner] };
  const all = await watching;
  await traffic;

  t.is(all[0].type, 'hello');
  t.like(all[0], { pool: 'ns/p', middlebox: 'monitor', buckets: 8 });
  const ops = all.filter((m): m is OperationMessage => m.type === 'operation' && m.op.id === moved.id);
  t.is(ops[0].op.phase, 'Running', 'the move showed as it began');
  t.is(ops[ops.length - 1].op.phase, 'Succeeded');
  t.true(all.some((m) => m.type === 'sample' && 'p-0' in m.processed && 'p-1' in m.processed), 'both instances sampled');
  const last = [...all].reverse().find((m) => m.type === 'placement');
  t.deepEqual(last?.type === 'placement' && last.owner, ['p-0', 'p-0', 'p-0', 'p-0', 'p-1', 'p-1', 'p-1', 'p-1']);

  // In a browser (where there is one): the page asks for the token, then shows the move; or takes it from the address.
  if (!chromiumAvailable) return t.log('no chromium: the page was not opened in a browser');
  const browser = await launchChromium();
  t.teardown(() => browser.close());
  const page = await browser.newPage();
  await page.goto(`${base}/pools/ns/p/timeline`);
  await page.waitForSelector('#connection[data-state=unauthorized]');
  await page.fill('#token', 'wrong');
  await page.click('form.token button');
  await page.waitForSelector('#connection[data-state=unauthorized]');
  t.is(await page.locator('header .error').innerText(), 'the token was refused');
  await page.fill('#token', SECRET);
  await page.click('form.token button');
  await page.waitForSelector(`#operations tr[data-op="${moved.id}"][data-phase=Succeeded]`);
  t.is(await page.locator('#connection').getAttribute('data-state'), 'live');
  const linked = await browser.newPage();
  await linked.goto(`${base}/pools/ns/p/timeline#token=${SECRET}&op=${moved.id}`);
  await linked.waitForSelector(`#operation[data-op="${moved.id}"] canvas`);
  t.is(new URL(linked.url()).hash, `#op=${moved.id}`, 'the token is out of the address bar');
});

const middlebox = middleboxByType('monitor');
