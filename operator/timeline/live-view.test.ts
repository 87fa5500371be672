/**
 * The live timeline in a real browser: headless Chromium (Debian's package, driven by
 * playwright-core, which downloads no browser of its own) watches `openmb local --serve` replay
 * a capture while the pool scales 1 -> 2 -> 3 -> 2. From the page's DOM alone: operations appear
 * as they start and turn Succeeded as they end while the run goes on, the buckets' owners change,
 * and one operation opens on its own window (saved as a screenshot in test-output/live-view/).
 * Then the run's timeline.html, opened from the file with the server gone, shows the same
 * operations and asks the network for nothing.
 *
 * Without chromium this test is skipped (said so in its title); CI sets OPENMB_REQUIRE_CHROMIUM=1,
 * so there a missing chromium fails instead.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Page } from 'playwright-core';
import { CHROMIUM, chromiumAvailable as available, chromiumRequired, launchChromium } from './chromium.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const outputDir = join(repo, 'test-output', 'live-view');

if (chromiumRequired) {
  test('chromium is installed, as OPENMB_REQUIRE_CHROMIUM asks', (t) => {
    t.true(available, `no chromium at ${CHROMIUM} (apt-get install chromium)`);
  });
}

interface Seen {
  /** Per operation: each phase its row showed, with when (ms since the epoch). */
  phases: Record<string, { phase: string; at: number }[]>;
  /** Instances the bucket legend listed, at most at once. */
  maxInstances: number;
  /** Distinct bucket-owner layouts shown. */
  layouts: number;
}

/**
 * Records, from the DOM, every phase each operation row shows (mutation records with their old
 * values, so a phase shown for less than a frame still counts) and the bucket layouts shown.
 */
function recordDom(): void {
  const w = window as unknown as { seen: Seen };
  w.seen = { phases: {}, maxInstances: 0, layouts: 0 };
  const layouts = new Set<string>();
  const note = (row: Element, phase: string | null) => {
    const id = row.getAttribute('data-op');
    if (!id || !phase) return;
    const list = (w.seen.phases[id] ??= []);
    if (list[list.length - 1]?.phase !== phase) list.push({ phase, at: Date.now() });
  };
  const scan = () => {
    const legend = document.querySelectorAll('#buckets [data-instance]').length;
    w.seen.maxInstances = Math.max(w.seen.maxInstances, legend);
    const owners = [...document.querySelectorAll('#buckets [data-owner]')].map((b) => b.getAttribute('data-owner')).join(',');
    if (owners) layouts.add(owners);
    w.seen.layouts = layouts.size;
  };
  const observer = new MutationObserver((records) => {
    // A row's values in order: the old value of each change to it, then the value it has now.
    const values = new Map<Element, (string | null)[]>();
    for (const r of records) {
      if (r.type === 'attributes' && r.target instanceof Element && r.target.matches('#operations tr[data-op]')) {
        values.set(r.target, [...values.get(r.target) ?? [], r.oldValue]);
      }
      for (const n of r.addedNodes) {
        if (!(n instanceof Element)) continue;
        const rows = n.matches('#operations tr[data-op]') ? [n] : [...n.querySelectorAll('#operations tr[data-op]')];
        for (const row of rows) if (!values.has(row)) values.set(row, []);
      }
    }
    for (const [row, old] of values) for (const v of [...old, row.getAttribute('data-phase')]) note(row, v);
    scan();
  });
  // From before the page's own scripts run: nothing it renders is missed.
  observer.observe(document, { subtree: true, childList: true, attributes: true, attributeOldValue: true, attributeFilter: ['data-phase', 'data-owner'] });
}

const seen = (page: Page) => page.evaluate(() => (window as unknown as { seen: Seen }).seen);

