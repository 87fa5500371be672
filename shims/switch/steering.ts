/**
 * A flow table's plan for lookups whose cost does not grow with the number of instances. A pool's
 * table is pins, then one bucket rule per instance at one priority, then fallbacks; scanning it
 * hashes the packet once per bucket rule. The plan hashes it once in all: the bucket rules become
 * an array from bucket to the rule that takes it, and exact 5-tuple pins a map from the flow's
 * hash to the pins of that hash. Every other rule is still matched in table order, so the result
 * is always the scan's: the highest priority wins, ties to the rule added first.
 */
import { ipText, type Prefix } from '../flow/address.js';
import type { Decoded } from '../flow/decode.js';
import { type CompiledFilter, matchPacket } from '../flow/filter.js';
import { keyHash, packetHash } from '../flow/hash.js';
import { canonicalKey } from '../flow/key.js';
import type { TableEntry } from './table.js';

type Buckets = NonNullable<CompiledFilter['buckets']>;

/** An entry with its position in table order. */
interface Ranked {
  entry: TableEntry;
  rank: number;
}

const NO_PREFIXES: readonly Prefix[] = [];

/** Matches every IP packet of its buckets and nothing else, so its bucket alone decides. */
function bucketsOnly(f: CompiledFilter): boolean {
  return f.buckets !== null && f.src === null && f.dst === null && f.tpSrc < 0 && f.tpDst < 0 && f.proto < 0
    && f.dlType < 0 && f.vlan < 0 && f.inPort < 0 && f.except.length === 0;
}

const samePrefix = (p: Prefix, q: Prefix) => p.length === q.length && p.bytes.length === q.bytes.length && p.bytes.every((x, i) => x === q.bytes[i]);

/** The same hash and modulus, so one bucket number serves both rules. */
function samePartition(a: Buckets, b: Buckets): boolean {
  return a.key === b.key && a.of === b.of && a.inside.length === b.inside.length && a.inside.every((p, i) => samePrefix(p, b.inside[i]));
}

/**
 * The flow hash of the one 5-tuple a filter matches, or null when it matches more. Any packet it
 * matches (either way round, the hash being symmetric) hashes to this; other fields it has are
 * checked by matching the packet against the whole filter.
 */
function exactFlowHash(f: CompiledFilter): number | null {
  if (!f.src || !f.dst || f.tpSrc < 0 || f.tpDst < 0 || f.proto < 0 || f.buckets) return null;
  if (f.src.length !== f.src.bytes.length * 8 || f.dst.length !== f.dst.bytes.length * 8) return null;
  const key = canonicalKey({ proto: f.proto, a: { ip: ipText(f.src.bytes), port: f.tpSrc }, b: { ip: ipText(f.dst.bytes), port: f.tpDst } });
  return keyHash('flow', NO_PREFIXES, key);
}

export class Steering {
  constructor(
    /** Exact pins above the bucket rules, by flow hash, each list in table order. */
    private readonly exact: Map<number, Ranked[]> | null,
    /** The other rules above the bucket rules, in table order. */
    private readonly above: readonly Ranked[],
    private readonly buckets: Buckets,
    /** owner[b]: the bucket rule that takes bucket b, or null. */
    private readonly owner: readonly (TableEntry | null)[],
    /** The rules below the bucket rules, in table order. */
    private readonly below: readonly TableEntry[],
  ) {}

  lookup(data: Uint8Array, d: Decoded, inPort: number): TableEntry | null {
    let pin: Ranked | undefined;
    if (this.exact && d.ipVersion !== 0) {
      pin = this.exact.get(packetHash('flow', NO_PREFIXES, data, d))?.find((r) => matchPacket(r.entry.filter, data, d, inPort));
    }
    const bound = pin ? pin.rank : Infinity;
    for (const r of this.above) {
      if (r.rank > bound) break;
      if (matchPacket(r.entry.filter, data, d, inPort)) return r.entry;
    }
    if (pin) return pin.entry;
    // Bucket rules match IP packets only.
    if (d.ipVersion !== 0) {
      const b = this.buckets;
      const e = this.owner[packetHash(b.key, b.inside, data, d) % b.of];
      if (e) return e;
    }
    for (const e of this.below) if (matchPacket(e.filter, data, d, inPort)) return e;
    return null;
  }
}

/**
 * Plans a table given in table order, or returns null when it has no bucket rules or they do not
 * fit one array: different priorities or partitions among them, or another rule sharing their
 * priority (its tie order would interleave with theirs). Such a table is scanned.
 */
export function planSteering(entries: readonly TableEntry[]): Steering | null {
  const bucketRules = entries.filter((e) => bucketsOnly(e.filter));
  if (bucketRules.length === 0) return null;
  const priority = bucketRules[0].rule.priority;
  const buckets = bucketRules[0].filter.buckets!;
  if (!bucketRules.every((e) => e.rule.priority === priority && samePartition(e.filter.buckets!, buckets))) return null;
  if (entries.some((e) => e.rule.priority === priority && !bucketsOnly(e.filter))) return null;
  const owner = new Array<TableEntry | null>(buckets.of).fill(null);
  // In table order: of two rules claiming a bucket, the one added first keeps it.
  for (const e of bucketRules) for (const id of e.filter.buckets!.ids) owner[id] ??= e;
  const exact = new Map<number, Ranked[]>();
  const above: Ranked[] = [];
  entries.forEach((entry, rank) => {
    if (entry.rule.priority <= priority) return;
    const h = exactFlowHash(entry.filter);
    if (h === null) above.push({ entry, rank });
    else exact.set(h, [...(exact.get(h) ?? []), { entry, rank }]);
  });
  return new Steering(exact.size > 0 ? exact : null, above, buckets, owner, entries.filter((e) => e.rule.priority < priority));
}
