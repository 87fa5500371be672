import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { MiddleboxInstance } from '../../shim/runtime.js';
import { DEFAULT_CONFIG, SAMPLE_RULES } from './config.js';
import { ids } from './ids.js';

const dir = mkdtempSync(join(tmpdir(), 'openmb-ids-config-'));

function rulesFile(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

function refused(values: Record<string, unknown>): string {
  try {
    ids.parseConfig({ ...DEFAULT_CONFIG, ...values });
  } catch (e) {
    return `${(e as Error).name}: ${(e as Error).message}`;
  }
  return 'accepted';
}

test('the default configuration loads the sample rules from the compiled code', (t) => {
  t.true(SAMPLE_RULES.endsWith(join('shims', 'middleboxes', 'ids', 'rules', 'sample.rules')));
  const c = ids.parseConfig(ids.defaultConfig);
  t.is(c.rulesFile, SAMPLE_RULES);
  t.is(c.requestRules.length, 19);
  t.is(c.packetRules.length, 2);
  t.deepEqual([c.portScanThreshold, c.distributedScanThreshold, c.scanWindow, c.reassemblyBytes], [100, 1000, 60, 262144]);
});

test('a relative rules path, an empty rules file and fractional windows are accepted', (t) => {
  const empty = rulesFile('empty.rules', '# nothing yet\n');
  const c = ids.parseConfig({ ...DEFAULT_CONFIG, rules: relative(process.cwd(), empty), scanWindow: 0.5, portScanThreshold: 1, distributedScanThreshold: 10000 });
  t.deepEqual([c.rulesFile, c.requestRules.length, c.packetRules.length, c.scanWindow], [empty, 0, 0, 0.5]);
});

test('a missing rules file is refused', (t) => {
  const file = join(dir, 'absent.rules');
  t.is(refused({ rules: file }), `ConfigError: config.rules: rules file "${file}" does not exist`);
});

test('a rules path that is not a string is refused', (t) => {
  t.is(refused({ rules: 7 }), 'ConfigError: config.rules: must be the path of a rules file, or a list of rules, got 7');
  t.is(refused({ rules: '' }), 'ConfigError: config.rules: must be the path of a rules file, or a list of rules, got ""');
});

test('rules given inline, one per element, are parsed; a bad one is refused naming its index and column', (t) => {
  const config = ids.parseConfig({ ...DEFAULT_CONFIG, rules: ['alert id=get msg="a GET" method=GET', '# a comment', 'alert id=p msg=p payload~"x"'] });
  t.deepEqual([config.requestRules.map((r) => r.id), config.packetRules.map((r) => r.id), config.rulesFile], [['get'], ['p'], '']);
  t.is(refused({ rules: ['alert id=a msg=m method=GET', 'alert id=b msg=m uri~"/x'] }), 'ConfigError: config.rules[1]: column 22: string is not closed with "');
  t.is(refused({ rules: ['alert id=a msg=m method=GET', 7] }), 'ConfigError: config.rules[1]: must be a rule as a string, got 7');
  t.is(refused({ rules: ['alert id=a msg=m method=GET\nalert id=b msg=m method=GET'] }), 'ConfigError: config.rules[0]: holds a line break: give one rule per element');
  t.is(refused({ rules: ['alert id=a msg=m method=GET', 'alert id=a msg=n method=PUT'] }), 'ConfigError: config.rules[1]: column 10: rule id "a" is already used on line 1');
});

test('a rules file that cannot be read is refused', (t) => {
  t.is(refused({ rules: dir }), `ConfigError: config.rules: cannot read rules file "${dir}": EISDIR: illegal operation on a directory, read`);
});

test('a rule that does not parse is refused with its file, line and column', (t) => {
  const file = rulesFile('bad.rules', '# ok\nalert id=a msg=m uri~"/x"\nalert id=b msg=m uri~"/y" hots="example.com"\n');
  t.is(refused({ rules: file }), `ConfigError: config.rules: ${file}:3:27: unknown option "hots" (known: id, msg, method, uri, host, ua, payload)`);
});

test('thresholds that are not positive integers are refused', (t) => {
  t.is(refused({ portScanThreshold: 0 }), 'ConfigError: config.portScanThreshold: must be a positive integer no greater than 10000, got 0');
  t.is(refused({ portScanThreshold: 2.5 }), 'ConfigError: config.portScanThreshold: must be a positive integer no greater than 10000, got 2.5');
  t.is(refused({ portScanThreshold: '100' }), 'ConfigError: config.portScanThreshold: must be a positive integer no greater than 10000, got "100"');
  t.is(refused({ distributedScanThreshold: -3 }), 'ConfigError: config.distributedScanThreshold: must be a positive integer no greater than 10000, got -3');
  t.is(refused({ distributedScanThreshold: 10001 }), 'ConfigError: config.distributedScanThreshold: must be a positive integer no greater than 10000, got 10001');
});

test('a window that is not a positive number is refused', (t) => {
  t.is(refused({ scanWindow: 0 }), 'ConfigError: config.scanWindow: must be a positive number of seconds, got 0');
  t.is(refused({ scanWindow: -60 }), 'ConfigError: config.scanWindow: must be a positive number of seconds, got -60');
  t.is(refused({ scanWindow: '60' }), 'ConfigError: config.scanWindow: must be a positive number of seconds, got "60"');
  t.is(refused({ scanWindow: null }), 'ConfigError: config.scanWindow: must be a positive number of seconds, got null');
  t.is(refused({ reassemblyBytes: -1 }), 'ConfigError: config.reassemblyBytes: must be an integer from 0 to 16777216, got -1');
  t.is(refused({ reassemblyBytes: 1.5 }), 'ConfigError: config.reassemblyBytes: must be an integer from 0 to 16777216, got 1.5');
  t.is(refused({ reassemblyBytes: 2 ** 24 + 1 }), 'ConfigError: config.reassemblyBytes: must be an integer from 0 to 16777216, got 16777217');
  t.is(refused({ reassemblyBytes: 0 }), 'accepted');
});

test('an unknown configuration field is refused', (t) => {
  t.is(refused({ window: 60 }), 'ConfigError: config.window: unknown setting for the ids (known: rules, portScanThreshold, distributedScanThreshold, scanWindow, reassemblyBytes)');
});

test('put-config with a bad rules file is refused and keeps the running configuration', (t) => {
  const mb = new MiddleboxInstance(ids, {});
  const file = rulesFile('bad2.rules', 'alert id=a msg=m uri~"/x\n');
  const replies: Record<string, unknown>[] = [];
  mb.handle({ id: 1, type: 'put-config', values: { rules: file } }, (m) => replies.push(m));
  mb.handle({ id: 2, type: 'get-config' }, (m) => replies.push(m));
  t.deepEqual(replies, [
    { type: 'error', id: 1, cause: 'malformed', message: `config.rules: ${file}:1:22: string is not closed with "` },
    { type: 'config', id: 2, values: DEFAULT_CONFIG, generation: 0 },
  ]);
});
