/** Connection tracking and HTTP over TCP, on synthetic conversations through a whole instance. */
import test from 'ava';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from '../../flow/decode.js';
import type { WirePacket } from '../../protocol/packets.js';
import { MiddleboxInstance } from '../../shim/runtime.js';
import { tcpFrame } from '../../traffic/frames.js';
import { type IdsAlert, type IdsConnection, ids } from './ids.js';

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

function packets(steps: Step[], cport = 40000, sport = 80): WirePacket[] {
  return steps.map((st, i) => {
    const payload = Buffer.from(st.data ?? '', 'latin1');
    const client = st.from === 'c';
    const data = tcpFrame({
      src: client ? C : S, dst: client ? S : C, sport: client ? cport : sport, dport: client ? sport : cport,
      flags: st.flags, seq: ((client ? ISN_C : ISN_S) + st.rel) >>> 0, ack: 0, payload,
    });
    return { seq: i, tsSec: 100 + i, tsNsec: 0, ingressMs: 0, origLen: data.length, linkType: 1, inPort: 0, data };
  });
}

function run(steps: Step[], sport = 80): { connections: IdsConnection[]; alerts: IdsAlert[] } {
  const mb = new MiddleboxInstance(ids, {});
  for (const p of packets(steps, 40000, sport)) mb.receive(p);
  return mb.outputs() as { connections: IdsConnection[]; alerts: IdsAlert[] };
}

const SYN: Step = { from: 'c', flags: TCP_SYN, rel: 0 };
const SYNACK: Step = { from: 's', flags: TCP_SYN | TCP_ACK, rel: 0 };
const ACK: Step = { from: 'c', flags: TCP_ACK, rel: 1 };
const REQ = 'GET /cgi-bin/../../etc/passwd HTTP/1.1\r\nHost: victim\r\nUser-Agent: sqlmap/1.7\r\n\r\n';

function state(steps: Step[]): string {
  return run(steps).connections[0].state;
}

