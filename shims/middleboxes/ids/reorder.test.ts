/**
 * The ids gives the same outputs when a flow's packets arrive out of order the way a loss-free
 * move delivers them: held packets released after newer ones. Every shared capture is run in order
 * and with such a perturbation; synthetic conversations check each mechanism (originator, states,
 * reassembly, alert times, scan attempts) on its own.
 */
import test from 'ava';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { decode, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from '../../flow/decode.js';
import { packetFlow } from '../../flow/key.js';
import { readCaptureFile } from '../../flow/pcap.js';
import type { WirePacket } from '../../protocol/packets.js';
import { MiddleboxInstance } from '../../shim/runtime.js';
import { moveState } from '../../shim/in-process.js';
import { tcpFrame } from '../../traffic/frames.js';
import { tracesDir } from '../../traffic/trace-dir.js';
import { type IdsAlert, type IdsConnection, ids } from './ids.js';
import type { Conn, HostRecord } from './state.js';

interface Outputs {
  alerts: IdsAlert[];
  connections: IdsConnection[];
  counters: { packets: number; connections: number; httpRequests: number; alerts: Record<string, number> };
}

function instance(config: Record<string, unknown> = {}): MiddleboxInstance {
  return new MiddleboxInstance(ids, config);
}

function run(packets: readonly WirePacket[], config: Record<string, unknown> = {}): Outputs {
  const mb = instance(config);
  for (const p of packets) mb.receive(p);
  return mb.outputs() as unknown as Outputs;
}

/** A small deterministic generator (mulberry32), so every run perturbs the same way. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * The arrival order of a loss-free move, `cuts` times over: at a cut, each flow with a packet in
 * what follows is picked with probability 1/2 and has its next k (1-30) packets held; they are
 * released, in their own order, after the next m (1-50) packets that were not held. Returns the
 * packets in arrival order, where the cuts fell in it, and how many packets arrived after a later
 * packet of their own flow.
 */
function lossFreeOrder<T>(packets: readonly T[], flows: readonly (string | null)[], seed: number, cuts = 5): { order: T[]; cutsAt: number[]; late: number } {
  const rand = random(seed);
  const n = packets.length;
  const points = Array.from({ length: cuts }, () => Math.floor(rand() * n)).sort((x, y) => x - y);
  const order: T[] = [];
  const cutsAt: number[] = [];
  let late = 0;
  let i = 0;
  for (const cut of points) {
    if (cut < i) continue;
    while (i < cut) order.push(packets[i++]);
    cutsAt.push(order.length);
    const m = 1 + Math.floor(rand() * 50);
    const holdLeft = new Map<string, number>();
    const held: number[] = [];
    const passed = new Set<string>();
    for (let processed = 0; i < n && processed < m; i++) {
      const f = flows[i];
      if (f !== null && !holdLeft.has(f)) holdLeft.set(f, rand() < 0.5 ? 1 + Math.floor(rand() * 30) : 0);
      const k = f === null ? 0 : holdLeft.get(f)!;
      if (k > 0) {
        held.push(i);
        holdLeft.set(f!, k - 1);
      } else {
        order.push(packets[i]);
        if (f !== null) passed.add(f);
        processed++;
      }
    }
    for (const h of held) {
      if (passed.has(flows[h]!)) late++;
      order.push(packets[h]);
    }
  }
  while (i < n) order.push(packets[i++]);
  return { order, cutsAt, late };
}


/** Runs packets in the order given, moving all state to a fresh instance at each of `movesAt`. */
function runMoving(packets: readonly WirePacket[], movesAt: number[]): Outputs {
  let mb = instance();
  packets.forEach((p, i) => {
    if (movesAt.includes(i)) {
      const next = instance();
      moveState(mb, next);
      mb = next;
    }
    mb.receive(p);
  });
  return mb.outputs() as unknown as Outputs;
}

const traces = readdirSync(tracesDir()).filter((f) => /\.pcap(ng)?$/.test(f)).sort();

for (const trace of traces) {
  test(`${trace}: the same outputs when packets arrive as loss-free moves release them`, (t) => {
    const packets = readCaptureFile(join(tracesDir(), trace)).packets.map((c, i): WirePacket => ({ ...c, seq: i, ingressMs: 0 }));
    const flows = packets.map((p) => packetFlow(p.data, decode(p.data, p.linkType))?.id ?? null);
    const reference = run(packets);
    let late = 0;
    for (let seed = 1; seed <= 3; seed++) {
      const perturbed = lossFreeOrder(packets, flows, seed * 7919 + trace.length);
      t.is(perturbed.order.length, packets.length);
      late += perturbed.late;
      t.deepEqual(run(perturbed.order), reference, `seed ${seed}`);
    }
    // With the state itself moved to a fresh instance at each cut, as the moves do.
    const perturbed = lossFreeOrder(packets, flows, 4 * 7919 + trace.length);
    t.deepEqual(runMoving(perturbed.order, perturbed.cutsAt), reference, 'seed 4, state moved at the cuts');
    t.log(`${late} packets arrived after a later packet of their flow`);
  });
}

test('the perturbation reorders packets within flows', (t) => {
  const packets = Array.from({ length: 2000 }, (_, i) => i);
  const flows = packets.map((i) => `f${i % 7}`);
  const { order, late } = lossFreeOrder(packets, flows, 42);
  t.deepEqual([...order].sort((x, y) => x - y), packets);
  t.true(late > 0);
  // Each flow's held packets keep their own order.
  const byFlow = new Map<string, number[]>();
  for (const p of order) byFlow.set(flows[p], [...(byFlow.get(flows[p]) ?? []), p]);
  t.true([...byFlow.values()].some((l) => l.some((p, j) => j > 0 && p < l[j - 1])));
});

// --- Synthetic conversations: client C (endpoint b) and server S (endpoint a).

const C = '10.0.0.2';
const S = '10.0.0.1';
const ISN_C = 1000;
const ISN_S = 0xfffffff0; // the server's sequence numbers wrap around 2^32

interface Step {
  from: 'c' | 's';
  flags: number;
  /** Sequence number relative to the sender's ISN. */
  rel: number;
  data?: string;
}

/** The conversation as captured, 10 ms apart. */
function capture(steps: Step[], cport = 40000, sport = 80): WirePacket[] {
  return steps.map((st, i) => {
    const client = st.from === 'c';
    const data = tcpFrame({
      src: client ? C : S, dst: client ? S : C, sport: client ? cport : sport, dport: client ? sport : cport,
      flags: st.flags, seq: ((client ? ISN_C : ISN_S) + st.rel) >>> 0, ack: 0, payload: Buffer.from(st.data ?? '', 'latin1'),
    });
    return { seq: i, tsSec: 100, tsNsec: i * 10_000_000, ingressMs: 0, origLen: data.length, linkType: 1, inPort: 0, data };
  });
}

function udpFrame(src: string, dst: string, sport: number, dport: number, payload: string): Buffer {
  const body = Buffer.from(payload, 'latin1');
  const f = Buffer.alloc(14 + 20 + 8 + body.length);
  f.set([0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1], 0);
  f.writeUInt16BE(0x0800, 12);
  f[14] = 0x45;
  f.writeUInt16BE(20 + 8 + body.length, 16);
  f[22] = 64;
  f[23] = 17;
  f.set(src.split('.').map(Number), 26);
  f.set(dst.split('.').map(Number), 30);
  f.writeUInt16BE(sport, 34);
  f.writeUInt16BE(dport, 36);
  f.writeUInt16BE(8 + body.length, 38);
  body.copy(f, 42);
  return f;
}

function ts(p: WirePacket): number {
  return p.tsSec + p.tsNsec / 1e9;
}

/** The outputs in capture order, after checking that every arrival order given yields them too. */
function sameInEveryOrder(t: { deepEqual(a: unknown, b: unknown, m?: string): void }, packets: WirePacket[], orders: number[][], config: Record<string, unknown> = {}): Outputs {
  const reference = run(packets, config);
  for (const order of orders) t.deepEqual(run(order.map((i) => packets[i]), config), reference, `arrival order ${order.join(',')}`);
  return reference;
}

const SYN: Step = { from: 'c', flags: TCP_SYN, rel: 0 };
const SYNACK: Step = { from: 's', flags: TCP_SYN | TCP_ACK, rel: 0 };
const ACK: Step = { from: 'c', flags: TCP_ACK, rel: 1 };
const REQ = 'GET /cgi-bin/../../etc/passwd HTTP/1.1\r\nHost: victim\r\nUser-Agent: sqlmap/1.7\r\n\r\n';
const RESP = 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n';

test('a connection opened during a move: its SYN-ACK, data and ACKs before its SYN', (t) => {
  const packets = capture([
    SYN, SYNACK, ACK,
    { from: 'c', flags: TCP_ACK | TCP_PSH, rel: 1, data: REQ.slice(0, 30) },
    { from: 'c', flags: TCP_ACK | TCP_PSH, rel: 31, data: REQ.slice(30) },
    { from: 's', flags: TCP_ACK | TCP_PSH, rel: 1, data: RESP },
    { from: 'c', flags: TCP_ACK | TCP_FIN, rel: 1 + REQ.length },
    { from: 's', flags: TCP_ACK | TCP_FIN, rel: 1 + RESP.length },
    { from: 'c', flags: TCP_ACK, rel: 2 + REQ.length },
  ]);
  const o = sameInEveryOrder(t, packets, [
    [1, 2, 3, 4, 5, 0, 6, 7, 8], // the SYN held
    [2, 3, 4, 5, 6, 7, 8, 0, 1], // SYN and SYN-ACK held
    [4, 5, 1, 3, 2, 0, 8, 7, 6],
    [8, 7, 6, 5, 4, 3, 2, 1, 0],
  ]);
  t.deepEqual(o.connections, [{
    proto: 'tcp', a: { ip: S, port: 80 }, b: { ip: C, port: 40000 }, client: 'b', duration: 0.08,
    origBytes: REQ.length, respBytes: RESP.length, origPackets: 6, respPackets: 3, state: 'SF', httpRequests: 1,
  }]);
  // The request completed with packet 4, which holds its last byte.
  t.deepEqual(o.alerts.map((a) => [a.rule, a.ts]), [['http-etc-passwd', ts(packets[4])], ['http-path-traversal', ts(packets[4])], ['scanner-sqlmap', ts(packets[4])]]);
});

test('a retransmission that arrives before its original: the alert keeps the original\'s time', (t) => {
  const repacked = REQ.slice(20);
  const packets = capture([
    SYN, SYNACK, ACK,
    { from: 'c', flags: TCP_ACK | TCP_PSH, rel: 1, data: REQ.slice(0, 20) },
    { from: 'c', flags: TCP_ACK | TCP_PSH, rel: 21, data: REQ.slice(20) }, // the original, held
    { from: 'c', flags: TCP_ACK | TCP_PSH, rel: 21, data: repacked }, // the retransmission
    { from: 'c', flags: TCP_ACK | TCP_PSH, rel: 11, data: REQ.slice(10) }, // a repacked one, overlapping both
  ]);
  const o = sameInEveryOrder(t, packets, [[0, 1, 2, 3, 5, 6, 4], [0, 1, 2, 5, 6, 4, 3], [0, 1, 2, 6, 5, 3, 4], [6, 5, 4, 3, 2, 1, 0]]);
  t.deepEqual(o.alerts.map((a) => a.ts), [ts(packets[4]), ts(packets[4]), ts(packets[4])]);
  t.is(o.connections[0].httpRequests, 1);
});

test('a payload rule keeps the earliest matching packet, whatever arrives first', (t) => {
  const body = 'POST /ctl HTTP/1.1\r\nContent-Length: 30\r\n\r\n<m:AddPortMapping xmlns:m="x">';
  const packets = capture([
    SYN, SYNACK, ACK,
    { from: 'c', flags: TCP_ACK | TCP_PSH, rel: 1, data: body },
    { from: 'c', flags: TCP_ACK | TCP_PSH, rel: 1, data: body }, // retransmitted
  ], 40000, 5000);
  const o = sameInEveryOrder(t, packets, [[0, 1, 2, 4, 3], [4, 3, 2, 1, 0]]);
  t.deepEqual(o.alerts, [{
    ts: ts(packets[3]), rule: 'upnp-add-port-mapping', flow: { proto: 'tcp', a: { ip: S, port: 5000 }, b: { ip: C, port: 40000 } },
    detail: 'UPnP AddPortMapping: a host opens a port on its gateway (originator payload)',
  }]);
});

test('teardown states from flag sets and the times of FINs and RSTs, not from arrival order', (t) => {
  const FIN_C: Step = { from: 'c', flags: TCP_FIN | TCP_ACK, rel: 1 };
  const FIN_S: Step = { from: 's', flags: TCP_FIN | TCP_ACK, rel: 1 };
  const RST_C: Step = { from: 'c', flags: TCP_RST, rel: 2 };
  const all = (n: number) => [Array.from({ length: n }, (_, i) => n - 1 - i), [...Array.from({ length: n - 2 }, (_, i) => i + 2), 1, 0]];
  const cases: [Step[], string][] = [
    [[SYN, SYNACK, ACK, FIN_C, FIN_S, RST_C], 'SF'],
    [[SYN, SYNACK, ACK, FIN_C, RST_C, FIN_S], 'RSTO'],
    [[SYN, { from: 's', flags: TCP_RST | TCP_ACK, rel: 1 }], 'REJ'],
    [[SYN, { from: 'c', flags: TCP_RST, rel: 1 }], 'RSTOS0'],
    [[SYN, SYNACK, { from: 's', flags: TCP_FIN | TCP_ACK, rel: 1 }], 'S3'],
    [[SYNACK, { from: 's', flags: TCP_RST, rel: 1 }], 'RSTRH'],
    [[SYN, { from: 's', flags: TCP_ACK, rel: 1 }], 'S0'],
  ];
  for (const [steps, state] of cases) {
    const o = sameInEveryOrder(t, capture(steps), all(steps.length));
    t.is(o.connections[0].state, state);
  }
});

test('a midstream connection: the originator is the side seen first in capture time, its requests parsed from the lowest sequence number', (t) => {
  const packets = capture([
    { from: 'c', flags: TCP_ACK | TCP_PSH, rel: 500, data: REQ.slice(0, 40) },
    { from: 'c', flags: TCP_ACK | TCP_PSH, rel: 540, data: REQ.slice(40) },
    { from: 's', flags: TCP_ACK | TCP_PSH, rel: 900, data: RESP },
    { from: 'c', flags: TCP_ACK | TCP_PSH, rel: 500 + REQ.length, data: 'GET /next HTTP/1.1\r\n\r\n' },
  ]);
  const o = sameInEveryOrder(t, packets, [[2, 1, 0, 3], [2, 3, 1, 0], [3, 2, 1, 0]]);
  t.deepEqual([o.connections[0].client, o.connections[0].state, o.connections[0].httpRequests], ['b', 'OTH', 2]);
  t.is(o.alerts[0].ts, ts(packets[1]));
});

test('a gap that never fills is given up when the outputs are read, as the connection ended then', (t) => {
  const lost = 'GET /lost HTTP/1.1\r\nHost: a\r\n\r\n';
  const packets = capture([
    SYN, SYNACK, ACK,
    // The segment with `lost` is missing from the capture.
    { from: 'c', flags: TCP_ACK | TCP_PSH, rel: 1 + lost.length, data: 'GET /etc/passwd HTTP/1.1\r\n\r\n' },
  ]);
  const mb = instance();
  for (const p of packets) mb.receive(p);
  const waiting = (mb.tables.flows.map.values().next().value!.state as Conn).b.stream!;
  t.is(waiting.pieces.length, 1, 'the segment after the gap waits');
  const o = mb.outputs() as unknown as Outputs;
  t.deepEqual([o.connections[0].httpRequests, o.counters.httpRequests, o.alerts.map((a) => a.rule)], [1, 1, ['http-etc-passwd']]);
  t.is(waiting.pieces.length, 1, 'reading the outputs changed no state');
  t.deepEqual(o, sameInEveryOrder(t, packets, [[0, 3, 1, 2]]));
});

test('missing bytes inside a request body are no gap: the next request is parsed at once', (t) => {
  const post = 'POST /form HTTP/1.1\r\nContent-Length: 20\r\n\r\n';
  const packets = capture([
    SYN, SYNACK, ACK,
    { from: 'c', flags: TCP_ACK | TCP_PSH, rel: 1, data: post },
    // 20 body bytes at rel 1 + post.length are missing.
    { from: 'c', flags: TCP_ACK | TCP_PSH, rel: 21 + post.length, data: 'GET /etc/passwd HTTP/1.1\r\n\r\n' },
  ]);
  const mb = instance();
  for (const p of packets) mb.receive(p);
  const c = mb.tables.flows.map.values().next().value!.state as Conn;
  t.deepEqual([c.b.requests, c.b.stream!.pieces.length], [2, 0]);
  t.is((mb.outputs() as unknown as Outputs).alerts.length, 1);
});

test('past the reassembly limit a gap is given up', (t) => {
  const packets = capture([
    SYN, SYNACK, ACK,
    // 10 bytes at rel 1 are missing.
    { from: 'c', flags: TCP_ACK | TCP_PSH, rel: 11, data: 'GET /a HTTP/1.1\r\n\r\n' },
    { from: 'c', flags: TCP_ACK | TCP_PSH, rel: 30, data: 'GET /b HTTP/1.1\r\n\r\n' },
    { from: 'c', flags: TCP_ACK | TCP_PSH, rel: 49, data: 'GET /c HTTP/1.1\r\n\r\n' },
  ]);
  const mb = instance({ reassemblyBytes: 50 });
  for (const p of packets.slice(0, 5)) mb.receive(p);
  const c = mb.tables.flows.map.values().next().value!.state as Conn;
  t.deepEqual([c.b.requests, c.b.stream!.held], [0, 38]);
  mb.receive(packets[5]);
  t.deepEqual([c.b.requests, c.b.stream!.held, c.b.stream!.next], [3, 0, 67]);
});

test('a UDP answer that arrives before its question: the attempt is the question\'s', (t) => {
  const packets: WirePacket[] = [];
  const add = (src: string, dst: string, sport: number, dport: number, payload: string) => {
    const data = udpFrame(src, dst, sport, dport, payload);
    packets.push({ seq: packets.length, tsSec: 200, tsNsec: packets.length * 1_000_000, ingressMs: 0, origLen: data.length, linkType: 1, inPort: 0, data });
  };
  for (const [client, port] of [['10.0.0.7', 5353], ['10.0.0.8', 5354], ['10.0.0.9', 5355]] as const) {
    add(client, '10.0.0.53', port, 53, 'question');
    add('10.0.0.53', client, 53, port, 'answer');
  }
  const config = { distributedScanThreshold: 2 };
  const o = sameInEveryOrder(t, packets, [[1, 0, 3, 2, 5, 4], [5, 3, 1, 4, 2, 0], [1, 3, 5, 0, 2, 4]], config);
  t.deepEqual(o.alerts, [{ ts: ts(packets[4]), rule: 'DistributedScan', host: '10.0.0.53', detail: 'more than 2 distinct sources within 60 s' }]);
  t.deepEqual(o.connections.map((c) => [c.client, c.state]), [['a', 'SF'], ['a', 'SF'], ['a', 'SF']]);
  // The server tried nobody: the attempts first recorded for its answers were withdrawn.
  const mb = instance(config);
  for (const i of [1, 3, 5, 0, 2, 4]) mb.receive(packets[i]);
  const server = mb.tables.groups.get('10.0.0.53') as HostRecord;
  t.deepEqual(server.targets?.log ?? [], []);
});
