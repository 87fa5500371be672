import test from 'ava';
import { HTTP_BODY, HTTP_OFF } from './http.js';
import { hostCodec } from './scan.js';
import {
  type Conn, connCodec, countersCodec, insertAlert, newConn, SENT_ACK, SENT_DATA, SENT_FIN, SENT_SYN, SENT_SYNACK,
} from './state.js';

function sample(): Conn {
  const c = newConn();
  c.last = 13.25;
  Object.assign(c.a, { packets: 3, first: 12.5, flags: SENT_SYN | SENT_ACK | SENT_DATA | SENT_FIN, finTs: 13.25, base: 0xffffffff, lo: 1, hi: 41, start: 1, requests: 1 });
  c.a.stream = {
    next: 30, http: { mode: HTTP_BODY, skip: 12, pending: null },
    pieces: [{ off: 35, data: Buffer.from('GET / HT\x00\xff', 'latin1'), ts: 13 }, { off: 50, data: Buffer.from('x'), ts: 12.75 }], held: 11,
  };
  Object.assign(c.b, { packets: 2, first: 12.6, flags: SENT_SYNACK | SENT_DATA, base: 7, lo: 1, hi: 901, start: 1 });
  c.b.stream = { next: null, http: { mode: HTTP_OFF, skip: 0, pending: null }, pieces: [], held: 0 };
  c.alerts = [{ ts: 13, rule: 'r1', detail: 'd', side: 'a', at: 29 }, { ts: 12.5, rule: 'r2', detail: 'p', side: 'b', at: null }];
  return c;
}

function decodeError(j: unknown, codec: { decode(j: unknown): unknown } = connCodec): string {
  try {
    codec.decode(j);
  } catch (e) {
    return (e as Error).message;
  }
  return 'decoded';
}

test('a connection survives encode, JSON and decode unchanged', (t) => {
  const c = sample();
  const json = JSON.parse(JSON.stringify(connCodec.encode(c)));
  t.deepEqual(json, [
    13.25,
    [3, 12.5, 45, 13.25, -1, 0xffffffff, 1, 41, 1, 0, 1, [30, 2, 12, null, [[35, 'R0VUIC8gSFQA/w==', 13], [50, 'eA==', 12.75]]]],
    [2, 12.6, 34, -1, -1, 7, 1, 901, 1, 0, 0, [null, 3, 0, null, []]],
    [[13, 'r1', 'd', 'a', 29], [12.5, 'r2', 'p', 'b', null]],
    null,
  ]);
  t.deepEqual(connCodec.decode(json), c);
  const udp = newConn();
  udp.attempt = ['b', 4.5];
  t.deepEqual(connCodec.decode(JSON.parse(JSON.stringify(connCodec.encode(udp)))), udp);
});

test('connection decode names what is wrong', (t) => {
  const good = connCodec.encode(sample()) as unknown[];
  const with_ = (i: number, v: unknown) => good.map((x, j) => (j === i ? v : x));
  const side = good[1] as unknown[];
  const withSide = (i: number, v: unknown) => with_(1, side.map((x, j) => (j === i ? v : x)));
  const stream = side[11] as unknown[];
  const withStream = (i: number, v: unknown) => withSide(11, stream.map((x, j) => (j === i ? v : x)));
  t.is(decodeError({}), 'connection state must be an array of 5 fields [last, sideA, sideB, alerts, attempt]');
  t.is(decodeError(with_(0, 'x')), 'last must be a timestamp');
  t.is(decodeError(with_(2, [1])), 'side b must be an array of 12 fields [packets, first, flags, ...]');
  t.is(decodeError(withSide(0, -1)), 'side a: packet, byte and request counters must be non-negative integers');
  t.is(decodeError(withSide(1, -2)), 'side a: first, finTs and rstTs must be timestamps or -1');
  t.is(decodeError(withSide(2, 64)), 'side a: flags must be 0-63');
  t.is(decodeError(withSide(5, 2 ** 32)), 'side a: base must be a 32-bit unsigned sequence number or -1');
  t.is(decodeError(withSide(8, 1.5)), 'side a: lo, hi and start must be integer offsets');
  t.is(decodeError(withStream(1, 4)), 'HTTP mode must be 0-3 and skip a non-negative integer');
  t.is(decodeError(withStream(3, 'not base64!')), 'HTTP pending bytes must be 1-8192 bytes in base64');
  t.is(decodeError(withStream(3, Buffer.alloc(8193).toString('base64'))), 'HTTP pending bytes must be 1-8192 bytes in base64');
  t.is(decodeError(withStream(4, [[35, 'eA==', 1], [35, 'eA==', 1]])), 'stream pieces must be sorted and disjoint');
  t.is(decodeError(withStream(4, [[35, '', 1]])), 'a stream piece must be 1-16777216 bytes in base64');
  t.is(decodeError(withStream(1, 3)), 'a stream no longer parsed holds no pieces');
  t.is(decodeError(with_(3, [[1, 'r']])), 'alerts: [1,"r"] is not an alert [ts, rule, detail, side, at]');
  t.is(decodeError(with_(4, ['c', 1])), 'attempt must be [side, ts] or null');
});

