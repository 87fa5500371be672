import test from 'ava';
import { ipv4HeaderChecksum, transportChecksum } from '../../flow/checksum.js';
import { decode, TCP_ACK, TCP_FIN, TCP_SYN } from '../../flow/decode.js';
import { packetHash } from '../../flow/hash.js';
import type { WirePacket } from '../../protocol/packets.js';
import type { NatOutputs, NatTranslationOutput } from './nat.js';
import { delState, getChunks, lentPairs, move, natInstance, putChunks, tcpFrame, udp6Frame, udpFrame, wire } from './testing.js';

const REMOTE = '93.184.216.34';

/** Most tests here look at port choice itself: one port class, as with a single instance. */
function natOneClass(config: Record<string, unknown> = {}) {
  return natInstance({ partitionBuckets: 1, ...config });
}

function tcp(src: string, sport: number, dst: string, dport: number, flags: number): Buffer {
  return tcpFrame({ src, dst, sport, dport, flags, seq: 1, ack: 1, payload: Buffer.alloc(0) });
}

function source(p: WirePacket): string {
  return `${[...p.data.subarray(26, 30)].join('.')}:${p.data.readUInt16BE(34)}`;
}

function checksumsRight(p: WirePacket): boolean {
  const b = p.data;
  const proto = b[23];
  const csum = 34 + (proto === 6 ? 16 : 6);
  return b.readUInt16BE(24) === ipv4HeaderChecksum(b, 14) && b.readUInt16BE(csum) === transportChecksum(b, 14, 34, b.readUInt16BE(16) - 20, proto, csum);
}

function outputs(mb: { outputs(): Record<string, unknown> }): NatOutputs {
  return mb.outputs() as NatOutputs;
}

/** The pair a live translation holds, 'expired' for an expired one (its record stays), 'none' without one. */
function externalOf(mb: { outputs(): Record<string, unknown> }, internalPort: number, internalIp = '10.0.0.5'): string {
  const tr = outputs(mb).translations.find((x) => x.internal.ip === internalIp && x.internal.port === internalPort);
  return !tr ? 'none' : tr.expired ? 'expired' : `${tr.external.ip}:${tr.external.port}`;
}

test('an outbound TCP connection is translated; its return traffic reaches the inside host unchanged', (t) => {
  const { mb, emitted } = natOneClass();
  const syn = wire(tcp('10.0.0.5', 40000, REMOTE, 443, TCP_SYN), 1);
  const synAck = wire(tcp(REMOTE, 443, '10.0.0.5', 40000, TCP_SYN | TCP_ACK), 1.1);
  const ack = wire(tcp('10.0.0.5', 40000, REMOTE, 443, TCP_ACK), 1.2);
  for (const p of [syn, synAck, ack]) mb.receive(p);
  t.is(emitted.length, 3);
  t.is(source(emitted[0]), '203.0.113.1:40000', 'the inside port is kept: it is free and in range');
  t.true(checksumsRight(emitted[0]));
  t.not(emitted[0].data, syn.data, 'the original is left alone');
  t.is(source(syn), '10.0.0.5:40000');
  t.is(emitted[1], synAck);
  t.is(source(emitted[2]), '203.0.113.1:40000');
  t.true(checksumsRight(emitted[2]));
  const out = outputs(mb);
  t.deepEqual(out.translations, [{
    proto: 'tcp', internal: { ip: '10.0.0.5', port: 40000 }, external: { ip: '203.0.113.1', port: 40000 }, remote: { ip: REMOTE, port: 443 },
    packetsOut: 2, packetsIn: 1, state: 'established', lastSeen: 1.2, expired: false,
  }]);
  t.like(out.counters, { packets: 3, translatedOut: 2, returnHits: 1, translationsCreated: 1, inputBadChecksums: 0 });
  t.deepEqual(out.live, { translations: 1, inboundFlows: 0 });
});

