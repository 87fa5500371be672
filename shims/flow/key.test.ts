import test from 'ava';
import { parseIp } from './address.js';
import { decode } from './decode.js';
import { canonicalKey, flowId, packetFlow, type FlowKey } from './key.js';
import { tcpFrame } from '../traffic/frames.js';

const flowOf = (src: string, dst: string, sport: number, dport: number) => {
  const f = tcpFrame({ src, dst, sport, dport, flags: 0x02, seq: 1, ack: 0, payload: new Uint8Array(0) });
  return packetFlow(f, decode(f))!;
};

/** An Ethernet/IPv6/UDP frame. */
function udp6(src: string, dst: string, sport: number, dport: number): Buffer {
  const f = Buffer.alloc(14 + 40 + 8);
  f.writeUInt16BE(0x86dd, 12);
  f[14] = 0x60;
  f.writeUInt16BE(8, 18);
  f[20] = 17;
  f.set(parseIp(src)!, 22);
  f.set(parseIp(dst)!, 38);
  f.writeUInt16BE(sport, 54);
  f.writeUInt16BE(dport, 56);
  return f;
}

test('both directions of a flow share one key; forward tells them apart', (t) => {
  const out = flowOf('10.0.0.1', '10.0.0.2', 40000, 80);
  const back = flowOf('10.0.0.2', '10.0.0.1', 80, 40000);
  t.deepEqual(out, { id: '6 10.0.0.1 40000 10.0.0.2 80', key: { proto: 6, a: { ip: '10.0.0.1', port: 40000 }, b: { ip: '10.0.0.2', port: 80 } }, forward: true });
  t.deepEqual(back.key, out.key);
  t.is(back.id, out.id);
  t.false(back.forward);
});

test('addresses order by bytes, not by text; equal addresses order by port', (t) => {
  // "10..." sorts before "9..." as text, but 9 < 10 as a byte
  t.is(flowOf('10.0.0.1', '9.0.0.1', 1, 2).id, '6 9.0.0.1 2 10.0.0.1 1');
  t.is(flowOf('127.0.0.1', '127.0.0.1', 5000, 22).id, '6 127.0.0.1 22 127.0.0.1 5000');
  t.false(flowOf('127.0.0.1', '127.0.0.1', 5000, 22).forward);
  const v6 = (s: string, d: string) => { const f = udp6(s, d, 53, 5353); return packetFlow(f, decode(f))!; };
  t.is(v6('2001:db8::2', 'fe80::1').id, '17 2001:db8::2 53 fe80::1 5353');
  t.is(v6('fe80::1', '2001:db8::2').id, '17 2001:db8::2 5353 fe80::1 53');
});

test('canonicalKey orders a reversed key and normalizes IPv6 text', (t) => {
  const canon: FlowKey = { proto: 6, a: { ip: '9.0.0.1', port: 2 }, b: { ip: '10.0.0.1', port: 1 } };
  t.deepEqual(canonicalKey({ proto: 6, a: canon.b, b: canon.a }), canon);
  t.deepEqual(canonicalKey(canon), canon);
  const wire: FlowKey = { proto: 17, a: { ip: 'FE80:0:0:0:0:0:0:0001', port: 53 }, b: { ip: '2001:DB8::0:2', port: 5353 } };
  const want: FlowKey = { proto: 17, a: { ip: '2001:db8::2', port: 5353 }, b: { ip: 'fe80::1', port: 53 } };
  t.deepEqual(canonicalKey(wire), want);
  t.is(flowId(canonicalKey(wire)), '17 2001:db8::2 5353 fe80::1 53');
  // the same as the key a packet of that flow gets
  const f = udp6('fe80::1', '2001:db8::2', 53, 5353);
  t.deepEqual(packetFlow(f, decode(f))!.key, want);
  t.deepEqual(canonicalKey({ proto: 6, a: { ip: '::1', port: 80 }, b: { ip: '::1', port: 44730 } }).a, { ip: '::1', port: 80 });
  t.deepEqual(canonicalKey({ proto: 6, a: { ip: '::1', port: 44730 }, b: { ip: '::1', port: 80 } }).a, { ip: '::1', port: 80 });
});

test('canonicalKey rejects a malformed address', (t) => {
  t.throws(() => canonicalKey({ proto: 6, a: { ip: '10.0.0', port: 1 }, b: { ip: '10.0.0.1', port: 2 } }), {
    message: 'flow key has a malformed address: 6 10.0.0 1 10.0.0.1 2',
  });
});
