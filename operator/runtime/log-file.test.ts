import test from 'ava';
import { closeSync, mkdtempSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { BoundedLogFile, trimAppendedLog } from './log-file.js';

test('a log file past its bound moves to .1 and starts again, so at most twice the bound stays on disk and the newest lines are in the file', async (t) => {
  const path = join(mkdtempSync(join(tmpdir(), 'openmb-log-')), 'mb.log');
  const log = new BoundedLogFile(path, 1000);
  for (let i = 0; i < 100; i++) log.write(`line ${String(i).padStart(3, '0')} ${'x'.repeat(40)}\n`);
  log.end();
  await once(log, 'finish');
  t.true(log.rotations >= 4);
  t.true(statSync(path).size <= 1000);
  t.true(statSync(`${path}.1`).size <= 1000);
  const newest = readFileSync(path, 'utf8').trim().split('\n');
  t.true(newest.at(-1)!.startsWith('line 099'));
  const older = readFileSync(`${path}.1`, 'utf8').trim().split('\n');
  t.is(Number(older.at(-1)!.slice(5, 8)) + 1, Number(newest[0].slice(5, 8)), 'no line lost between the two files');
});

test('a log appended to by another process is copied to .1 and emptied past its bound, and the writer goes on at its start', (t) => {
  const path = join(mkdtempSync(join(tmpdir(), 'openmb-log-')), 'switch.log');
  const fd = openSync(path, 'a');
  writeSync(fd, 'x'.repeat(600));
  t.false(trimAppendedLog(path, 1000), 'under the bound: left alone');
  writeSync(fd, 'y'.repeat(600));
  t.true(trimAppendedLog(path, 1000));
  t.is(statSync(`${path}.1`).size, 1200);
  writeSync(fd, 'newest\n');
  closeSync(fd);
  t.is(readFileSync(path, 'utf8'), 'newest\n', 'an appending writer continues at the start of the emptied file');
  t.false(trimAppendedLog(join(path, 'none')), 'a missing file is no error');
});