test('host decode names what is wrong', (t) => {
  const log = { recent: null, last: null, log: [], provisional: [] };
  const h = { targets: { ...log, recent: [['a', 2], ['b', 1]] }, sources: null, alerts: [] };
  t.is(decodeError(h, hostCodec), 'targets.recent: times must not decrease, 1 follows 2');
  t.is(decodeError({ ...h, targets: { ...log, recent: [['a', 1], ['a', 2]] } }, hostCodec), 'targets.recent: key "a" appears twice');
  t.is(decodeError({ ...h, targets: { ...log, log: [['a', 2], ['b', 1]] } }, hostCodec), 'targets.log must be sorted by time, then key');
  t.is(decodeError({ ...h, targets: { ...log, log: [['b', 1], ['a', 1]] } }, hostCodec), 'targets.log must be sorted by time, then key');
  t.is(decodeError({ ...h, targets: { ...log, log: [['a']] } }, hostCodec), 'targets.log: ["a"] is not a [key, time] attempt');
  t.is(decodeError({ ...h, targets: { ...log, last: 'x' } }, hostCodec), 'targets.last must be a timestamp or null');
  t.is(decodeError({ ...h, targets: { ...log, extra: 1 } }, hostCodec), 'targets has an unknown field "extra"');
  t.is(decodeError({ ...h, targets: { ...log, provisional: [[2, 'PortScan', ''], [1, 'PortScan', '']] } }, hostCodec), 'targets.provisional must be sorted');
  t.is(decodeError({ ...h, targets: null, extra: 1 }, hostCodec), 'host state has an unknown field "extra"');
  t.is(decodeError({ ...h, targets: null, alerts: [[2, 'PortScan', ''], [1, 'PortScan', '']] }, hostCodec), 'host alerts must be sorted');
});

test('counters add on merge, in any order, and decode what they encode', (t) => {
  const x = { packets: 5, connections: 2, scanAlerts: new Map([['DistributedScan', 1], ['PortScan', 2]]) };
  const y = { packets: 7, connections: 1, scanAlerts: new Map([['PortScan', 4]]) };
  const xy = countersCodec.encode(countersCodec.merge(countersCodec.decode(countersCodec.encode(x)), y));
  const yx = countersCodec.encode(countersCodec.merge(countersCodec.decode(countersCodec.encode(y)), x));
  t.deepEqual(xy, { packets: 12, connections: 3, scanAlerts: [['DistributedScan', 1], ['PortScan', 6]] });
  t.deepEqual(yx, xy);
  t.is(decodeError({ ...(xy as object), scanAlerts: [['a', 1], ['a', 2]] }, countersCodec), 'scanAlerts: ["a",2] is not a [rule, count] pair with a rule named once');
  t.is(decodeError({ ...(xy as object), bytes: 1 }, countersCodec), 'counters have an unknown field "bytes"');
});

test('sorted alert lists keep their earliest entries', (t) => {
  const list = [{ ts: 1, rule: 'a', detail: '' }, { ts: 3, rule: 'a', detail: '' }];
  insertAlert(list, { ts: 2, rule: 'a', detail: '' }, 3);
  insertAlert(list, { ts: 4, rule: 'a', detail: '' }, 3);
  insertAlert(list, { ts: 0, rule: 'a', detail: '' }, 3);
  t.deepEqual(list.map((a) => a.ts), [0, 1, 2]);
});
