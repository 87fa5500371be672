/**
 * Flow filters: OpenFlow-style wildcard matches (absent field = any) plus hash-bucket selection.
 * A filter is validated and compiled once; matching then touches no strings on the packet path.
 */
import { parseIp, parsePrefix, prefixContains, type Prefix } from './address.js';
import { type Decoded, ETH_IPV4, ETH_IPV6 } from './decode.js';
import { hostHash, keyHash, packetHash, PARTITION_KEYS, type PartitionKeyKind } from './hash.js';
import { endpointBytes, type FlowKey } from './key.js';
import { shown } from './shown.js';

export interface BucketSelector {
  key: PartitionKeyKind;
  of: number;
  ids: number[];
  /** For key `host`: the prefixes whose addresses are the hosts (e.g. the protected network). */
  inside?: string[];
}

export interface FlowFilter {
  nwSrc?: string;
  nwDst?: string;
  tpSrc?: number;
  tpDst?: number;
  nwProto?: number | string;
  dlType?: number;
  vlan?: number;
  inPort?: number;
  bidirectional?: boolean;
  buckets?: BucketSelector;
  /**
   * Leaves out the packets and flows any of these matches (a bucket move leaves out the flows that
   * pins route); per-host state is not left out (see matchHost).
   */
  except?: FlowFilter[];
}

export class FilterError extends Error {
  constructor(readonly field: string, readonly detail: string) {
    super(`${field}: ${detail}`);
    this.name = 'FilterError';
  }
}

/** IP protocol numbers a filter's nwProto may name (the CRDs' CEL rule lists the same names). */
export const PROTOCOL_NUMBERS = { icmp: 1, igmp: 2, tcp: 6, udp: 17, gre: 47, esp: 50, ah: 51, icmpv6: 58, sctp: 132 } as const;
export type ProtocolName = keyof typeof PROTOCOL_NUMBERS;
export const PROTOCOL_NAMES = Object.keys(PROTOCOL_NUMBERS) as readonly ProtocolName[];
const FILTER_FIELDS = new Set(['nwSrc', 'nwDst', 'tpSrc', 'tpDst', 'nwProto', 'dlType', 'vlan', 'inPort', 'bidirectional', 'buckets', 'except']);

export interface CompiledFilter {
  readonly spec: FlowFilter;
  readonly src: Prefix | null;
  readonly dst: Prefix | null;
  readonly tpSrc: number;
  readonly tpDst: number;
  readonly proto: number;
  readonly dlType: number;
  readonly vlan: number;
  readonly inPort: number;
  readonly bidirectional: boolean;
  readonly buckets: { key: PartitionKeyKind; of: number; ids: Set<number>; inside: Prefix[] } | null;
  readonly except: readonly CompiledFilter[];
}

function integer(v: unknown, field: string, min: number, max: number, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new FilterError(field, `${what} must be an integer, got ${shown(v)}`);
  if (v < min || v > max) throw new FilterError(field, `${what} ${v} is out of range ${min}-${max}`);
  return v;
}

function prefix(v: unknown, field: string): Prefix {
  if (typeof v !== 'string') throw new FilterError(field, `expected an address or prefix string, got ${shown(v)}`);
  try {
    return parsePrefix(v);
  } catch (e) {
    throw new FilterError(field, (e as Error).message);
  }
}

function protocol(v: unknown, field: string): number {
  if (typeof v === 'string') {
    const n = (PROTOCOL_NUMBERS as Record<string, number>)[v.toLowerCase()];
    if (n === undefined) throw new FilterError(field, `unknown protocol name "${v}" (known: ${PROTOCOL_NAMES.join(', ')})`);
    return n;
  }
  return integer(v, field, 0, 255, 'protocol number');
}

/**
 * How deep `except` may nest. Routing needs one level (a bucket move's pins); the bound keeps a
 * peer's deeply nested filter from overflowing the stack, which would be no FilterError.
 */
const MAX_EXCEPT_DEPTH = 8;

