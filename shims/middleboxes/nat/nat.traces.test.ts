/**
 * The NAT over whole real captures, in process: no two live flows ever hold one external
 * address:port (checked on the NAT's tables at checkpoints and on the wire by the egress check),
 * checksums come out right unless they came in wrong, and a mid-trace move to a second instance
 * (all state, or half the flows with both instances running on) changes nothing.
 */
import test, { type ExecutionContext } from 'ava';
import { decode } from '../../flow/decode.js';
import { compileFilter, type FlowFilter, matchPacket } from '../../flow/filter.js';
import { type CapturedPacket, readCaptureFile } from '../../flow/pcap.js';
import type { WirePacket } from '../../protocol/packets.js';
import { SCOPES } from '../../protocol/messages.js';
import type { MiddleboxInstance } from '../../shim/runtime.js';
import { tracePath } from '../../traffic/trace-dir.js';
import { NAT_DEFAULTS, parseNatConfig } from './config.js';
import { NatEgress } from './egress.js';
import type { NatOutputs } from './nat.js';
import { ALL_BUT_10, fromCapture, heldPairs, lentPairs, move, natInstance, sharedPairs } from './testing.js';

interface Case {
  trace: string;
  config: Record<string, unknown>;
  /** Port ranges of their own for two instances that split the flows other than by hash bucket. */
  ranges: [[number, number], [number, number]];
}

const CASES: Case[] = [
  { trace: 'mercury_emix.pcap', config: {}, ranges: [[1024, 39999], [40000, 65535]] },
  // A narrow range and short timeouts: ports are handed out by the cursor and reused after expiry.
  {
    trace: 'pcpp_example.pcap', config: { portRange: [1024, 1099], partitionBuckets: 2, udpTimeout: 2, tcpTransitoryTimeout: 2, tcpEstablishedTimeout: 5 },
    ranges: [[1024, 1099], [1100, 1199]],
  },
  // The flood's 37.6k sources (23.6k in its first second) translated into 1024 ports, 16 per
  // bucket, that free after 50 ms: ports run out and come back, many times over.
  {
    trace: 'stopddos_pkt.TCP.synflood.spoofed.pcap', config: { internalPrefixes: ALL_BUT_10, portRange: [1024, 2047], tcpTransitoryTimeout: 0.05 },
    ranges: [[1024, 2047], [2048, 3071]],
  },
];

const CHECK_EVERY = 500;

function capture(trace: string): WirePacket[] {
  return readCaptureFile(tracePath(trace)).packets.map((p: CapturedPacket, i) => fromCapture(p, i + 1));
}

function egressFor(config: Record<string, unknown>): NatEgress {
  return new NatEgress(parseNatConfig({ ...NAT_DEFAULTS, ...config }));
}

/** Feeds packets to the instance `route` names, checking at intervals that no pair is held twice. */
function replay(packets: readonly WirePacket[], route: (p: WirePacket) => MiddleboxInstance, all: MiddleboxInstance[]): string[] {
  const shared: string[] = [];
  packets.forEach((p, i) => {
    route(p).receive(p);
    if ((i + 1) % CHECK_EVERY === 0 || i === packets.length - 1) shared.push(...sharedPairs(heldPairs(...all)));
  });
  return shared;
}