if (available) {
  test.serial('the live timeline shows a scaling pool\'s operations as they start and end, and each opens on its own window', async (t) => {
    mkdirSync(outputDir, { recursive: true });
    const out = mkdtempSync(join(tmpdir(), 'openmb-live-'));
    const browser = await launchChromium();
    const cli = spawn(process.execPath, [join(repo, 'bin', 'openmb.js'), 'local', '--trace', join(repo, 'data', 'traces', 'tryzeek_sumstat.pcap'),
      '--rate', '400', '--scale', '0.2:2,0.45:3,0.75:2', '--out', out, '--serve', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    t.teardown(async () => {
      if (cli.exitCode === null) cli.kill('SIGTERM');
      await browser.close();
      rmSync(out, { recursive: true, force: true });
    });
    let stdout = '';
    let runOverAt = 0;
    const url = await new Promise<string>((resolve, reject) => {
      cli.stdout.setEncoding('utf8').on('data', (d: string) => {
        stdout += d;
        const m = /live timeline: (http:\/\/\S+)/.exec(stdout);
        if (m) resolve(m[1]);
        if (!runOverAt && stdout.includes('the run is over')) runOverAt = Date.now();
      });
      cli.once('exit', (code) => reject(new Error(`openmb local exited (${code}) before serving: ${stdout}`)));
    });
    t.regex(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.addInitScript(recordDom);
    await page.goto(url);
    await page.waitForSelector('#connection[data-state=live]');
    // The run ends (the page says so from the stream's last message) while the page watches.
    await page.waitForFunction(() => document.getElementById('connection')?.textContent === 'run ended', undefined, { timeout: 120_000 });
    const s = await seen(page);
    const ids = Object.keys(s.phases);
    t.log(`operations seen on the page: ${ids.map((id) => `${id} ${s.phases[id].map((p) => p.phase).join('→')}`).join(', ')}`);
    t.true(ids.length >= 4, 'the scale-ups and the scale-down ran operations');
    const moves = ids.filter((id) => id.startsWith('move-'));
    t.true(moves.length >= 3, `moves shown: ${moves.join(', ')}`);
    // Each operation showed first as running, then as done, in the order they ran.
    for (const id of ids) t.deepEqual(s.phases[id].map((p) => p.phase), ['Running', 'Succeeded'], id);
    // ... while the pool was still scaling: they were on the page before the run was over.
    const lastDone = Math.max(...ids.map((id) => s.phases[id][1].at));
    t.true(runOverAt === 0 || lastDone <= runOverAt + 1000, 'operations were shown as they ran, not after the run');
    t.true(s.maxInstances >= 3, `the bucket legend showed ${s.maxInstances} instances at most`);
    t.true(s.layouts >= 4, `bucket layouts shown: ${s.layouts}`);

    // The window of the move that held the most events (as its row says): its steps, the rates of its source and destination.
    const held = await page.locator('#operations tr[data-op^="move-"]').evaluateAll((rows) => rows.map((r) => [r.getAttribute('data-op')!, Number(r.children[8].textContent)] as const));
    const move = held.reduce((a, b) => (b[1] > a[1] ? b : a))[0];
    await page.click(`#operations tr[data-op="${move}"] button`);
    const windowBox = page.locator(`#operation[data-op="${move}"]`);
    await windowBox.waitFor();
    t.true(await windowBox.locator('canvas').count() >= 1, 'the window has its chart');
    const stepNames = await windowBox.locator('[data-step]').evaluateAll((els) => els.map((e) => e.getAttribute('data-step')));
    t.deepEqual(stepNames, ['get', 'put', 'route', 'release', 'delete'], 'a loss-free move\'s steps');
    t.regex(await windowBox.locator('.u-legend').innerText(), /\(source\)[\s\S]*\(destination\)[\s\S]*events held/);
    await windowBox.screenshot({ path: join(outputDir, 'operation.png') });
    await page.screenshot({ path: join(outputDir, 'run.png'), fullPage: true });
    t.log(`screenshots: ${join(outputDir, 'operation.png')}, ${join(outputDir, 'run.png')}`);

    // The static page: the same operations from the file alone, with the server gone.
    cli.kill('SIGTERM');
    await new Promise((r) => (cli.exitCode === null ? cli.once('exit', r) : r(null)));
    t.log(stdout.split('\n').filter((l) => /^monitor:|^error/.test(l)).join('\n'));
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as { operations: unknown[] };
    const file = await browser.newPage();
    const requested: string[] = [];
    file.on('request', (r) => requested.push(r.url()));
    await file.goto(pathToFileURL(join(out, 'timeline.html')).href);
    await file.waitForSelector('#connection[data-state=static]');
    const rows = await file.locator('#operations tr[data-op]').evaluateAll((els) => els.map((e) => [e.getAttribute('data-op'), e.getAttribute('data-phase')]));
    t.deepEqual(rows.map(([id]) => id).sort(), [...ids].sort(), 'the file shows the operations the live page showed');
    t.is(rows.length, report.operations.length);
    t.true(rows.every(([, phase]) => phase === 'Succeeded'));
    await file.click(`#operations tr[data-op="${move}"] button`);
    await file.locator(`#operation[data-op="${move}"] canvas`).first().waitFor();
    t.deepEqual(requested.filter((u) => !u.startsWith('file:') && !u.startsWith('data:')), [], 'the file asks the network for nothing');
  });
} else {
  test.skip(`the live timeline in Chromium: skipped, no chromium at ${CHROMIUM} (apt-get install chromium; OPENMB_REQUIRE_CHROMIUM=1 makes this a failure)`, () => {});
}