test('a taken or out-of-range inside port gets the next free port after the cursor', (t) => {
  const { mb, emitted } = natOneClass();
  mb.receive(wire(udpFrame('10.0.0.5', 40000, REMOTE, 53), 1));
  mb.receive(wire(udpFrame('10.0.0.6', 40000, REMOTE, 53), 2));
  mb.receive(wire(udpFrame('10.0.0.7', 40000, REMOTE, 53), 3));
  mb.receive(wire(udpFrame('10.0.0.8', 80, REMOTE, 53), 4));
  mb.receive(wire(tcp('10.0.0.6', 40000, REMOTE, 443, TCP_SYN), 5));
  t.deepEqual(emitted.map(source), ['203.0.113.1:40000', '203.0.113.1:1024', '203.0.113.1:1025', '203.0.113.1:1026', '203.0.113.1:40000']);
  t.deepEqual(outputs(mb).translations.map((x) => `${x.proto} ${x.external.port} ${x.internal.ip}`),
    ['tcp 40000 10.0.0.6', 'udp 1024 10.0.0.6', 'udp 1025 10.0.0.7', 'udp 1026 10.0.0.8', 'udp 40000 10.0.0.5']);
});

function udpFrom(port: number) {
  return udpFrame.bind(null, '10.0.0.5', port, REMOTE, 53);
}

test('with every port taken a new flow passes untranslated and is counted; an expired one frees its port and stays listed', (t) => {
  const { mb, emitted } = natOneClass({ portRange: [2000, 2002], udpTimeout: 10 });
  for (const [i, port] of [1, 2, 3, 4].entries()) mb.receive(wire(udpFrom(port)(), i));
  t.deepEqual(emitted.map(source), ['203.0.113.1:2000', '203.0.113.1:2001', '203.0.113.1:2002', '10.0.0.5:4']);
  t.is(outputs(mb).counters.portsExhausted, 1);
  // Port 1's flow (last seen at 0) expires at 10; the cursor wraps from 2002 to 2000.
  mb.receive(wire(udpFrom(2)(), 9.5));
  mb.receive(wire(udpFrom(4)(), 10));
  t.deepEqual(emitted.slice(4).map(source), ['203.0.113.1:2001', '203.0.113.1:2000']);
  const out = outputs(mb);
  t.like(out.counters, { translationsExpired: 1, translationsCreated: 4, portsExhausted: 1 });
  t.deepEqual(out.translations.map((x) => `${x.internal.port}->${x.external.port}${x.expired ? ' expired' : ''}`), ['4->2000', '2->2001', '3->2002', '1->2000 expired']);
  t.deepEqual(out.live, { translations: 3, inboundFlows: 0 });
});

test('an expired flow that comes back keeps its one record and its counts, and gets a pair afresh', (t) => {
  const { mb, emitted } = natOneClass({ portRange: [2000, 2001], udpTimeout: 10 });
  const x = udpFrom(1);
  mb.receive(wire(x(), 0));
  mb.receive(wire(udpFrame(REMOTE, 53, '10.0.0.5', 1), 0.5));
  mb.receive(wire(udpFrame('10.0.0.6', 1, REMOTE, 53), 5));
  // x expired at 10.5 (0.5 + 10): its pair goes to a new flow, and its record stays.
  mb.receive(wire(udpFrame('10.0.0.7', 1, REMOTE, 53), 10.5));
  t.is(source(emitted.at(-1)!), '203.0.113.1:2000');
  t.is(externalOf(mb, 1), 'expired');
  // Back while every pair is taken: it passes untranslated, still expired, and is counted.
  mb.receive(wire(x(), 12));
  t.is(source(emitted.at(-1)!), '10.0.0.5:1');
  t.is(externalOf(mb, 1), 'expired');
  // 10.0.0.6's flow expired at 15: its pair is free, and x is translated again, into it.
  mb.receive(wire(x(), 15.5));
  t.is(source(emitted.at(-1)!), '203.0.113.1:2001');
  t.true(checksumsRight(emitted.at(-1)!));
  const out = outputs(mb);
  t.deepEqual(out.translations.map((tr) => `${tr.internal.ip}:${tr.internal.port} ${tr.external.port} ${tr.packetsOut}/${tr.packetsIn}${tr.expired ? ' expired' : ''}`),
    ['10.0.0.7:1 2000 1/0', '10.0.0.5:1 2001 3/1', '10.0.0.6:1 2001 1/0 expired']);
  t.like(out.counters, { translationsCreated: 4, translationsRevived: 1, translationsExpired: 2, portsExhausted: 1, translatedOut: 4 });
  t.deepEqual(out.live, { translations: 2, inboundFlows: 0 });
});

