import test from 'ava';
import { HTTP_BODY } from './http.js';
import { type Conn, connCodec, countersCodec, hostCodec, insertAlert, newConn, TCP_ESTABLISHED, TCP_SYN_SENT } from './state.js';

function sample(): Conn {
  const c = newConn('b', 12.5);
  Object.assign(c, { last: 13.25, origPackets: 3, respPackets: 2, origBytes: 40, respBytes: 900, origState: TCP_SYN_SENT, respState: TCP_ESTABLISHED, origSyn: true, origNext: 0xffffffff, respNext: 7 });
  c.http = { mode: HTTP_BODY, skip: 12, pending: Buffer.from('GET / HT\x00\xff', 'latin1') };
  c.httpRequests = 1;
  c.alerts = [{ ts: 13, rule: 'r1', detail: 'd' }];
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
  t.deepEqual(json, ['b', 12.5, 13.25, 3, 2, 40, 900, 1, 4, 1, 0xffffffff, 7, 2, 12, 'R0VUIC8gSFQA/w==', 1, [[13, 'r1', 'd']]]);
  t.deepEqual(connCodec.decode(json), c);
});

test('connection decode names what is wrong', (t) => {
  const good = connCodec.encode(sample()) as unknown[];
  const with_ = (i: number, v: unknown) => good.map((x, j) => (j === i ? v : x));
  t.is(decodeError({}), 'connection state must be an array of 17 fields [client, first, last, ...]');
  t.is(decodeError(with_(0, 'c')), 'client must be "a" or "b", got "c"');
  t.is(decodeError(with_(3, -1)), 'packet, byte and request counters must be non-negative integers');
  t.is(decodeError(with_(7, 7)), 'TCP endpoint states must be 0-6');
  t.is(decodeError(with_(10, 2 ** 32)), 'sequence numbers must be 32-bit unsigned integers or -1');
  t.is(decodeError(with_(12, 4)), 'HTTP mode must be 0-3 and skip a non-negative integer');
  t.is(decodeError(with_(14, 'not base64!')), 'HTTP pending bytes must be 1-8192 bytes in base64');
  t.is(decodeError(with_(14, Buffer.alloc(8193).toString('base64'))), 'HTTP pending bytes must be 1-8192 bytes in base64');
  t.is(decodeError(with_(16, [[1, 'r']])), 'alerts: [1,"r"] is not an alert [ts, rule, detail]');
});

test('host decode names what is wrong', (t) => {
  const h = { targets: [['a', 2], ['b', 1]], sources: null, lastPortScan: null, lastDistributedScan: null, alerts: [] };
  t.is(decodeError(h, hostCodec), 'targets: times must not decrease, 1 follows 2');
  t.is(decodeError({ ...h, targets: [['a', 1], ['a', 2]] }, hostCodec), 'targets: key "a" appears twice');
  t.is(decodeError({ ...h, targets: null, extra: 1 }, hostCodec), 'host state has an unknown field "extra"');
  t.is(decodeError({ ...h, targets: null, lastPortScan: 'x' }, hostCodec), 'lastPortScan must be a timestamp or null');
  t.is(decodeError({ ...h, targets: null, alerts: [[2, 'PortScan', ''], [1, 'PortScan', '']] }, hostCodec), 'host alerts must be sorted');
});

test('counters add on merge, in any order, and decode what they encode', (t) => {
  const x = { packets: 5, connections: 2, httpRequests: 1, alerts: new Map([['b', 1], ['PortScan', 2]]) };
  const y = { packets: 7, connections: 1, httpRequests: 0, alerts: new Map([['a', 3], ['b', 4]]) };
  const xy = countersCodec.encode(countersCodec.merge(countersCodec.decode(countersCodec.encode(x)), y));
  const yx = countersCodec.encode(countersCodec.merge(countersCodec.decode(countersCodec.encode(y)), x));
  t.deepEqual(xy, { packets: 12, connections: 3, httpRequests: 1, alerts: [['PortScan', 2], ['a', 3], ['b', 5]] });
  t.deepEqual(yx, xy);
  t.is(decodeError({ ...(xy as object), alerts: [['a', 1], ['a', 2]] }, countersCodec), 'alerts: ["a",2] is not a [rule, count] pair with a rule named once');
  t.is(decodeError({ ...(xy as object), bytes: 1 }, countersCodec), 'counters have an unknown field "bytes"');
});

test('sorted alert lists keep their earliest entries', (t) => {
  const list = [{ ts: 1, rule: 'a', detail: '' }, { ts: 3, rule: 'a', detail: '' }];
  insertAlert(list, { ts: 2, rule: 'a', detail: '' }, 3);
  insertAlert(list, { ts: 4, rule: 'a', detail: '' }, 3);
  insertAlert(list, { ts: 0, rule: 'a', detail: '' }, 3);
  t.deepEqual(list.map((a) => a.ts), [0, 1, 2]);
});