test('a complete connection with a request split across segments, a retransmission and FINs: SF', (t) => {
  const { connections, alerts } = run([
    SYN, SYNACK, ACK,
    { from: 'c', flags: TCP_ACK | TCP_PSH, rel: 1, data: REQ.slice(0, 30) },
    { from: 'c', flags: TCP_ACK | TCP_PSH, rel: 1, data: REQ.slice(0, 30) }, // retransmitted
    { from: 'c', flags: TCP_ACK | TCP_PSH, rel: 31, data: REQ.slice(30) },
    { from: 's', flags: TCP_ACK | TCP_PSH, rel: 1, data: 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n' },
    { from: 'c', flags: TCP_ACK | TCP_FIN, rel: 1 + REQ.length },
    { from: 's', flags: TCP_ACK | TCP_FIN, rel: 46 },
    { from: 'c', flags: TCP_ACK | TCP_FIN, rel: 1 + REQ.length }, // retransmitted FIN
  ]);
  t.deepEqual(connections, [{
    proto: 'tcp', a: { ip: S, port: 80 }, b: { ip: C, port: 40000 }, client: 'b', duration: 9,
    origBytes: REQ.length, respBytes: 45, origPackets: 7, respPackets: 3, state: 'SF', httpRequests: 1,
  }]);
  const flow = { proto: 'tcp', a: { ip: S, port: 80 }, b: { ip: C, port: 40000 } };
  t.deepEqual(alerts, [
    { ts: 105, rule: 'http-etc-passwd', flow, detail: 'request for /etc/passwd (GET /cgi-bin/../../etc/passwd, host victim)' },
    { ts: 105, rule: 'http-path-traversal', flow, detail: 'directory traversal in a URI (GET /cgi-bin/../../etc/passwd, host victim)' },
    { ts: 105, rule: 'scanner-sqlmap', flow, detail: 'HTTP request from sqlmap (SQL injection tool) (GET /cgi-bin/../../etc/passwd, host victim)' },
  ]);
});

test('a rule fires once per connection, however many requests match', (t) => {
  const two = 'GET /etc/passwd HTTP/1.1\r\n\r\nGET /etc/passwd HTTP/1.1\r\n\r\n';
  const { connections, alerts } = run([SYN, SYNACK, ACK, { from: 'c', flags: TCP_ACK, rel: 1, data: two }]);
  t.is(connections[0].httpRequests, 2);
  t.deepEqual(alerts.map((a) => a.rule), ['http-etc-passwd']);
});

test('a segment after a gap waits for the late segment before it; bytes are the sequence span', (t) => {
  const { connections, alerts } = run([
    SYN, SYNACK, ACK,
    { from: 'c', flags: TCP_ACK, rel: 11, data: 'c/passwd HTTP/1.1\r\n\r\n' },
    { from: 'c', flags: TCP_ACK, rel: 1, data: 'GET /../et' },
  ]);
  t.deepEqual([connections[0].origBytes, connections[0].httpRequests], [31, 1]);
  // The request completed with the segment that holds its last byte, though it arrived first.
  t.deepEqual(alerts.map((a) => [a.rule, a.ts]), [['http-etc-passwd', 103], ['http-path-traversal', 103]]);
});

test('bytes lost in the capture count, as in Zeek (the span of sequence numbers)', (t) => {
  const c = run([
    SYN, SYNACK, ACK,
    { from: 'c', flags: TCP_ACK, rel: 1, data: 'x'.repeat(10) },
    { from: 'c', flags: TCP_ACK, rel: 21, data: 'y'.repeat(10) }, // 10 bytes never seen before it
    { from: 'c', flags: TCP_ACK | TCP_FIN, rel: 31 },
  ]).connections[0];
  t.deepEqual([c.origBytes, c.respBytes, c.origPackets, c.respPackets], [30, 0, 5, 1]);
});

test('conn.log states of handshakes and teardowns', (t) => {
  t.is(state([SYN]), 'S0');
  t.is(state([SYN, SYNACK]), 'S1');
  t.is(state([SYN, SYNACK, ACK]), 'S1');
  t.is(state([SYN, { from: 's', flags: TCP_RST | TCP_ACK, rel: 1 }]), 'REJ');
  t.is(state([SYN, SYNACK, ACK, { from: 'c', flags: TCP_RST, rel: 1 }]), 'RSTO');
  t.is(state([SYN, SYNACK, ACK, { from: 's', flags: TCP_RST, rel: 1 }]), 'RSTR');
  t.is(state([SYN, { from: 'c', flags: TCP_RST, rel: 1 }]), 'RSTOS0');
  t.is(state([SYN, { from: 'c', flags: TCP_FIN, rel: 1 }]), 'SH');
  t.is(state([SYN, SYNACK, ACK, { from: 'c', flags: TCP_FIN | TCP_ACK, rel: 1 }]), 'S2');
  t.is(state([SYN, SYNACK, ACK, { from: 's', flags: TCP_FIN | TCP_ACK, rel: 1 }]), 'S3');
  t.is(state([SYNACK, { from: 's', flags: TCP_RST, rel: 1 }]), 'RSTRH');
  t.is(state([SYNACK, { from: 's', flags: TCP_FIN | TCP_ACK, rel: 1 }]), 'SHR');
  t.is(state([{ from: 'c', flags: TCP_ACK, rel: 5, data: 'x' }, { from: 's', flags: TCP_ACK, rel: 5, data: 'y' }]), 'OTH');
  // A RST after both FINs changes nothing; one before the peer's FIN resets.
  const FIN_C: Step = { from: 'c', flags: TCP_FIN | TCP_ACK, rel: 1 };
  const FIN_S: Step = { from: 's', flags: TCP_FIN | TCP_ACK, rel: 1 };
  t.is(state([SYN, SYNACK, ACK, FIN_C, FIN_S, { from: 'c', flags: TCP_RST, rel: 2 }]), 'SF');
  t.is(state([SYN, SYNACK, ACK, FIN_C, { from: 'c', flags: TCP_RST, rel: 2 }, FIN_S]), 'RSTO');
  t.is(state([SYN, SYNACK, ACK, FIN_C, { from: 's', flags: TCP_RST, rel: 1 }, FIN_S]), 'RSTR');
  // An ACK to the SYN before the SYN-ACK leaves the responder inactive; data does not.
  t.is(state([SYN, { from: 's', flags: TCP_ACK, rel: 1 }]), 'S0');
  t.is(state([SYN, { from: 's', flags: TCP_ACK, rel: 1, data: 'z' }]), 'OTH');
});

test('a connection first seen at its SYN-ACK has the SYN-ACK\'s receiver as originator', (t) => {
  const c = run([SYNACK, ACK]).connections[0];
  t.deepEqual([c.client, c.origPackets, c.respPackets, c.state], ['b', 1, 1, 'S1']);
});

test('HTTP on a port that is not an HTTP port needs a version in its first request line', (t) => {
  const withVersion = run([SYN, SYNACK, ACK, { from: 'c', flags: TCP_ACK, rel: 1, data: 'GET / HTTP/1.0\r\n\r\n' }], 5005);
  t.is(withVersion.connections[0].httpRequests, 1);
  const ftp = run([SYN, SYNACK, ACK, { from: 'c', flags: TCP_ACK, rel: 1, data: 'USER anonymous\r\n' }], 21);
  t.is(ftp.connections[0].httpRequests, 0);
});
