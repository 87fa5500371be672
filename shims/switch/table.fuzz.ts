/**
 * Fuzz properties of the flow table's planned lookups: run briefly by table.fuzz.test.ts, at
 * length by bench/fuzz.ts. After every batch of random changes (bucket rules of one partition or
 * of several, exact and wildcard pins, fallbacks, at mixed priorities, ids reused so rules are
 * modified), each packet finds the very entry the plain scan in table order finds.
 */
import fc from 'fast-check';
import type { Properties } from '../../bench/fuzz-properties.js';
import { decode } from '../flow/decode.js';
import type { FlowFilter } from '../flow/filter.js';
import type { Rule, RuleChange } from '../protocol/messages.js';
import { tcpFrame } from '../traffic/frames.js';
import { FlowTable, TableError } from './table.js';

// Few addresses and ports, so that random pins and random packets meet often.
const ADDRESSES = ['10.0.0.1', '10.0.1.7', '192.0.2.1'];
const PORTS = [80, 1000];
const IDS = ['pin-a', 'pin-b', 'buckets-x', 'buckets-y', 'buckets-z', 'r5', 'r6', 'non-ip'];
const PRIORITIES = [0, 50, 100, 100, 100, 200];

interface Partition {
  key: 'flow' | 'hostPair' | 'host';
  of: number;
  inside?: string[];
}

const partition: fc.Arbitrary<Partition> = fc.record({
  key: fc.constantFrom('flow' as const, 'hostPair' as const, 'host' as const),
  of: fc.integer({ min: 1, max: 8 }),
  inside: fc.constantFrom(['10.0.0.0/8'], ['192.0.2.0/24', '10.0.1.0/24']),
}, { requiredKeys: ['key', 'of'] });

const bucketMatch = (p: Partition): fc.Arbitrary<FlowFilter> => fc.subarray(Array.from({ length: p.of }, (_, i) => i)).map((ids) => ({
  buckets: { key: p.key, of: p.of, ids, ...(p.inside ? { inside: p.inside } : {}) },
}));

const address = fc.constantFrom(...ADDRESSES);
const port = fc.constantFrom(...PORTS);
const exactPin: fc.Arbitrary<FlowFilter> = fc.record({
  nwSrc: address, nwDst: address, tpSrc: port, tpDst: port, nwProto: fc.constantFrom('tcp', 'udp'),
  bidirectional: fc.boolean(), inPort: fc.integer({ min: 0, max: 1 }),
}, { requiredKeys: ['nwSrc', 'nwDst', 'tpSrc', 'tpDst', 'nwProto'] });
const wildcard: fc.Arbitrary<FlowFilter> = fc.record({
  nwSrc: fc.constantFrom('10.0.0.0/24', '192.0.2.0/24', '10.0.0.1/32'), tpDst: port, nwProto: fc.constantFrom('tcp', 'udp', 6),
  inPort: fc.integer({ min: 0, max: 1 }), dlType: fc.constantFrom(0x0800, 0x0806), bidirectional: fc.boolean(),
  except: fc.array(fc.record({ tpSrc: port, nwDst: address }, { requiredKeys: [] }), { maxLength: 2 }),
}, { requiredKeys: [] });

/** Mostly the one partition of the run, so tables fit the index; sometimes another, so they do not. */
const match = (p: Partition): fc.Arbitrary<FlowFilter> => fc.oneof(
  { weight: 5, arbitrary: bucketMatch(p) },
  { weight: 1, arbitrary: partition.chain(bucketMatch) },
  { weight: 2, arbitrary: exactPin },
  { weight: 2, arbitrary: wildcard },
  { weight: 1, arbitrary: bucketMatch(p).chain((b) => wildcard.map((w) => ({ ...w, ...b }))) },
);

const rule = (p: Partition): fc.Arbitrary<Rule> => fc.record({
  id: fc.constantFrom(...IDS), priority: fc.constantFrom(...PRIORITIES), match: match(p),
}).map(({ id, priority, match: m }) => ({ id, priority, match: m, action: { type: 'forward', instance: `to-${id}` } }));

const change = (p: Partition): fc.Arbitrary<RuleChange> => fc.oneof(
  { weight: 4, arbitrary: rule(p).map((r): RuleChange => ({ op: 'add', rule: r })) },
  { weight: 1, arbitrary: fc.constantFrom(...IDS).map((ruleId): RuleChange => ({ op: 'delete', ruleId })) },
  { weight: 1, arbitrary: fc.array(rule(p), { maxLength: 6 }).map((rules): RuleChange => ({ op: 'replace-all', rules })) },
);

interface Packet {
  data: Buffer;
  inPort: number;
}

function arpFrame(): Buffer {
  const f = Buffer.alloc(42);
  f.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 1], 0);
  f.writeUInt16BE(0x0806, 12);
  return f;
}

const packet: fc.Arbitrary<Packet> = fc.oneof(
  { weight: 9, arbitrary: fc.record({ src: address, dst: address, sport: port, dport: port, udp: fc.boolean(), inPort: fc.integer({ min: 0, max: 1 }) })
    .map(({ src, dst, sport, dport, udp, inPort }) => {
      const data = tcpFrame({ src, dst, sport, dport, flags: 0x10, seq: 1, ack: 1, payload: new Uint8Array(0) });
      if (udp) data[14 + 9] = 17; // the first 8 bytes of the TCP header read as a UDP header with the same ports
      return { data, inPort };
    }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 1 }).map((inPort) => ({ data: arpFrame(), inPort })) },
);

function sameAsScan(batches: RuleChange[][], packets: Packet[]): void {
  const table = new FlowTable();
  const decoded = packets.map((p) => ({ ...p, d: decode(p.data) }));
  for (const batch of batches) {
    try {
      table.apply(batch);
    } catch (e) {
      if (!(e instanceof TableError)) throw e;
    }
    for (const p of decoded) {
      const got = table.lookup(p.data, p.d, p.inPort);
      const want = table.scan(p.data, p.d, p.inPort);
      if (got !== want) {
        throw new Error(`lookup gave ${got?.rule.id ?? 'a miss'}, the scan ${want?.rule.id ?? 'a miss'} (indexed: ${table.indexed}); rules ${JSON.stringify(table.rules())}`);
      }
    }
  }
}

export const PROPERTIES: Properties = {
  'after any changes, the planned lookup finds the entry the scan in table order finds':
    fc.property(partition.chain((p) => fc.array(fc.array(change(p), { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 6 })),
      fc.array(packet, { minLength: 1, maxLength: 40 }), sameAsScan),
};
