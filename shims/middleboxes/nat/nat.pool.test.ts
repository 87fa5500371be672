/**
 * The NAT in a pool, in process: instances configured by `poolConfig` from the pool's
 * partitioning, packets routed to them by the switch's own bucket filters, their state merged into
 * one instance at the end as the pool reports it (get and put of every scope, operator/engine/merged-outputs.ts).
 * The merged `translations` must equal one unscaled instance's, compared as the scaling acceptance
 * does (internal, remote, packetsOut, packetsIn), although each instance expires flows by its own
 * clock; and no two live flows may hold one external pair, on the tables or on the wire.
 */
import test, { type ExecutionContext } from 'ava';
import { parsePrefix } from '../../flow/address.js';
import { decode } from '../../flow/decode.js';
import { compileFilter, type FlowFilter, matchPacket } from '../../flow/filter.js';
import { packetHash, type PartitionKeyKind } from '../../flow/hash.js';
import { readCaptureFile } from '../../flow/pcap.js';
import { SCOPES } from '../../protocol/messages.js';
import type { WirePacket } from '../../protocol/packets.js';
import { tracePath } from '../../traffic/trace-dir.js';
import { NAT_DEFAULTS, parseNatConfig } from './config.js';
import { NatEgress } from './egress.js';
import { nat, type NatOutputs } from './nat.js';
import { fromCapture, getChunks, heldPairs, move, natInstance, putChunks, sharedPairs, udpFrame, wire } from './testing.js';

const REMOTE = '93.184.216.34';
const INSIDE = NAT_DEFAULTS.internalPrefixes;

function capture(trace: string): WirePacket[] {
  return readCaptureFile(tracePath(trace)).packets.map((p, i) => fromCapture(p, i + 1));
}

const ts = (p: WirePacket) => p.tsSec + p.tsNsec / 1e9;

function outputs(mb: { outputs(): Record<string, unknown> }): NatOutputs {
  return mb.outputs() as NatOutputs;
}

/** What the scaling acceptance compares: one line per translation, sorted. */
function compared(out: NatOutputs): string[] {
  return out.translations.map((x) => JSON.stringify([x.internal, x.remote, x.packetsOut, x.packetsIn])).sort();
}

/** The pool's report: every instance's state put into one fresh instance, as operator/engine/merged-outputs.ts does. */
function merged(config: Record<string, unknown>, ...instances: ReturnType<typeof natInstance>[]): NatOutputs {
  const into = natInstance(config);
  for (const { mb } of instances) for (const scope of SCOPES) putChunks(into.mb, scope, getChunks(mb, scope));
  return outputs(into.mb);
}

function bucketOf(key: PartitionKeyKind, of: number, inside: string[], p: WirePacket): number {
  return packetHash(key, inside.map(parsePrefix), p.data, decode(p.data, p.linkType)) % of;
}

/** Replays packets to the instance the route picks, checking at intervals that no external pair is held twice. */
function replay(t: ExecutionContext, packets: readonly WirePacket[], route: (p: WirePacket) => ReturnType<typeof natInstance>, all: ReturnType<typeof natInstance>[]): void {
  const shared: string[] = [];
  packets.forEach((p, i) => {
    route(p).mb.receive(p);
    if ((i + 1) % 250 === 0 || i === packets.length - 1) shared.push(...sharedPairs(heldPairs(...all.map((x) => x.mb))));
  });
  t.deepEqual(shared, [], 'no external pair held by two flows');
}

/** The egress check over what every instance emitted, in capture order. */
function checkWire(t: ExecutionContext, packets: readonly WirePacket[], ...runs: ReturnType<typeof natInstance>[]): void {
  const egress = new NatEgress(parseNatConfig(NAT_DEFAULTS));
  for (const p of runs.flatMap((r) => r.emitted).sort((x, y) => x.seq - y.seq)) egress.receive(p);
  const eg = egress.report();
  t.is(eg.packets, packets.length);
  t.is(eg.sharedPairs, 0, JSON.stringify(eg.sharedExamples));
  t.is(eg.badChecksumPackets, runs.reduce((n, r) => n + outputs(r.mb).counters.inputBadChecksums, 0));
}

test('poolConfig gives one port class per bucket of the pool\'s key, with its inside prefixes for host', (t) => {
  t.deepEqual(nat.poolConfig!({ key: 'flow', buckets: 64 }), { partitionBuckets: 64, partitionKey: 'flow', partitionInside: [] });
  t.deepEqual(nat.poolConfig!({ key: 'hostPair', buckets: 8, inside: ['10.0.0.0/8'] }), { partitionBuckets: 8, partitionKey: 'hostPair', partitionInside: [] });
  const host = nat.poolConfig!({ key: 'host', buckets: 4, inside: ['10.0.0.0/8', '192.168.0.0/16'] });
  t.deepEqual(host, { partitionBuckets: 4, partitionKey: 'host', partitionInside: ['10.0.0.0/8', '192.168.0.0/16'] });
  const c = parseNatConfig({ ...NAT_DEFAULTS, ...host });
  t.is(c.partitionKey, 'host');
  t.deepEqual(c.partitionInside.map((p) => p.length), [8, 16]);
  t.is(t.throws(() => parseNatConfig({ ...NAT_DEFAULTS, portRange: [2000, 2002], ...nat.poolConfig!({ key: 'flow', buckets: 4 }) }))?.message,
    'config.partitionBuckets: 4 buckets need at least 4 ports; portRange [2000, 2002] has 3', 'a pool with more buckets than ports is refused clearly');
});