test('a packet from outside revives an expired translation too, so the flow\'s counts do not hang on where it expired', (t) => {
  const { mb, emitted } = natOneClass({ udpTimeout: 10 });
  mb.receive(wire(udpFrom(40000)(), 0));
  mb.receive(wire(udpFrame('10.0.0.6', 40000, REMOTE, 53), 1));
  mb.receive(wire(udpFrame('10.0.0.7', 40000, REMOTE, 53), 20));
  t.is(externalOf(mb, 40000), 'expired');
  t.is(externalOf(mb, 40000, '10.0.0.7'), '203.0.113.1:40000', 'the expired flow\'s pair went to a new flow');
  mb.receive(wire(udpFrame(REMOTE, 53, '10.0.0.5', 40000), 21));
  mb.receive(wire(udpFrom(40000)(), 22));
  t.is(source(emitted.at(-1)!), '203.0.113.1:1025', 'its pair is the one the revival gave it (40000 is taken, 1024 went to 10.0.0.6)');
  t.like(outputs(mb).translations.find((tr) => tr.internal.ip === '10.0.0.5'), { packetsOut: 2, packetsIn: 1, expired: false } as Partial<NatTranslationOutput>);
  t.like(outputs(mb).counters, { translationsRevived: 1, returnHits: 1 });
});

test('a flow keeps the mode its first packet gave it: an expired inbound flow revived by a SYN from inside is not translated', (t) => {
  const { mb, emitted } = natOneClass({ tcpTransitoryTimeout: 10 });
  mb.receive(wire(tcp('198.51.100.7', 5555, '10.0.0.5', 22, TCP_SYN), 0));
  mb.receive(wire(udpFrom(7)(), 100));
  t.deepEqual(outputs(mb).live, { translations: 1, inboundFlows: 0 });
  const syn = wire(tcp('10.0.0.5', 22, '198.51.100.7', 5555, TCP_SYN), 101);
  mb.receive(syn);
  t.is(emitted.at(-1), syn);
  const out = outputs(mb);
  t.deepEqual(out.live, { translations: 1, inboundFlows: 1 });
  t.is(out.translations.length, 1);
  t.like(out.counters, { inboundFlowsCreated: 2, inboundFlowsExpired: 1, inboundFlowsRevived: 1, passedInbound: 2 });
});

test('TCP flows time out by state: established long, opening and closing short', (t) => {
  const { mb } = natOneClass({ tcpEstablishedTimeout: 100, tcpTransitoryTimeout: 10 });
  const other = (ts: number) => mb.receive(wire(udpFrom(7)(), ts));
  mb.receive(wire(tcp('10.0.0.5', 1111, REMOTE, 80, TCP_SYN), 0));
  mb.receive(wire(tcp('10.0.0.5', 2222, REMOTE, 80, TCP_SYN), 0));
  mb.receive(wire(tcp(REMOTE, 80, '10.0.0.5', 2222, TCP_SYN | TCP_ACK), 0));
  mb.receive(wire(tcp('10.0.0.5', 2222, REMOTE, 80, TCP_ACK), 0));
  other(9.999);
  t.is(externalOf(mb, 1111), '203.0.113.1:1111');
  other(10);
  t.is(externalOf(mb, 1111), 'expired', 'an unanswered SYN lasts the transitory timeout');
  other(50);
  t.is(externalOf(mb, 2222), '203.0.113.1:2222', 'established flows outlive it');
  mb.receive(wire(tcp('10.0.0.5', 2222, REMOTE, 80, TCP_FIN | TCP_ACK), 50));
  t.is(outputs(mb).translations.find((x) => x.internal.port === 2222)?.state, 'closing');
  other(59.9);
  t.is(externalOf(mb, 2222), '203.0.113.1:2222');
  other(60);
  t.is(externalOf(mb, 2222), 'expired', 'after a FIN the transitory timeout applies');
  t.is(outputs(mb).counters.translationsExpired, 2);
  t.deepEqual(outputs(mb).translations.filter((x) => x.proto === 'tcp').map((x) => [x.internal.port, x.packetsOut, x.packetsIn, x.expired]),
    [[1111, 1, 0, true], [2222, 3, 1, true]], 'expired translations keep their records and counts');
});

test('time never steps back: an older capture timestamp counts as the latest seen', (t) => {
  const { mb } = natOneClass({ udpTimeout: 10 });
  mb.receive(wire(udpFrom(1)(), 100));
  mb.receive(wire(udpFrom(2)(), 50));
  t.deepEqual(outputs(mb).translations.map((x) => x.lastSeen), [100, 100]);
  mb.receive(wire(udpFrom(3)(), 109));
  t.is(outputs(mb).translations.length, 3);
});