/** Validates and compiles a filter; throws FilterError naming the offending field. `depth` counts the enclosing excepts. */
export function compileFilter(raw: unknown, path = 'filter', depth = 0): CompiledFilter {
  if (depth > MAX_EXCEPT_DEPTH) throw new FilterError(path, `except nested more than ${MAX_EXCEPT_DEPTH} deep`);
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new FilterError(path, 'must be an object');
  const f = raw as Record<string, unknown>;
  for (const k of Object.keys(f)) if (!FILTER_FIELDS.has(k)) throw new FilterError(`${path}.${k}`, 'unknown field');
  const src = f.nwSrc === undefined ? null : prefix(f.nwSrc, `${path}.nwSrc`);
  const dst = f.nwDst === undefined ? null : prefix(f.nwDst, `${path}.nwDst`);
  const tpSrc = f.tpSrc === undefined ? -1 : integer(f.tpSrc, `${path}.tpSrc`, 0, 65535, 'port');
  const tpDst = f.tpDst === undefined ? -1 : integer(f.tpDst, `${path}.tpDst`, 0, 65535, 'port');
  const proto = f.nwProto === undefined ? -1 : protocol(f.nwProto, `${path}.nwProto`);
  const dlType = f.dlType === undefined ? -1 : integer(f.dlType, `${path}.dlType`, 0, 0xffff, 'EtherType');
  const vlan = f.vlan === undefined ? -1 : integer(f.vlan, `${path}.vlan`, 0, 4095, 'VLAN id');
  const inPort = f.inPort === undefined ? -1 : integer(f.inPort, `${path}.inPort`, 0, 0xffff, 'port number');
  if (f.bidirectional !== undefined && typeof f.bidirectional !== 'boolean') {
    throw new FilterError(`${path}.bidirectional`, `must be true or false, got ${shown(f.bidirectional)}`);
  }
  if (src && dst && src.bytes.length !== dst.bytes.length) throw new FilterError(`${path}.nwDst`, 'mixes IPv4 and IPv6 with nwSrc');
  if (f.except !== undefined && !Array.isArray(f.except)) throw new FilterError(`${path}.except`, 'must be an array of filters');
  return {
    spec: f as FlowFilter, src, dst, tpSrc, tpDst, proto, dlType, vlan, inPort,
    bidirectional: f.bidirectional === true,
    buckets: f.buckets === undefined ? null : compileBuckets(f.buckets, `${path}.buckets`),
    except: ((f.except ?? []) as unknown[]).map((e, i) => compileFilter(e, `${path}.except[${i}]`, depth + 1)),
  };
}

function compileBuckets(raw: unknown, path: string): NonNullable<CompiledFilter['buckets']> {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new FilterError(path, 'must be an object');
  const b = raw as Record<string, unknown>;
  for (const k of Object.keys(b)) if (!['key', 'of', 'ids', 'inside'].includes(k)) throw new FilterError(`${path}.${k}`, 'unknown field');
  if (typeof b.key !== 'string' || !PARTITION_KEYS.includes(b.key as PartitionKeyKind)) {
    throw new FilterError(`${path}.key`, `must be one of ${PARTITION_KEYS.join(', ')}, got ${shown(b.key)}`);
  }
  const of = integer(b.of, `${path}.of`, 1, 1 << 20, 'bucket count');
  if (!Array.isArray(b.ids)) throw new FilterError(`${path}.ids`, 'must be an array of bucket ids');
  const ids = new Set<number>(b.ids.map((id, i) => integer(id, `${path}.ids[${i}]`, 0, of - 1, 'bucket id')));
  let inside: Prefix[] = [];
  if (b.inside !== undefined) {
    if (!Array.isArray(b.inside)) throw new FilterError(`${path}.inside`, 'must be an array of prefixes');
    inside = b.inside.map((p, i) => prefix(p, `${path}.inside[${i}]`));
  }
  return { key: b.key as PartitionKeyKind, of, ids, inside };
}

export const MATCH_ALL: CompiledFilter = compileFilter({});

