import test, { type ExecutionContext } from 'ava';
import { parseIp } from './address.js';
import { decode } from './decode.js';
import { compileFilter, FilterError, isMatchAll, matchFlowKey, matchHost, matchPacket, type FlowFilter } from './filter.js';
import { hostHash, PARTITION_KEYS } from './hash.js';
import { packetFlow, type FlowKey } from './key.js';
import { tcpFrame } from '../traffic/frames.js';

const tcp = (src: string, dst: string, sport: number, dport: number) =>
  tcpFrame({ src, dst, sport, dport, flags: 0x10, seq: 1, ack: 1, payload: new Uint8Array(0) });

/** Inserts VLAN tags (outermost first) after the MAC addresses. */
const tagged = (f: Buffer, ...tags: [tpid: number, vid: number][]) =>
  Buffer.concat([f.subarray(0, 12), ...tags.map(([tpid, vid]) => Buffer.from([tpid >> 8, tpid & 0xff, vid >> 8, vid & 0xff])), f.subarray(12)]);

const ARP = (() => { const f = Buffer.alloc(42); f.writeUInt16BE(0x0806, 12); return f; })();

const matches = (filter: FlowFilter, f: Buffer, inPort = 1) => matchPacket(compileFilter(filter), f, decode(f), inPort);

function filterError(t: ExecutionContext, raw: unknown, field: string, text: string, path?: string): void {
  const e = t.throws(() => compileFilter(raw, path), { instanceOf: FilterError });
  t.is(e?.field, field);
  t.true(e!.message.startsWith(`${field}: `) && e!.message.includes(text), e?.message);
}

test('compile errors name the field and the problem', (t) => {
  filterError(t, { nwSrc: '10.0.0.0/40' }, 'filter.nwSrc', 'prefix length 40 exceeds 32');
  filterError(t, { nwDst: '::/129' }, 'filter.nwDst', 'prefix length 129 exceeds 128');
  filterError(t, { tpDst: 70000 }, 'filter.tpDst', 'port 70000 is out of range 0-65535');
  filterError(t, { tpSrc: 1.5 }, 'filter.tpSrc', 'must be an integer');
  filterError(t, { nwProto: 'tpc' }, 'filter.nwProto', 'unknown protocol name "tpc"');
  filterError(t, { nwProto: 256 }, 'filter.nwProto', 'out of range');
  filterError(t, { vlan: 4096 }, 'filter.vlan', 'VLAN id 4096 is out of range');
  filterError(t, { nwsrc: '10.0.0.1' }, 'filter.nwsrc', 'unknown field');
  filterError(t, { bidirectional: 'yes' }, 'filter.bidirectional', 'must be true or false');
  filterError(t, { nwSrc: '10.0.0.0/8', nwDst: '::1' }, 'filter.nwDst', 'mixes IPv4 and IPv6');
  filterError(t, [], 'filter', 'must be an object');
  filterError(t, { buckets: { key: 'flow', of: 4, ids: [1, 4] } }, 'filter.buckets.ids[1]', 'bucket id 4 is out of range 0-3');
  filterError(t, { buckets: { key: 'port', of: 4, ids: [] } }, 'filter.buckets.key', 'must be one of flow, hostPair, host');
  filterError(t, { buckets: { key: 'flow', of: 0, ids: [] } }, 'filter.buckets.of', 'out of range');
  filterError(t, { buckets: { key: 'host', of: 2, ids: [0], inside: ['10/8'] } }, 'filter.buckets.inside[0]', 'not an IPv4 or IPv6');
  filterError(t, { buckets: { key: 'flow', of: 2, ids: [0], seed: 1 } }, 'filter.buckets.seed', 'unknown field');
  filterError(t, { tpDst: -1 }, 'rules[2].match.tpDst', 'out of range', 'rules[2].match');
});