test('a flow opened from outside is never translated, not even its inside end\'s replies', (t) => {
  const { mb, emitted } = natOneClass();
  const packets = [
    wire(tcp('198.51.100.7', 5555, '10.0.0.5', 22, TCP_SYN), 1),
    wire(tcp('10.0.0.5', 22, '198.51.100.7', 5555, TCP_SYN | TCP_ACK), 2),
    wire(tcp('10.0.0.5', 22, '198.51.100.7', 5555, TCP_ACK), 3),
  ];
  for (const p of packets) mb.receive(p);
  t.deepEqual(emitted, packets);
  const out = outputs(mb);
  t.deepEqual(out.translations, []);
  t.deepEqual(out.live, { translations: 0, inboundFlows: 1 });
  t.like(out.counters, { passedInbound: 3, inboundFlowsCreated: 1, translatedOut: 0 });
});

test('a flow first seen at its SYN-ACK belongs to the end the SYN-ACK goes to', (t) => {
  const { mb, emitted } = natOneClass();
  mb.receive(wire(tcp(REMOTE, 443, '10.0.0.5', 40000, TCP_SYN | TCP_ACK), 1));
  mb.receive(wire(tcp('10.0.0.5', 40000, REMOTE, 443, TCP_ACK), 2));
  t.is(source(emitted[1]), '203.0.113.1:40000');
  t.like(outputs(mb).translations[0], { packetsIn: 1, packetsOut: 1, state: 'established' } as Partial<NatTranslationOutput>);
});

test('without a handshake in sight the opener is the end on the higher port against a service port', (t) => {
  const { mb, emitted } = natOneClass();
  const packets = [
    wire(udpFrame(REMOTE, 53, '10.0.0.5', 40000), 1), // a DNS answer that overtook its question
    wire(udpFrame('10.0.0.5', 40000, REMOTE, 53), 2),
    wire(tcp('198.51.100.7', 5555, '10.0.0.6', 22, TCP_ACK), 3), // an inbound SSH session picked up midstream
    wire(tcp('10.0.0.6', 22, '198.51.100.7', 5555, TCP_ACK), 4),
    wire(udpFrame('198.51.100.8', 6000, '10.0.0.7', 7000), 5), // no service port: the sender opened it
    wire(udpFrame('10.0.0.7', 7000, '198.51.100.8', 6000), 6),
  ];
  for (const p of packets) mb.receive(p);
  t.deepEqual(emitted.map(source), ['93.184.216.34:53', '203.0.113.1:40000', '198.51.100.7:5555', '10.0.0.6:22', '198.51.100.8:6000', '10.0.0.7:7000']);
  t.deepEqual(outputs(mb).live, { translations: 1, inboundFlows: 2 });
});

test('packets the NAT does not translate leave as they came, each counted once', (t) => {
  const { mb, emitted } = natOneClass();
  const icmp = udpFrame('10.0.0.5', 1, REMOTE, 1);
  icmp[23] = 1;
  const arp = Buffer.alloc(42);
  arp.writeUInt16BE(0x0806, 12);
  const fragment = udpFrame('10.0.0.5', 40000, REMOTE, 53);
  fragment.writeUInt16BE(0x0010, 20);
  const packets = [
    wire(udpFrame('10.0.0.5', 40000, '192.168.1.1', 53), 1),
    wire(udpFrame('198.51.100.1', 40000, REMOTE, 53), 2),
    wire(udp6Frame('fd00::5', 40000, '2001:db8::1', 53), 3),
    wire(arp, 4),
    wire(icmp, 5),
    wire(fragment, 6),
  ];
  for (const p of packets) mb.receive(p);
  t.deepEqual(emitted, packets);
  t.deepEqual(outputs(mb).counters, {
    packets: 6, translatedOut: 0, returnHits: 0, passedInbound: 0, passedLocal: 2, passedIpv6: 1, passedNonIp: 1, passedOtherProto: 1,
    passedNoPorts: 1, portsExhausted: 0, inputBadChecksums: 0, translationsCreated: 0, translationsExpired: 0, translationsRevived: 0,
    inboundFlowsCreated: 0, inboundFlowsExpired: 0, inboundFlowsRevived: 0,
  });
});

test('a translated packet whose checksum was wrong on capture is counted and stays wrong', (t) => {
  const { mb, emitted } = natOneClass();
  const bad = tcp('10.0.0.5', 40000, REMOTE, 443, TCP_SYN);
  bad[50] ^= 0xff;
  mb.receive(wire(bad, 1));
  t.false(checksumsRight(emitted[0]));
  t.is(outputs(mb).counters.inputBadChecksums, 1);
});

