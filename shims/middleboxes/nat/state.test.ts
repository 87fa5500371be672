import test from 'ava';
import { type NatFlow, natFlowCodec, natSharedCodec, noMultiFlowCodec, pairKey } from './state.js';

const flow: NatFlow = {
  mode: 'nat', inside: 'b', extAddr: 0xcb007101, extPort: 40000, tcp: 'established', last: 1367526037.677993, packetsOut: 31, packetsIn: 46, expired: false,
};

test('a translation travels as a compact array and comes back the same', (t) => {
  const json = natFlowCodec.encode(flow);
  t.deepEqual(json, ['nat', 'b', '203.0.113.1', 40000, 'established', 1367526037.677993, 31, 46, false]);
  t.deepEqual(natFlowCodec.decode(JSON.parse(JSON.stringify(json))), flow);
});

test('an expired translation travels with the pair it held last, marked expired', (t) => {
  const expired: NatFlow = { ...flow, tcp: 'closed', expired: true };
  const json = natFlowCodec.encode(expired);
  t.deepEqual(json, ['nat', 'b', '203.0.113.1', 40000, 'closed', 1367526037.677993, 31, 46, true]);
  t.deepEqual(natFlowCodec.decode(JSON.parse(JSON.stringify(json))), expired);
});

test('a flow opened from outside travels without an external address', (t) => {
  const pass: NatFlow = { mode: 'pass', inside: 'a', extAddr: 0, extPort: 0, tcp: null, last: 5, packetsOut: 1, packetsIn: 2, expired: false };
  t.deepEqual(natFlowCodec.encode(pass), ['pass', 'a', null, 0, null, 5, 1, 2, false]);
  t.deepEqual(natFlowCodec.decode(natFlowCodec.encode(pass)), pass);
});

const badFlows: [string, unknown, string][] = [
  ['an object for an array', { mode: 'nat' }, 'nat flow state must be [mode, inside, extIp, extPort, tcp, last, packetsOut, packetsIn, expired]'],
  ['no expiry mark', ['nat', 'a', '203.0.113.1', 1, null, 0, 0, 0], 'nat flow state must be [mode, inside, extIp, extPort, tcp, last, packetsOut, packetsIn, expired]'],
  ['an expiry mark that is no boolean', ['nat', 'a', '203.0.113.1', 1, null, 0, 0, 0, 1], 'expired must be true or false, got 1'],
  ['an unknown mode', ['snat', 'a', '203.0.113.1', 1, null, 0, 0, 0, false], 'mode must be "nat" or "pass", got "snat"'],
  ['a bad side', ['nat', 'c', '203.0.113.1', 1, null, 0, 0, 0, false], 'inside must be "a" or "b", got "c"'],
  ['an IPv6 external address', ['nat', 'a', '::1', 1, null, 0, 0, 0, false], 'extIp must be an IPv4 address, got "::1"'],
  ['external port 0', ['nat', 'a', '203.0.113.1', 0, null, 0, 0, 0, false], 'extPort must be 1-65535, got 0'],
  ['a pass flow with a port', ['pass', 'a', null, 80, null, 0, 0, 0, false], 'a "pass" flow has no external address (extIp null, extPort 0)'],
  ['an unknown TCP state', ['nat', 'a', '203.0.113.1', 1, 'listen', 0, 0, 0, false], 'tcp state "listen" is not one of syn-sent, syn-received, established, closing, closed'],
  ['a timestamp as text', ['nat', 'a', '203.0.113.1', 1, null, '0', 0, 0, false], 'last must be a timestamp'],
  ['a negative counter', ['nat', 'a', '203.0.113.1', 1, null, 0, -1, 0, false], 'packet counters must be non-negative integers'],
];

for (const [what, json, message] of badFlows) {
  test(`flow state with ${what} is refused`, (t) => {
    t.is(t.throws(() => natFlowCodec.decode(json))?.message, message);
  });
}

test('all-flows state carries cursor, clock, counters and lent pairs, not the derived index', (t) => {
  const s = natSharedCodec.init();
  s.counters.packets = 7;
  s.cursor = 1030;
  s.clock = 99.5;
  s.lent = new Set([pairKey(false, 0xcb007101, 53), pairKey(true, 0xcb007102, 1024), pairKey(true, 0xcb007101, 2000)]);
  const json = JSON.parse(JSON.stringify(natSharedCodec.encode(s)));
  t.deepEqual(Object.keys(json), ['counters', 'cursor', 'clock', 'lent']);
  t.deepEqual(json.lent, ['tcp 203.0.113.1:2000', 'tcp 203.0.113.2:1024', 'udp 203.0.113.1:53']);
  const back = natSharedCodec.decode(json);
  t.deepEqual(natSharedCodec.encode(back), natSharedCodec.encode(s));
  t.is(back.index, null);
  t.is(t.throws(() => natSharedCodec.decode({ ...json, cursor: 70000 }))?.message, 'cursor: Number must be less than or equal to 65535');
  t.is(t.throws(() => natSharedCodec.decode({ ...json, ports: [] }))?.message, "state: Unrecognized key(s) in object: 'ports'");
  t.is(t.throws(() => natSharedCodec.decode({ ...json, lent: ['sctp 203.0.113.1:5'] }))?.message, 'lent pair "sctp 203.0.113.1:5" is not like "tcp 203.0.113.1:1024"');
  t.is(t.throws(() => natSharedCodec.decode({ ...json, lent: ['tcp 203.0.113.1:0'] }))?.message, 'lent pair "tcp 203.0.113.1:0" is not like "tcp 203.0.113.1:1024"');
});

test('all-flows merge adds counters, takes the later cursor and clock and unites lent pairs, in either order', (t) => {
  const a = natSharedCodec.init();
  a.counters.packets = 10;
  a.counters.translatedOut = 4;
  a.cursor = 2000;
  a.clock = 50;
  a.lent = new Set([pairKey(true, 1, 1), pairKey(true, 1, 2)]);
  const b = natSharedCodec.init();
  b.lent = new Set([pairKey(true, 1, 2), pairKey(false, 1, 2)]);
  b.counters.packets = 5;
  b.cursor = 1500;
  b.clock = 80;
  const ab = natSharedCodec.merge(natSharedCodec.decode(natSharedCodec.encode(a)), natSharedCodec.decode(natSharedCodec.encode(b)));
  const ba = natSharedCodec.merge(natSharedCodec.decode(natSharedCodec.encode(b)), natSharedCodec.decode(natSharedCodec.encode(a)));
  t.deepEqual(natSharedCodec.encode(ab), natSharedCodec.encode(ba));
  t.is(ab.counters.packets, 15);
  t.is(ab.counters.translatedOut, 4);
  t.is(ab.cursor, 2000);
  t.is(ab.clock, 80);
  t.deepEqual((natSharedCodec.encode(ab) as { lent: string[] }).lent, ['tcp 0.0.0.1:1', 'tcp 0.0.0.1:2', 'udp 0.0.0.1:2']);
});

test('there is no multi-flow state to import', (t) => {
  t.is(t.throws(() => noMultiFlowCodec.decode())?.message, 'the nat keeps no multi-flow state');
});
