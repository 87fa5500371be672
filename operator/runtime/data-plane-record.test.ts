import test from 'ava';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DataPlaneRecord, parseRecord, readRecord, recordPath, removeRecord, writeRecord } from './data-plane-record.js';

const record: DataPlaneRecord = {
  version: 1, pool: 'ns/p', controller: '127.0.0.1:40000', switch: { name: 'switch-0', pid: 1234, socket: '/tmp/x/switch.sock' }, runDir: '/tmp/x',
  instances: [{ name: 'm-0', mbType: 'monitor', pid: 1240 }],
};

test('a record written is read back whole, and the directory holds no temporary file after it', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'openmb-record-'));
  t.is(readRecord(dir), null, 'none yet');
  writeRecord(dir, record);
  writeRecord(dir, { ...record, secretFile: join(dir, 'secret') });
  t.deepEqual(readRecord(dir), { ...record, secretFile: join(dir, 'secret') });
  t.deepEqual(readdirSync(dir), ['data-plane.json']);
  removeRecord(dir);
  t.is(readRecord(dir), null);
});

test('a record that is not one is refused, naming the field', (t) => {
  const bad = (change: (r: Record<string, unknown>) => void) => {
    const r = structuredClone(record) as unknown as Record<string, unknown>;
    change(r);
    return () => parseRecord(r, 'data-plane.json');
  };
  t.throws(bad((r) => { r.version = 2; }), { message: 'data-plane.json: version must be 1, got 2' });
  t.throws(bad((r) => { delete r.controller; }), { message: 'data-plane.json: controller must be a non-empty string' });
  t.throws(bad((r) => { (r.switch as { pid: unknown }).pid = 'x'; }), { message: 'data-plane.json: switch.pid must be a process id (an integer > 1)' });
  t.throws(bad((r) => { (r.instances as { pid: unknown }[])[0].pid = 1; }), { message: 'data-plane.json: instances[0].pid must be a process id (an integer > 1)' });
  t.throws(bad((r) => { (r.instances as { mbType: unknown }[])[0].mbType = ''; }), { message: 'data-plane.json: instances[0].mbType must be a non-empty string' });
  t.throws(bad((r) => { r.instances = {}; }), { message: 'data-plane.json: instances must be a list' });
  t.throws(() => parseRecord([], 'f'), { message: 'f: the record must be an object' });
  const dir = mkdtempSync(join(tmpdir(), 'openmb-record-'));
  writeFileSync(recordPath(dir), '{"version":1,');
  t.throws(() => readRecord(dir), { message: /data-plane\.json: not JSON/ });
});