test('with the host key every flow of an inside host is translated into its host bucket\'s class, though the remote is the lower address', (t) => {
  const inside = ['10.0.0.0/8'];
  const { mb, emitted } = natInstance(nat.poolConfig!({ key: 'host', buckets: 4, inside }));
  const frames = [];
  for (let h = 1; h <= 8; h++) {
    for (let i = 0; i < 6; i++) frames.push(wire(udpFrame(`10.0.0.${h}`, 30001 + i * 7, i % 2 ? '8.8.8.8' : REMOTE, 53 + i), frames.length));
  }
  for (const p of frames) mb.receive(p);
  const hostBucket = (p: WirePacket) => bucketOf('host', 4, inside, p);
  t.deepEqual(emitted.map((p) => p.data.readUInt16BE(34) % 4), frames.map(hostBucket));
  t.true(frames.some((p) => hostBucket(p) !== bucketOf('host', 4, [], p)), 'the inside prefixes decide the host (8.8.8.8 is the lower address)');
  t.true(frames.some((p) => hostBucket(p) !== bucketOf('flow', 4, [], p)), 'the flow key would have given other classes');
  t.is(new Set(emitted.map((p) => p.data.readUInt16BE(34))).size, frames.length);
});

/** Two inside hosts in different host buckets, each with a flow from port 40000 whose flow-key bucket is 40000's class. */
function hostsKeepingPort40000(): [string, string] {
  const inside = ['10.0.0.0/8'];
  const found = new Map<number, string>();
  for (let h = 1; h < 250 && found.size < 2; h++) {
    const p = wire(udpFrame(`10.0.1.${h}`, 40000, REMOTE, 53), 0);
    const hb = bucketOf('host', 4, inside, p);
    if (bucketOf('flow', 4, [], p) === 40000 % 4 && !found.has(hb)) found.set(hb, `10.0.1.${h}`);
  }
  return [...found.values()] as [string, string];
}

test('instances of a host-partitioned pool share no pair with host-key classes, where flow-key classes would', (t) => {
  const inside = ['10.0.0.0/8'];
  const hosts = hostsKeepingPort40000();
  const frames = hosts.map((h, i) => wire(udpFrame(h, 40000, REMOTE, 53), i, i));
  const run = (config: Record<string, unknown>) => {
    const a = natInstance(config);
    const b = natInstance(config);
    const toB = compileFilter({ buckets: { key: 'host', of: 4, ids: [bucketOf('host', 4, inside, frames[1])], inside } });
    for (const p of frames) (matchPacket(toB, p.data, decode(p.data), 0) ? b : a).mb.receive(p);
    return sharedPairs(heldPairs(a.mb, b.mb));
  };
  t.deepEqual(run(nat.poolConfig!({ key: 'host', buckets: 4, inside })), []);
  t.is(run({ partitionBuckets: 4 }).length, 1, 'control: with the flow key both keep port 40000');
});

interface PoolRun {
  key: PartitionKeyKind;
  inside: string[];
}

for (const { key, inside } of [{ key: 'flow', inside: [] }, { key: 'host', inside: INSIDE }] as PoolRun[]) {
  test(`mercury_emix.pcap through a ${key}-partitioned pool of two, merged, lists the translations one instance does`, (t) => {
    const BUCKETS = 64;
    const config = nat.poolConfig!({ key, buckets: BUCKETS, inside });
    const packets = capture('mercury_emix.pcap');
    const end = ts(packets.at(-1)!);
    const timeout = Math.max(NAT_DEFAULTS.udpTimeout, NAT_DEFAULTS.tcpEstablishedTimeout);

    // The second instance gets the buckets that go quiet for good long before the capture ends:
    // the unscaled instance sees later packets and expires their flows; that instance never does.
    const lastSeen = new Map<number, number>();
    for (const p of packets) lastSeen.set(bucketOf(key, BUCKETS, inside, p), ts(p));
    const quiet = [...lastSeen].filter(([, last]) => last < end - timeout).map(([b]) => b).sort((x, y) => x - y);
    t.true(quiet.length > 0 && quiet.length < lastSeen.size);
    const filter: FlowFilter = { buckets: { key, of: BUCKETS, ids: quiet, ...(key === 'host' ? { inside } : {}) } };
    const toB = compileFilter(filter);

    const alone = natInstance(config);
    for (const p of packets) alone.mb.receive(p);

    // Scale 1 -> 2 a fifth of the way in: the quiet buckets' flows move to b, then both run on.
    const a = natInstance(config);
    const b = natInstance(config);
    const cut = Math.floor(packets.length / 5);
    replay(t, packets.slice(0, cut), () => a, [a]);
    move(a.mb, b.mb, filter, SCOPES.filter((s) => s !== 'all-flows'));
    t.true(b.mb.tables.flows.size > 0, 'flows moved');
    replay(t, packets.slice(cut), (p) => (matchPacket(toB, p.data, decode(p.data, p.linkType), p.inPort) ? b : a), [a, b]);
    checkWire(t, packets, a, b);

    const reference = outputs(alone.mb);
    const stale = outputs(b.mb).translations.filter((x) => !x.expired).map((x) => JSON.stringify([x.internal, x.remote]));
    const expiredAlone = new Set(reference.translations.filter((x) => x.expired).map((x) => JSON.stringify([x.internal, x.remote])));
    t.true(stale.length > 0 && stale.every((x) => expiredAlone.has(x)), 'b holds live translations the unscaled instance expired');

    const pool = merged(config, a, b);
    const flows = pool.translations.map((x) => JSON.stringify([x.internal, x.remote]));
    t.is(new Set(flows).size, flows.length, 'one translation per flow');
    t.deepEqual(compared(pool), compared(reference));
    t.true(reference.translations.length > 0);
    t.log(`${reference.translations.length} translations (${reference.live.translations} live unscaled, ${pool.live.translations} in the pool); `
      + `${quiet.length} of ${lastSeen.size} buckets quiet; ${stale.length} stale at b`);
  });
}
