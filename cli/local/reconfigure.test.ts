/**
 * `openmb local --reconfigure` across real switch and ids processes: a new rule set at a point of
 * the capture, on a pool of two that scales to three after the change. The alerts are those of
 * one unscaled instance given the same change at the same packet, so the new instance runs the
 * new rules too; every instance took the change's generation.
 */
import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { readCaptureFile } from '../../shims/flow/pcap.js';
import { tracePath } from '../../shims/traffic/trace-dir.js';
import { baseOptions } from './acceptance.js';
import { reconfigureOption, splitPoint } from './reconfigure.js';
import { runLocal } from './run.js';

const dir = mkdtempSync(join(tmpdir(), 'openmb-reconfigure-'));

test('AT:FILE takes a fraction and a JSON object; the change applies before packet ceil(AT x packets)', (t) => {
  const file = join(dir, 'c.json');
  writeFileSync(file, '{"rules": ["alert id=g msg=g method=GET"]}');
  t.deepEqual(reconfigureOption(`0.25:${file}`), [{ at: 0.25, file, config: { rules: ['alert id=g msg=g method=GET'] } }]);
  t.is(reconfigureOption(`1:${file}`, reconfigureOption(`0:${file}`)).length, 2);
  t.throws(() => reconfigureOption(`1.5:${file}`), { instanceOf: InvalidArgumentError, message: /is not FRACTION:FILE/ });
  t.throws(() => reconfigureOption(`0.5:${join(dir, 'none.json')}`), { message: /cannot read/ });
  writeFileSync(join(dir, 'list.json'), '[1]');
  t.throws(() => reconfigureOption(`0.5:${join(dir, 'list.json')}`), { message: /must be a JSON object/ });
  t.deepEqual([splitPoint(0.5, 1335), splitPoint(0, 10), splitPoint(1, 10), splitPoint(0.31, 10)], [668, 0, 10, 4]);
});

test.serial('ids: new rules at 60% of the capture, then a scale to 3; the alerts are those of one instance given the same change', async (t) => {
  const file = join(dir, 'every-get.json');
  writeFileSync(file, JSON.stringify({ rules: ['alert id=every-get msg="a GET request" method=GET'] }));
  const trace = tracePath('tryzeek_http.pcap');
  const r = await runLocal({
    ...baseOptions('ids', trace), out: join(dir, 'pool'), replicas: 2, schedule: [{ at: 0.8, replicas: 3 }], compare: true,
    reconfigure: reconfigureOption(`0.6:${file}`),
  });
  t.deepEqual(r.errors, []);
  const packets = readCaptureFile(trace).packets.length;
  t.deepEqual(r.reconfigurations, [{ at: 0.6, packet: Math.ceil(0.6 * packets), file, generation: 2 }]);
  t.is(r.instances.filter((i) => i.state === 'live').length, 3);
  const alerts = r.outputs.alerts as { rule: string }[];
  const gets = alerts.filter((a) => a.rule === 'every-get').length;
  t.true(gets > 10, `${gets} every-get alerts`);
  t.true(alerts.some((a) => a.rule !== 'every-get' && a.rule !== 'PortScan' && a.rule !== 'DistributedScan'), 'and sample-rule alerts from before the change');
  t.true(r.comparison?.equal, JSON.stringify(r.comparison?.differences).slice(0, 2000));
});

test('a configuration the middlebox refuses is refused before anything starts, naming the field', async (t) => {
  const file = join(dir, 'bad.json');
  writeFileSync(file, JSON.stringify({ rules: ['alert id=x msg=x method=GET', 'alert id=y msg=y uri~"/x'] }));
  await t.throwsAsync(runLocal({ ...baseOptions('ids', tracePath('tryzeek_http.pcap')), out: join(dir, 'bad'), reconfigure: reconfigureOption(`0.5:${file}`) }),
    { message: `--reconfigure 0.5:${file}: config.rules[1]: column 22: string is not closed with "` });
});