for (const c of CASES) {
  test(`${c.trace}: no external pair is held twice, and checksums are only wrong where they came in wrong`, (t) => {
    const packets = capture(c.trace);
    const { mb, emitted } = natInstance(c.config);
    t.deepEqual(replay(packets, () => mb, [mb]), []);
    const egress = egressFor(c.config);
    for (const p of emitted) egress.receive(p);
    const out = mb.outputs() as NatOutputs;
    const eg = egress.report();
    t.is(eg.packets, packets.length, 'every packet leaves, translated or not');
    t.is(eg.translated, out.counters.translatedOut);
    t.is(eg.sharedPairs, 0, JSON.stringify(eg.sharedExamples));
    t.is(eg.badChecksumPackets, out.counters.inputBadChecksums);
    t.true(out.counters.translationsCreated > 0);
    t.log(JSON.stringify({ counters: out.counters, egress: eg }));
  });

  test(`${c.trace}: moving all state to a second instance halfway changes nothing, and its new flows share no pair`, (t) => {
    const packets = capture(c.trace);
    const cut = Math.floor(packets.length / 2);
    const alone = natInstance(c.config);
    for (const p of packets) alone.mb.receive(p);

    const a = natInstance(c.config);
    const b = natInstance(c.config);
    t.deepEqual(replay(packets.slice(0, cut), () => a.mb, [a.mb]), []);
    const moved = heldPairs(a.mb).length;
    move(a.mb, b.mb, {});
    t.is(heldPairs(a.mb).length, 0);
    t.is(heldPairs(b.mb).length, moved);
    t.is(lentPairs(b.mb), 0, 'what the source lent away is held here');
    const createdBefore = (b.mb.outputs() as NatOutputs).counters.translationsCreated;
    t.deepEqual(replay(packets.slice(cut), () => b.mb, [a.mb, b.mb]), []);
    const out = b.mb.outputs() as NatOutputs;
    t.true(out.counters.translationsCreated > createdBefore, 'the destination made translations of its own');
    t.deepEqual(out, alone.mb.outputs());
    t.deepEqual([...a.emitted, ...b.emitted].map((p) => p.data.toString('hex')), alone.emitted.map((p) => p.data.toString('hex')));
    const egress = egressFor(c.config);
    for (const p of [...a.emitted, ...b.emitted]) egress.receive(p);
    t.is(egress.report().sharedPairs, 0);
  });

  /** Moves the flows `filter` selects from a to b mid-trace, then replays the rest to both as the filter routes. */
  const split = (t: ExecutionContext, packets: WirePacket[], a: MiddleboxInstance, b: MiddleboxInstance, filter: FlowFilter): void => {
    const cut = Math.floor(packets.length / 2);
    t.deepEqual(replay(packets.slice(0, cut), () => a, [a]), []);
    const before = heldPairs(a).length;
    for (const scope of SCOPES.filter((s) => s !== 'all-flows')) move(a, b, filter, [scope]);
    const moved = heldPairs(b).length;
    t.true(moved > 0, 'some translations moved');
    t.is(heldPairs(a).length, before - moved);
    t.is(lentPairs(a), moved, 'the source keeps the moved pairs taken');
    const toB = compileFilter(filter);
    const route = (p: WirePacket) => (matchPacket(toB, p.data, decode(p.data, p.linkType), p.inPort) ? b : a);
    t.deepEqual(replay(packets.slice(cut), route, [a, b]), []);
  };

  const checkWire = (t: ExecutionContext, packets: WirePacket[], config: Record<string, unknown>, ...runs: ReturnType<typeof natInstance>[]): void => {
    const egress = egressFor(config);
    for (const p of runs.flatMap((r) => r.emitted).sort((x, y) => x.seq - y.seq)) egress.receive(p);
    const eg = egress.report();
    t.is(eg.packets, packets.length);
    t.is(eg.sharedPairs, 0, JSON.stringify(eg.sharedExamples));
    const counters = runs.map((r) => (r.mb.outputs() as NatOutputs).counters);
    t.is(eg.translated, counters.reduce((n, k) => n + k.translatedOut, 0));
    t.true(counters[1].translationsCreated > 0, 'the second instance made translations of its own');
  };

  test(`${c.trace}: half the hash buckets moved to a second instance with the same configuration, both running on, never share a pair`, (t) => {
    const packets = capture(c.trace);
    const a = natInstance(c.config);
    const b = natInstance(c.config);
    split(t, packets, a.mb, b.mb, { buckets: { key: 'flow', of: 2, ids: [1] } });
    checkWire(t, packets, c.config, a, b);
  });

  test(`${c.trace}: flows of half the address space moved to a second instance with a port range of its own, both running on, never share a pair`, (t) => {
    const packets = capture(c.trace);
    const a = natInstance({ ...c.config, portRange: c.ranges[0] });
    const b = natInstance({ ...c.config, portRange: c.ranges[1] });
    split(t, packets, a.mb, b.mb, { nwDst: '128.0.0.0/1', bidirectional: true });
    checkWire(t, packets, c.config, a, b);
  });
}
