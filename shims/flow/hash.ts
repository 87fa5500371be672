/**
 * The symmetric partition hash. The switch computes it from packet bytes and every middlebox from
 * its stored flow keys; both feed the same bytes in the same canonical order, so a set of bucket ids
 * names exactly the same flows on both sides.
 */
import { compareBytes, type Prefix, prefixContains, type IpBytes } from './address.js';
import type { Decoded } from './decode.js';
import { endpointBytes, type FlowKey } from './key.js';

/** What a pool's flows are partitioned by: each flow, each pair of hosts, or each inside host. */
export const PARTITION_KEYS = ['flow', 'hostPair', 'host'] as const;
export type PartitionKeyKind = (typeof PARTITION_KEYS)[number];

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

function fnv(h: number, b: Uint8Array, off: number, len: number): number {
  for (let i = 0; i < len; i++) h = Math.imul(h ^ b[off + i], FNV_PRIME);
  return h;
}

function fnvPort(h: number, port: number): number {
  h = Math.imul(h ^ (port >> 8), FNV_PRIME);
  return Math.imul(h ^ (port & 0xff), FNV_PRIME);
}

/** Final avalanche so that bucket = hash % n spreads well even for small n. */
function finish(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Which endpoint a `host` key selects: the one inside the prefixes, else the lower one. */
function pickHost(inside: readonly Prefix[], lo: [Uint8Array, number], hi: [Uint8Array, number], len: number): [Uint8Array, number] {
  if (inside.length === 0) return lo;
  const loIn = inside.some((p) => prefixContains(p, lo[0], lo[1], len));
  const hiIn = inside.some((p) => prefixContains(p, hi[0], hi[1], len));
  return hiIn && !loIn ? hi : lo;
}

function hashParts(kind: PartitionKeyKind, inside: readonly Prefix[], proto: number,
  lo: [Uint8Array, number], loPort: number, hi: [Uint8Array, number], hiPort: number, len: number): number {
  let h = FNV_OFFSET;
  switch (kind) {
    case 'flow':
      h = Math.imul(h ^ (proto & 0xff), FNV_PRIME);
      h = fnvPort(fnv(h, lo[0], lo[1], len), loPort);
      h = fnvPort(fnv(h, hi[0], hi[1], len), hiPort);
      break;
    case 'hostPair':
      h = fnv(fnv(h, lo[0], lo[1], len), hi[0], hi[1], len);
      break;
    case 'host': {
      const host = pickHost(inside, lo, hi, len);
      h = fnv(h, host[0], host[1], len);
      break;
    }
  }
  return finish(h);
}

/** Hash of a decoded packet's flow; packets without IP hash to 0. */
export function packetHash(kind: PartitionKeyKind, inside: readonly Prefix[], data: Uint8Array, d: Decoded): number {
  if (d.ipVersion === 0) return 0;
  const cmp = compareBytes(data, d.srcOff, d.addrLen, data, d.dstOff, d.addrLen);
  const srcLow = cmp < 0 || (cmp === 0 && d.sport <= d.dport);
  const s: [Uint8Array, number] = [data, d.srcOff];
  const t: [Uint8Array, number] = [data, d.dstOff];
  return srcLow
    ? hashParts(kind, inside, d.proto, s, d.sport, t, d.dport, d.addrLen)
    : hashParts(kind, inside, d.proto, t, d.dport, s, d.sport, d.addrLen);
}

/** Hash of a canonical flow key (a is the lower endpoint). */
export function keyHash(kind: PartitionKeyKind, inside: readonly Prefix[], key: FlowKey): number {
  const [a, b] = endpointBytes(key);
  return hashParts(kind, inside, key.proto, [a, 0], key.a.port, [b, 0], key.b.port, a.length);
}

/** Hash of one host address, as a `host` key gives for every flow that selects this host. */
export function hostHash(ip: IpBytes): number {
  return finish(fnv(FNV_OFFSET, ip, 0, ip.length));
}