function sideMatches(f: CompiledFilter, sa: Uint8Array, sOff: number, da: Uint8Array, dOff: number, len: number, sport: number, dport: number): boolean {
  if (f.src && !prefixContains(f.src, sa, sOff, len)) return false;
  if (f.dst && !prefixContains(f.dst, da, dOff, len)) return false;
  if (f.tpSrc >= 0 && sport !== f.tpSrc) return false;
  if (f.tpDst >= 0 && dport !== f.tpDst) return false;
  return true;
}

const needsIp = (f: CompiledFilter) => f.src !== null || f.dst !== null || f.tpSrc >= 0 || f.tpDst >= 0 || f.proto >= 0 || f.buckets !== null;

/** Matches one packet as the switch sees it (directional unless `bidirectional`). */
export function matchPacket(f: CompiledFilter, data: Uint8Array, d: Decoded, inPort: number): boolean {
  return matchPacketFields(f, data, d, inPort) && !f.except.some((e) => matchPacket(e, data, d, inPort));
}

function matchPacketFields(f: CompiledFilter, data: Uint8Array, d: Decoded, inPort: number): boolean {
  if (f.inPort >= 0 && inPort !== f.inPort) return false;
  if (f.dlType >= 0 && d.dlType !== f.dlType) return false;
  if (f.vlan >= 0 && (d.vlans.length === 0 || d.vlans[0] !== f.vlan)) return false;
  if (d.ipVersion === 0) return !needsIp(f);
  if (f.proto >= 0 && d.proto !== f.proto) return false;
  if (f.buckets && !f.buckets.ids.has(packetHash(f.buckets.key, f.buckets.inside, data, d) % f.buckets.of)) return false;
  if (sideMatches(f, data, d.srcOff, data, d.dstOff, d.addrLen, d.sport, d.dport)) return true;
  return f.bidirectional && sideMatches(f, data, d.dstOff, data, d.srcOff, d.addrLen, d.dport, d.sport);
}

/**
 * Matches per-flow state. A flow's state belongs to both its directions, so either orientation
 * may match; `vlan` and `inPort` describe where packets arrive, not flows, and are not consulted.
 */
export function matchFlowKey(f: CompiledFilter, key: FlowKey): boolean {
  return matchFlowKeyFields(f, key) && !f.except.some((e) => matchFlowKey(e, key));
}

function matchFlowKeyFields(f: CompiledFilter, key: FlowKey): boolean {
  if (f.proto >= 0 && key.proto !== f.proto) return false;
  const [a, b] = endpointBytes(key);
  if (f.dlType >= 0 && f.dlType !== (a.length === 4 ? ETH_IPV4 : ETH_IPV6)) return false;
  if (f.buckets && !f.buckets.ids.has(keyHash(f.buckets.key, f.buckets.inside, key) % f.buckets.of)) return false;
  return sideMatches(f, a, 0, b, 0, a.length, key.a.port, key.b.port) || sideMatches(f, b, 0, a, 0, a.length, key.b.port, key.a.port);
}

/**
 * Matches multi-flow state kept per host. A host matches when it lies in either address prefix
 * (it may be either end of its flows). Under a `host` bucket key its bucket is exact; under
 * `flow` or `hostPair` keys a host's flows span buckets, so its state matches every bucket set.
 * `except` leaves no host out: a host's state gathers flows that match it and flows that do not.
 */
export function matchHost(f: CompiledFilter, ip: string): boolean {
  const bytes = parseIp(ip);
  if (!bytes) return false;
  if (f.dlType >= 0 && f.dlType !== (bytes.length === 4 ? ETH_IPV4 : ETH_IPV6)) return false;
  if (f.src || f.dst) {
    const inSrc = f.src !== null && prefixContains(f.src, bytes, 0, bytes.length);
    const inDst = f.dst !== null && prefixContains(f.dst, bytes, 0, bytes.length);
    if (!inSrc && !inDst) return false;
  }
  if (f.buckets && f.buckets.key === 'host' && !f.buckets.ids.has(hostHash(bytes) % f.buckets.of)) return false;
  return true;
}

export function isMatchAll(f: CompiledFilter): boolean {
  return !needsIp(f) && f.dlType < 0 && f.vlan < 0 && f.inPort < 0 && f.except.length === 0;
}
