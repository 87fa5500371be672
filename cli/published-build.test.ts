/**
 * What the image ships (e2e/image/stage-app.sh, shared by the Dockerfile and the e2e image):
 * everything the openmb command imports, and none of the test support listed in
 * e2e/image/test-support.txt; a staged copy runs a pool end to end from its own files.
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url)); // dist/cli/ -> repository root
const patterns = readFileSync(join(root, 'e2e/image/test-support.txt'), 'utf8').split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
// As find -path matches: `*` also matches `/`.
const asRegex = (p: string) => new RegExp(`^${p.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
const testSupport = (path: string) => patterns.some((p) => asRegex(p).test(path));

function filesUnder(dir: string, base = dir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? filesUnder(p, base) : [relative(base, p)];
  });
}

/** Every module reachable from `entry` by relative imports (static, or dynamic with a literal). */
function reachable(entry: string): Set<string> {
  const seen = new Set<string>();
  const todo = [resolve(entry)];
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    if (!existsSync(file)) continue;
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)(['"])(\.{1,2}\/[^'"]+)\1/gm)) todo.push(resolve(dirname(file), m[2]));
  }
  return seen;
}

let staged: string | null = null;
function stage(): string {
  if (staged) return staged;
  const dest = join(mkdtempSync(join(tmpdir(), 'openmb-stage-')), 'app');
  execFileSync('bash', [join(root, 'e2e/image/stage-app.sh'), root, dest], { stdio: 'pipe' });
  // The image installs its production dependencies; the repository's serve here.
  symlinkSync(join(root, 'node_modules'), join(dest, 'node_modules'));
  staged = dest;
  return dest;
}
test.after.always(() => {
  if (staged) rmSync(dirname(staged), { recursive: true, force: true });
});

test('every test-support pattern names something that exists, and nothing the image ships matches one', (t) => {
  const dist = filesUnder(join(root, 'dist')).filter((f) => f.endsWith('.js'));
  for (const p of patterns) t.true(dist.some((f) => asRegex(p).test(f)), `${p} matches nothing in dist/: a stale entry`);
  const shipped = filesUnder(join(stage(), 'dist'));
  t.true(shipped.includes('cli/main.js'));
  t.deepEqual(shipped.filter(testSupport), []);
});

test('nothing the openmb command imports is missing from the image', (t) => {
  const app = stage();
  const modules = reachable(join(app, 'bin/openmb.js'));
  t.true(modules.size > 100, `only ${modules.size} modules found: the import scan is broken`);
  const missing = [...modules].filter((f) => !existsSync(f)).map((f) => relative(app, f));
  t.deepEqual(missing, [], 'imported by the command but left out of the image (or test support the command uses)');
});

test('the staged image runs: describe, and openmb local on a bundled capture', (t) => {
  const app = stage();
  // The image's own captures, not a directory the environment names.
  const withoutTraces = { ...process.env };
  delete withoutTraces.OPENMB_TRACES;
  const run = (...args: string[]) => execFileSync(process.execPath, [join(app, 'bin/openmb.js'), ...args], { cwd: app, encoding: 'utf8', env: withoutTraces });
  t.regex(run('describe', '--type', 'ids'), /"type": ?"ids"/);
  const out = join(dirname(app), 'out');
  const summary = run('local', '--middlebox', 'monitor', '--trace', join(app, 'data/traces/tryzeek_sumstat.pcap'), '--scale', '0.3:2', '--out', out, '--rate', '4000');
  t.regex(summary, /sent 4544, processed 4544, dropped 0/);
});
