import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type MemoryFigures, PROBE_DIR_ENV, readMemoryReport } from './soak-memory.js';

const MB = 2 ** 20;

/**
 * A real process, with the soak's probe preloaded the way the soak loads it, keeps 600k objects
 * (a leak), then lets them go. The objects hang off globalThis and are made and dropped in
 * functions of their own, so no register of the module's frame keeps them alive across gc().
 * Entries for a collection arrive a moment after it: each gc() is followed by a short wait.
 */
const CHILD = `
import { memoryFigures } from ${JSON.stringify(new URL('./soak-memory.js', import.meta.url).href)};
const collect = async () => { gc(); await new Promise((r) => setTimeout(r, 200)); };
function fill() { globalThis.kept = Array.from({ length: 600000 }, (_, i) => ({ i, s: 'flow ' + i })); }
function release() { globalThis.kept = null; }
memoryFigures();
await collect();
const base = memoryFigures();
fill();
await collect();
const leaking = memoryFigures();
release();
await collect();
const released = memoryFigures();
await new Promise((r) => setTimeout(r, 1500));
console.log(JSON.stringify({ base, leaking, released }));
`;

test('retained memory grows with what a process keeps and falls when it lets go; the probe reports it by pid', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'openmb-soak-memory-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const probe = new URL('./soak-probe.js', import.meta.url).href;
  const child = execFile(process.execPath, ['--expose-gc', '--input-type=module', '-e', CHILD],
    { env: { ...process.env, NODE_OPTIONS: `--import=${probe}`, [PROBE_DIR_ENV]: dir } });
  const pid = child.pid!;
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  t.is(code, 0);
  const { base, leaking, released } = JSON.parse(out) as Record<'base' | 'leaking' | 'released', MemoryFigures>;
  for (const f of [base, leaking, released]) {
    t.is(f.native, f.rss - f.heapTotal);
    t.is(f.retained, f.native + f.heapLive);
  }
  const grew = (from: MemoryFigures, to: MemoryFigures, k: 'heapLive' | 'retained') => (to[k] - from[k]) / MB;
  t.true(grew(base, leaking, 'heapLive') > 24, `kept objects: the heap after a full collection grew by ${grew(base, leaking, 'heapLive')} MB`);
  t.true(grew(base, leaking, 'retained') > 24, `kept objects: retained grew by ${grew(base, leaking, 'retained')} MB`);
  t.true(grew(released, leaking, 'heapLive') > 24, `released objects: the heap after a full collection fell by only ${grew(released, leaking, 'heapLive')} MB`);
  // Retained falls too, if not all the way back: glibc keeps some of what the collector malloc'd.
  t.true(grew(released, leaking, 'retained') > 24, `released objects: retained fell by only ${grew(released, leaking, 'retained')} MB`);

  const reported = readMemoryReport(dir, pid);
  t.truthy(reported, 'the preloaded probe wrote <dir>/<pid>.json');
  t.true(reported!.rss > reported!.heapUsed);
  // gc entries arrive after the collection: by the last report the three forced ones were counted.
  t.true(reported!.majorGcs >= 3, `full collections counted: ${reported!.majorGcs}`);
  t.is(reported!.afterMajorGc, reported!.heapLive, 'after a full collection, the heap counted is what it left');
  t.is(readMemoryReport(dir, pid + 1_000_000), null);
  t.is(readMemoryReport(dir, undefined), null);
});
