/** `openmb local`'s options, through the real command line. */
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { tracePath } from '../../shims/traffic/trace-dir.js';
import type { Report } from './run.js';

const OPENMB = fileURLToPath(new URL('../../../bin/openmb.js', import.meta.url));
const run = promisify(execFile);

test('--transfer refuses a value it does not know, naming the flag and the choices', async (t) => {
  const err = await t.throwsAsync(run(process.execPath, [OPENMB, 'local', '--transfer', 'sideways'])) as Error & { stderr: string; code: number };
  t.is(err.code, 1);
  t.regex(err.stderr, /--transfer <t>' argument 'sideways' is invalid\. Allowed choices are direct, brokered\./);
});

test('--help says what each transfer is, and that direct is the default', async (t) => {
  const { stdout } = await run(process.execPath, [OPENMB, 'local', '--help']);
  const help = stdout.replace(/\s+/g, ' ');
  t.regex(help, /--transfer <t> how state travels in every operation: direct \(source instance to destination instance\) or brokered \(through the controller\) \(choices: "direct", "brokered", default: "direct"\)/);
});

test('--transfer brokered reaches the pool: a scale-out runs its moves with it and the report says so', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'openmb-transfer-'));
  await run(process.execPath, [OPENMB, 'local', '--transfer', 'brokered', '--trace', tracePath('ndpi_synscan.pcap'), '--scale', '0.3:2',
    '--rate', '4000', '--out', out], { env: { ...process.env, OPENMB_LOG_LEVEL: 'error' } });
  const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as Report;
  t.is(report.transfer, 'brokered');
  t.true(report.operations.some((o) => o.kind === 'move' && o.phase === 'Succeeded'), JSON.stringify(report.operations.map((o) => [o.kind, o.phase])));
  t.is(report.packets.processed, report.packets.sent);
});
