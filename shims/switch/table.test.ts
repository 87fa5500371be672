import test from 'ava';
import { decode } from '../flow/decode.js';
import { packetHash } from '../flow/hash.js';
import type { Rule } from '../protocol/messages.js';
import { tcpFrame } from '../traffic/frames.js';
import { FlowTable, TableError } from './table.js';

const rule = (id: string, priority: number, match: Rule['match'] = {}, instance = id): Rule =>
  ({ id, priority, match, action: { type: 'forward', instance } });

const web = tcpFrame({ src: '10.0.0.1', dst: '192.0.2.1', sport: 40000, dport: 80, flags: 0x02, seq: 1, ack: 0, payload: new Uint8Array(0) });
const ssh = tcpFrame({ src: '10.0.0.1', dst: '192.0.2.1', sport: 40001, dport: 22, flags: 0x02, seq: 1, ack: 0, payload: new Uint8Array(0) });
const hit = (table: FlowTable, f: Buffer, inPort = 1) => table.lookup(f, decode(f), inPort)?.rule.id ?? null;

test('the highest priority wins; ties go to the earlier rule; a miss is null', (t) => {
  const table = new FlowTable();
  t.is(hit(table, web), null);
  table.apply([
    { op: 'add', rule: rule('any-low', 1) },
    { op: 'add', rule: rule('web', 100, { tpDst: 80 }) },
    { op: 'add', rule: rule('first-10', 10, { nwSrc: '10.0.0.0/8' }) },
    { op: 'add', rule: rule('second-10', 10, { nwProto: 'tcp' }) },
  ]);
  t.is(hit(table, web), 'web');
  t.is(hit(table, ssh), 'first-10');
  t.deepEqual(table.rules().map((r) => r.id), ['web', 'first-10', 'second-10', 'any-low']);
  table.apply([{ op: 'delete', ruleId: 'any-low' }, { op: 'delete', ruleId: 'first-10' }, { op: 'delete', ruleId: 'second-10' }]);
  t.is(hit(table, ssh), null);
  t.is(hit(table, web), 'web');
});

test('a batch with one invalid change changes nothing', (t) => {
  const table = new FlowTable();
  t.is(table.apply([{ op: 'add', rule: rule('a', 5) }]), 1);
  t.throws(() => table.apply([
    { op: 'delete', ruleId: 'a' },
    { op: 'add', rule: rule('b', 9) },
    { op: 'add', rule: rule('bad', 9, { nwSrc: '10.0.0.0/40' }) },
  ]), { instanceOf: TableError, message: /^changes\[2\]\.rule\.match\.nwSrc: .*prefix length 40 exceeds 32/ });
  t.is(table.version, 1);
  t.deepEqual(table.rules().map((r) => r.id), ['a']);
  t.is(hit(table, web), 'a');
});

test('adding an existing id modifies it in place, keeping counters and tie order', (t) => {
  const table = new FlowTable();
  table.apply([{ op: 'add', rule: rule('x', 10) }, { op: 'add', rule: rule('y', 10) }]);
  const e = table.lookup(web, decode(web), 1)!;
  e.packets += 3; // as the switch counts what a rule forwarded
  e.bytes += 180;
  t.is(table.apply([{ op: 'add', rule: rule('x', 10, { tpDst: 80 }, 'elsewhere') }]), 2);
  t.deepEqual(table.counters(), [{ id: 'x', packets: 3, bytes: 180 }, { id: 'y', packets: 0, bytes: 0 }]);
  t.deepEqual(table.rules()[0], rule('x', 10, { tpDst: 80 }, 'elsewhere'));
  t.is(hit(table, web), 'x'); // still ahead of y, which was added later
  t.is(hit(table, ssh), 'y'); // the new match is in force
});

test('deleting an unknown rule names the change', (t) => {
  const table = new FlowTable();
  table.apply([{ op: 'add', rule: rule('a', 1) }]);
  t.throws(() => table.apply([{ op: 'delete', ruleId: 'a' }, { op: 'delete', ruleId: 'nope' }]), {
    instanceOf: TableError, message: 'changes[1].ruleId: no rule "nope"',
  });
  t.is(table.version, 1);
  t.deepEqual(table.rules().map((r) => r.id), ['a']);
});

test('replace-all swaps the whole table', (t) => {
  const table = new FlowTable();
  table.apply([{ op: 'add', rule: rule('old-web', 50, { tpDst: 80 }) }, { op: 'add', rule: rule('old-any', 1) }]);
  t.is(table.apply([{ op: 'replace-all', rules: [rule('ssh', 20, { tpDst: 22 }), rule('rest', 0)] }, { op: 'add', rule: rule('later', 0) }]), 2);
  t.deepEqual(table.rules().map((r) => r.id), ['ssh', 'rest', 'later']);
  t.is(hit(table, web), 'rest');
  t.is(hit(table, ssh), 'ssh');
  t.throws(() => table.apply([{ op: 'replace-all', rules: [rule('ok', 1), rule('bad', 1, { vlan: 5000 })] }]), {
    message: /^changes\[0\]\.rules\[1\]\.match\.vlan: /,
  });
  t.deepEqual(table.rules().map((r) => r.id), ['ssh', 'rest', 'later']);
  t.is(table.version, 2);
});

test('a pool\'s table (pins, one bucket rule per instance, the non-IP fallback) is indexed and steers by bucket', (t) => {
  const table = new FlowTable();
  const buckets = (ids: number[]) => ({ buckets: { key: 'flow' as const, of: 4, ids } });
  table.apply([{ op: 'replace-all', rules: [
    rule('pin-ssh', 200, { nwSrc: '10.0.0.1', nwDst: '192.0.2.1', tpSrc: 40001, tpDst: 22, nwProto: 'tcp' }, 'i9'),
    rule('buckets-i0', 100, buckets([0, 2]), 'i0'),
    rule('buckets-i1', 100, buckets([1, 3]), 'i1'),
    rule('non-ip', 0, {}, 'i0'),
  ] }]);
  t.true(table.indexed);
  const owner = (f: Buffer) => `buckets-i${packetHash('flow', [], f, decode(f)) % 4 % 2}`;
  t.is(hit(table, web), owner(web));
  t.is(hit(table, ssh), 'pin-ssh');
  const arp = Buffer.alloc(42);
  arp.writeUInt16BE(0x0806, 12);
  t.is(hit(table, arp), 'non-ip');
  table.apply([{ op: 'delete', ruleId: 'non-ip' }]);
  t.is(hit(table, arp), null);
  t.is(hit(table, web), owner(web));
});

test('tables the index does not fit are scanned, with the same semantics', (t) => {
  const table = new FlowTable();
  const all = { buckets: { key: 'flow' as const, of: 2, ids: [0, 1] } };
  table.apply([{ op: 'add', rule: rule('b-high', 100, all) }, { op: 'add', rule: rule('b-low', 50, all) }]);
  t.false(table.indexed, 'bucket rules at two priorities');
  t.is(hit(table, web), 'b-high');
  table.apply([{ op: 'replace-all', rules: [rule('first', 100, { tpDst: 80 }), rule('b', 100, all)] }]);
  t.false(table.indexed, 'another rule at the bucket rules\' priority');
  t.is(hit(table, web), 'first');
  t.is(hit(table, ssh), 'b');
  table.apply([{ op: 'replace-all', rules: [rule('flow', 100, all), rule('host', 100, { buckets: { key: 'host', of: 2, ids: [0, 1] } })] }]);
  t.false(table.indexed, 'two partitions');
  t.is(hit(table, web), 'flow');
});