test('matchPacket is directional unless bidirectional', (t) => {
  const out = tcp('10.0.0.1', '192.0.2.1', 40000, 80);
  const back = tcp('192.0.2.1', '10.0.0.1', 80, 40000);
  const crossed = tcp('192.0.2.1', '10.0.0.1', 40000, 80);
  const f: FlowFilter = { nwSrc: '10.0.0.0/24', tpDst: 80 };
  t.deepEqual([out, back, crossed].map((p) => matches(f, p)), [true, false, false]);
  t.deepEqual([out, back, crossed].map((p) => matches({ ...f, bidirectional: true }, p)), [true, true, false]);
  t.true(matches({ nwSrc: '10.0.0.1', nwDst: '192.0.2.1', tpSrc: 40000, tpDst: 80 }, out));
  t.false(matches({ nwSrc: '10.0.0.1', nwDst: '192.0.2.2' }, out));
  t.false(matches({ nwSrc: '::/0' }, out)); // an IPv6 prefix never matches an IPv4 packet
});

test('matchPacket on link-layer fields and protocol names', (t) => {
  const p = tcp('10.0.0.1', '10.0.0.2', 1, 2);
  t.true(matches({ nwProto: 'tcp' }, p));
  t.true(matches({ nwProto: 'TCP' }, p));
  t.true(matches({ nwProto: 6 }, p));
  t.false(matches({ nwProto: 'udp' }, p));
  t.true(matches({ dlType: 0x0800 }, p));
  t.false(matches({ dlType: 0x86dd }, p));
  t.true(matches({ inPort: 3 }, p, 3));
  t.false(matches({ inPort: 3 }, p, 4));
  t.false(matches({ vlan: 42 }, p));
  t.true(matches({ vlan: 42 }, tagged(p, [0x8100, 42])));
  t.true(matches({ vlan: 42, dlType: 0x0800, nwProto: 'tcp' }, tagged(p, [0x8100, 42])));
  t.true(matches({ vlan: 100 }, tagged(p, [0x88a8, 100], [0x8100, 42]))); // the outermost tag
  t.false(matches({ vlan: 42 }, tagged(p, [0x88a8, 100], [0x8100, 42])));
});

test('packets without IP match only filters without IP fields', (t) => {
  t.true(matches({}, ARP));
  t.true(matches({ dlType: 0x0806 }, ARP));
  t.true(matches({ inPort: 7 }, ARP, 7));
  t.true(matches({ vlan: 9 }, tagged(ARP, [0x8100, 9])));
  t.false(matches({ dlType: 0x0800 }, ARP));
  for (const f of [{ nwProto: 'tcp' }, { nwSrc: '0.0.0.0/0' }, { nwDst: '::/0' }, { tpSrc: 0 }, { tpDst: 0 },
    { buckets: { key: 'flow' as const, of: 1, ids: [0] } }]) {
    t.false(matches(f, ARP), JSON.stringify(f));
  }
});

test('matchFlowKey matches either orientation, ignoring vlan and inPort', (t) => {
  const key: FlowKey = { proto: 6, a: { ip: '10.0.0.1', port: 40000 }, b: { ip: '192.0.2.1', port: 80 } };
  const m = (f: FlowFilter) => matchFlowKey(compileFilter(f), key);
  t.true(m({ nwSrc: '10.0.0.0/8', tpDst: 80 }));
  t.true(m({ nwSrc: '192.0.2.0/24', tpSrc: 80 })); // the b -> a direction
  t.true(m({ nwDst: '10.0.0.1', tpDst: 40000 }));
  t.false(m({ nwSrc: '10.0.0.0/8', tpSrc: 80 })); // fields from different directions
  t.false(m({ nwSrc: '10.0.0.0/8', nwDst: '10.0.0.0/8' }));
  t.true(m({ nwProto: 'tcp', dlType: 0x0800, vlan: 5, inPort: 9 }));
  t.false(m({ nwProto: 'udp' }));
  t.false(m({ dlType: 0x86dd }));
});