test('each inside host keeps one external address; a full address hands over to the next', (t) => {
  const { mb, emitted } = natOneClass({ externalAddresses: ['203.0.113.1', '203.0.113.2', '203.0.113.3'], portRange: [3000, 3000] });
  mb.receive(wire(udpFrame('10.0.0.5', 1, REMOTE, 53), 1));
  mb.receive(wire(udpFrame('10.0.0.5', 2, REMOTE, 53), 2));
  mb.receive(wire(udpFrame('10.0.0.5', 3, REMOTE, 53), 3));
  mb.receive(wire(udpFrame('10.0.0.5', 4, REMOTE, 53), 4));
  // 10.0.0.5 hashes to the second address (Math.imul(0x0a000005, 0x9e3779b1) >>> 0 is 1 mod 3).
  t.deepEqual(emitted.map(source), ['203.0.113.2:3000', '203.0.113.3:3000', '203.0.113.1:3000', '10.0.0.5:4']);
  const again = natOneClass({ externalAddresses: ['203.0.113.1', '203.0.113.2', '203.0.113.3'] });
  for (let i = 0; i < 3; i++) again.mb.receive(wire(udpFrame('10.0.0.5', 5000 + i, REMOTE, 53), i));
  t.deepEqual(again.emitted.map(source), ['203.0.113.2:5000', '203.0.113.2:5001', '203.0.113.2:5002']);
});

test('a flow\'s external port is in its hash bucket\'s class; the inside port is kept when it is in that class', (t) => {
  const { mb, emitted } = natInstance();
  const bucket = (b: Buffer) => packetHash('flow', [], b, decode(b)) % 64;
  const frames = Array.from({ length: 200 }, (_, i) => udpFrame(`10.0.${i % 5}.${i % 11}`, 30000 + i, REMOTE, 53));
  for (const [i, f] of frames.entries()) mb.receive(wire(f, i));
  const ports = emitted.map((p) => p.data.readUInt16BE(34));
  t.deepEqual(ports.map((p) => p % 64), frames.map(bucket));
  const kept = frames.flatMap((f, i) => (f.readUInt16BE(34) % 64 === bucket(f) ? [i] : []));
  t.true(kept.length > 0);
  t.deepEqual(kept.map((i) => ports[i]), kept.map((i) => 30000 + i));
  t.is(new Set(ports).size, ports.length);
});

test('the same packets give the same translations and the same bytes', (t) => {
  const run = () => {
    const { mb, emitted } = natOneClass({ portRange: [5000, 5003], udpTimeout: 2 });
    for (let i = 0; i < 40; i++) mb.receive(wire(udpFrame(`10.0.${i % 3}.${i % 7}`, 40000 + (i % 5), REMOTE, 53), i * 0.3));
    return { out: mb.outputs(), bytes: emitted.map((p) => p.data.toString('hex')) };
  };
  t.deepEqual(run(), run());
});

test('a moved translation reserves its port where it lands, whether or not that instance has seen a packet', (t) => {
  for (const warm of [false, true]) {
    const a = natOneClass();
    const b = natOneClass();
    if (warm) b.mb.receive(wire(udpFrame('10.0.0.99', 7777, REMOTE, 53), 0));
    a.mb.receive(wire(udpFrame('10.0.0.5', 40000, REMOTE, 53), 1));
    move(a.mb, b.mb, { nwSrc: '10.0.0.5/32', bidirectional: true }, ['per-flow']);
    t.is(outputs(a.mb).translations.length, 0);
    b.mb.receive(wire(udpFrame('10.0.0.9', 40000, REMOTE, 53), 2));
    t.is(externalOf(b.mb, 40000, '10.0.0.9'), '203.0.113.1:1024', `warm=${warm}`);
    b.mb.receive(wire(udpFrame('10.0.0.5', 40000, REMOTE, 53), 3));
    t.is(source(b.emitted.at(-1)!), '203.0.113.1:40000', 'the moved flow keeps its pair');
  }
});