test('matchHost: either prefix, and host buckets exactly', (t) => {
  const m = (f: FlowFilter, ip: string) => matchHost(compileFilter(f), ip);
  t.true(m({ nwSrc: '10.0.0.0/8' }, '10.1.2.3'));
  t.false(m({ nwSrc: '10.0.0.0/8' }, '192.0.2.1'));
  t.true(m({ nwDst: '192.0.2.0/24' }, '192.0.2.1'));
  t.true(m({ nwSrc: '10.0.0.0/8', nwDst: '192.0.2.0/24' }, '192.0.2.1'));
  t.false(m({ nwSrc: '10.0.0.0/8', nwDst: '192.0.2.0/24' }, '172.16.0.1'));
  t.false(m({ dlType: 0x86dd }, '10.1.2.3'));
  t.true(m({ dlType: 0x86dd }, '2001:db8::1'));
  t.false(m({}, 'not-an-address'));
  const ip = '10.1.2.3';
  const bucket = hostHash(parseIp(ip)!) % 4;
  t.true(m({ buckets: { key: 'host', of: 4, ids: [bucket] } }, ip));
  t.false(m({ buckets: { key: 'host', of: 4, ids: [0, 1, 2, 3].filter((b) => b !== bucket) } }, ip));
  // under flow or hostPair keys a host's flows span every bucket, so its state goes everywhere
  t.true(m({ buckets: { key: 'flow', of: 4, ids: [] } }, ip));
  t.true(m({ buckets: { key: 'hostPair', of: 4, ids: [] } }, ip));
});

test('two bucket filters splitting 8 buckets partition packets and flow keys alike', (t) => {
  for (const key of PARTITION_KEYS) {
    const half = (ids: number[]) => compileFilter({ buckets: { key, of: 8, ids, inside: ['10.0.0.0/8'] } });
    const [low, high] = [half([0, 1, 2, 3]), half([4, 5, 6, 7])];
    const seen = [0, 0];
    for (let i = 0; i < 2000; i++) {
      // half the flows have one end inside 10/8, in either position
      const inner = `10.${(i >> 8) & 255}.${i & 255}.1`;
      const outer = `${i % 2 ? 9 : 192}.0.${(i * 7) & 255}.${(i * 13) & 255}`;
      const src = i % 4 < 2 ? inner : outer;
      for (const p of [tcp(src, outer, 1024 + ((i * 31) % 60000), 80), tcp(outer, src, 80, 1024 + ((i * 31) % 60000))]) {
        const d = decode(p);
        const inLow = matchPacket(low, p, d, 1);
        t.not(inLow, matchPacket(high, p, d, 1), `${key} packet ${i}`);
        const flow = packetFlow(p, d)!;
        t.is(matchFlowKey(low, flow.key), inLow, `${key} flow ${flow.id}`);
        t.not(matchFlowKey(high, flow.key), inLow);
        seen[inLow ? 0 : 1]++;
      }
    }
    t.true(seen[0] > 1000 && seen[1] > 1000, `${key}: ${seen.join('/')}`); // both halves get traffic
  }
  t.false(isMatchAll(compileFilter({ buckets: { key: 'flow', of: 1, ids: [0] } })));
  t.true(isMatchAll(compileFilter({ bidirectional: true })));
});

test('except leaves out the packets and flows any of its filters matches, not hosts', (t) => {
  const f: FlowFilter = { nwSrc: '10.0.0.0/8', bidirectional: true, except: [{ nwDst: '192.0.2.1', bidirectional: true }, { tpDst: 53 }] };
  t.true(matches(f, tcp('10.0.0.1', '192.0.2.2', 1000, 80)));
  t.false(matches(f, tcp('10.0.0.1', '192.0.2.1', 1000, 80)));
  t.false(matches(f, tcp('192.0.2.1', '10.0.0.1', 80, 1000)), 'both directions of the excepted flow');
  t.false(matches(f, tcp('10.0.0.1', '192.0.2.2', 1000, 53)));
  const c = compileFilter(f);
  const key = (b: string, port: number): FlowKey => packetFlow(tcp('10.0.0.1', b, 1000, port), decode(tcp('10.0.0.1', b, 1000, port)))!.key;
  t.true(matchFlowKey(c, key('192.0.2.2', 80)));
  t.false(matchFlowKey(c, key('192.0.2.1', 80)));
  t.false(matchFlowKey(c, key('192.0.2.2', 53)));
  t.true(matchHost(c, '10.0.0.1'), 'a host\'s state gathers excepted flows and others alike');
  t.false(isMatchAll(compileFilter({ except: [{ tpDst: 53 }] })));
  filterError(t, { except: { tpDst: 53 } }, 'filter.except', 'must be an array of filters');
  filterError(t, { except: [{}, { tpDst: -1 }] }, 'filter.except[1].tpDst', 'out of range');
});