test('a translation deleted while live stays taken here (lent away) until a put brings it back', (t) => {
  const { mb } = natOneClass({ udpTimeout: 10 });
  mb.receive(wire(udpFrame('10.0.0.5', 40000, REMOTE, 53), 1));
  const chunks = getChunks(mb, 'per-flow');
  delState(mb, 'per-flow', { nwSrc: '10.0.0.5/32', bidirectional: true });
  t.is(lentPairs(mb), 1);
  mb.receive(wire(udpFrame('10.0.0.6', 40000, REMOTE, 53), 2));
  t.is(externalOf(mb, 40000, '10.0.0.6'), '203.0.113.1:1024');
  putChunks(mb, 'per-flow', chunks);
  t.is(lentPairs(mb), 0);
  mb.receive(wire(udpFrame('10.0.0.7', 40000, REMOTE, 53), 3));
  t.is(externalOf(mb, 40000, '10.0.0.7'), '203.0.113.1:1025', 'the pair is held by the flow that came back');
  mb.receive(wire(udpFrame('10.0.0.8', 40000, REMOTE, 53), 11));
  t.is(externalOf(mb, 40000, '10.0.0.8'), '203.0.113.1:40000', 'and freed when that flow expires');
});

test('a flow moved out and back, then the other instance merged in, leaves nothing lent', (t) => {
  const a = natOneClass();
  const b = natOneClass();
  a.mb.receive(wire(udpFrame('10.0.0.5', 40000, REMOTE, 53), 1));
  const flow = { nwSrc: '10.0.0.5/32', bidirectional: true };
  move(a.mb, b.mb, flow, ['per-flow']);
  t.deepEqual([lentPairs(a.mb), lentPairs(b.mb)], [1, 0]);
  move(b.mb, a.mb, flow, ['per-flow']);
  t.deepEqual([lentPairs(a.mb), lentPairs(b.mb)], [0, 1]);
  putChunks(a.mb, 'all-flows', getChunks(b.mb, 'all-flows'));
  t.is(lentPairs(a.mb), 0, 'the pair b lent is held here');
});

test('a put that replaces a translation releases the pair the old one held', (t) => {
  const { mb } = natOneClass();
  mb.receive(wire(udpFrame('10.0.0.5', 40000, REMOTE, 53), 1));
  const [chunk] = getChunks(mb, 'per-flow');
  const state = chunk.state as unknown[];
  putChunks(mb, 'per-flow', [{ ...chunk, state: [state[0], state[1], state[2], 50000, ...state.slice(4)] }]);
  mb.receive(wire(udpFrame('10.0.0.6', 40000, REMOTE, 53), 2));
  mb.receive(wire(udpFrame('10.0.0.7', 50000, REMOTE, 53), 3));
  t.is(externalOf(mb, 40000, '10.0.0.6'), '203.0.113.1:40000');
  t.is(externalOf(mb, 50000, '10.0.0.7'), '203.0.113.1:1024');
});

test('all-flows state merged in or deleted keeps the reservations of the flows still here', (t) => {
  const a = natOneClass();
  const b = natOneClass();
  a.mb.receive(wire(udpFrame('10.0.0.1', 1500, REMOTE, 53), 1));
  b.mb.receive(wire(udpFrame('10.0.0.5', 40000, REMOTE, 53), 1));
  putChunks(b.mb, 'all-flows', getChunks(a.mb, 'all-flows'));
  b.mb.receive(wire(udpFrame('10.0.0.6', 40000, REMOTE, 53), 2));
  t.is(externalOf(b.mb, 40000, '10.0.0.6'), '203.0.113.1:1024');
  delState(b.mb, 'all-flows');
  b.mb.receive(wire(udpFrame('10.0.0.7', 40000, REMOTE, 53), 3));
  t.is(externalOf(b.mb, 40000, '10.0.0.7'), '203.0.113.1:1025', 'the cursor restarted, and skips the held ports');
  t.is(outputs(b.mb).translations.length, 3);
});

test('a new port range applies to new flows; existing ones keep their pairs', (t) => {
  const { mb } = natOneClass();
  mb.receive(wire(udpFrame('10.0.0.5', 40000, REMOTE, 53), 1));
  mb.handle({ type: 'put-config', id: 1, values: { partitionBuckets: 1, portRange: [20000, 20001] } }, () => {});
  mb.receive(wire(udpFrame('10.0.0.6', 40000, REMOTE, 53), 2));
  mb.receive(wire(udpFrame('10.0.0.5', 40000, REMOTE, 53), 3));
  t.is(externalOf(mb, 40000, '10.0.0.6'), '203.0.113.1:20000');
  t.is(externalOf(mb, 40000, '10.0.0.5'), '203.0.113.1:40000');
});
