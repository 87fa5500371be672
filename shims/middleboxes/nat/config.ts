/** The NAT's configuration: which addresses are inside, what they are translated to, and for how long. */
import { parseIp, type Prefix, parsePrefix } from '../../flow/address.js';
import { PARTITION_KEYS, type PartitionKeyKind } from '../../flow/hash.js';
import { shown } from '../../flow/shown.js';
import { ConfigError } from '../../shim/definition.js';

/** An IPv4 prefix as a network and mask, both unsigned 32-bit, for a two-operation test per packet. */
export interface Ipv4Net {
  net: number;
  mask: number;
}

export interface NatConfig {
  internalPrefixes: readonly Ipv4Net[];
  /** External addresses as unsigned 32-bit numbers, in the configured order. */
  externalAddresses: readonly number[];
  portFirst: number;
  portLast: number;
  /** Ports are split into this many classes (port mod n), one per hash bucket of `partitionKey`. */
  partitionBuckets: number;
  /** The key the steering switch hashes into buckets, and with it the class of a new translation. */
  partitionKey: PartitionKeyKind;
  /** For the `host` key: the prefixes whose addresses are the hosts (as the pool's switch gets them). */
  partitionInside: readonly Prefix[];
  /** Idle timeouts in seconds of packet time. */
  tcpEstablishedTimeout: number;
  tcpTransitoryTimeout: number;
  udpTimeout: number;
}

/**
 * RFC 1918 space: in the shared captures the clients of most flows that leave their network sit
 * there (10.0/16, 172.16/12, 192.168/16 home and office LANs). Timeouts follow RFC 5382 (TCP:
 * 2 h 4 min established, 4 min transitory) and RFC 4787 (UDP: 5 min). 203.0.113.1 is TEST-NET-3,
 * which no capture uses, so a translated packet is told apart by its source address.
 *
 * partitionBuckets: a flow in hash bucket b (of `partitionKey`, with `partitionInside` for the
 * `host` key, as the steering switch computes it) is translated to a port p with p mod n = b. A
 * pool whose bucket count divides n gives each bucket to one instance at a time, so instances with
 * this same configuration never hand out the same port; 64 is the pool's default bucket count (any
 * of 1, 2, 4 ... 64 divides it). A pool sets all three from its partitioning (see `poolConfig` in
 * nat.ts): with the `hostPair` or `host` key every flow of a host pair or host lands on one
 * instance, so the class must come from that key, and such a flow has the ports of one class.
 */
export const NAT_DEFAULTS = {
  internalPrefixes: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'],
  externalAddresses: ['203.0.113.1'],
  portRange: [1024, 65535],
  partitionBuckets: 64,
  partitionKey: 'flow',
  partitionInside: [] as string[],
  tcpEstablishedTimeout: 7440,
  tcpTransitoryTimeout: 240,
  udpTimeout: 300,
};

const FIELDS = Object.keys(NAT_DEFAULTS);

export function ipv4Number(b: Uint8Array, off: number): number {
  return ((b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3]) >>> 0;
}

export function ipv4String(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
}

function stringList(field: string, v: unknown): string[] {
  if (!Array.isArray(v) || v.length === 0 || !v.every((s) => typeof s === 'string')) {
    throw new ConfigError(field, `must be a non-empty list of strings, got ${shown(v)}`);
  }
  return v;
}

function parseInternal(v: unknown): Ipv4Net[] {
  return stringList('internalPrefixes', v).map((text) => {
    let p;
    try {
      p = parsePrefix(text);
    } catch (e) {
      throw new ConfigError('internalPrefixes', (e as Error).message);
    }
    if (p.bytes.length !== 4) throw new ConfigError('internalPrefixes', `"${text}" is not an IPv4 prefix (only IPv4 is translated)`);
    const mask = p.length === 0 ? 0 : (0xffffffff << (32 - p.length)) >>> 0;
    return { net: (ipv4Number(p.bytes, 0) & mask) >>> 0, mask };
  });
}

function parseExternal(v: unknown): number[] {
  const out = stringList('externalAddresses', v).map((text) => {
    const b = parseIp(text);
    if (!b || b.length !== 4) throw new ConfigError('externalAddresses', `"${text}" is not an IPv4 address`);
    return ipv4Number(b, 0);
  });
  const dup = out.find((a, i) => out.indexOf(a) !== i);
  if (dup !== undefined) throw new ConfigError('externalAddresses', `"${ipv4String(dup)}" is listed twice`);
  return out;
}

function parsePortRange(v: unknown): [number, number] {
  if (!Array.isArray(v) || v.length !== 2 || !v.every((n) => Number.isInteger(n))) {
    throw new ConfigError('portRange', `must be [first, last], two whole port numbers, got ${shown(v)}`);
  }
  const [first, last] = v as [number, number];
  for (const p of [first, last]) if (p < 1 || p > 65535) throw new ConfigError('portRange', `port ${p} is outside 1-65535`);
  if (first > last) throw new ConfigError('portRange', `[${first}, ${last}] is inverted: first must not exceed last`);
  return [first, last];
}

function parsePartitionBuckets(v: unknown, portFirst: number, portLast: number): number {
  if (!Number.isInteger(v) || (v as number) < 1 || (v as number) > 65535) throw new ConfigError('partitionBuckets', `must be a whole number from 1 to 65535, got ${shown(v)}`);
  const n = v as number;
  const ports = portLast - portFirst + 1;
  if (ports < n) throw new ConfigError('partitionBuckets', `${n} buckets need at least ${n} ports; portRange [${portFirst}, ${portLast}] has ${ports}`);
  return n;
}

function parsePartitionKey(v: unknown): PartitionKeyKind {
  if (typeof v !== 'string' || !PARTITION_KEYS.includes(v as PartitionKeyKind)) throw new ConfigError('partitionKey', `must be one of ${PARTITION_KEYS.join(', ')}, got ${shown(v)}`);
  return v as PartitionKeyKind;
}

function parsePartitionInside(v: unknown): Prefix[] {
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw new ConfigError('partitionInside', `must be a list of prefixes, got ${shown(v)}`);
  return v.map((text: string) => {
    try {
      return parsePrefix(text);
    } catch (e) {
      throw new ConfigError('partitionInside', (e as Error).message);
    }
  });
}

function parseTimeout(field: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new ConfigError(field, `must be a positive number of seconds, got ${shown(v)}`);
  return v;
}

export function parseNatConfig(values: Record<string, unknown>): NatConfig {
  for (const k of Object.keys(values)) if (!FIELDS.includes(k)) throw new ConfigError(k, `unknown setting for the nat (known: ${FIELDS.join(', ')})`);
  const [portFirst, portLast] = parsePortRange(values.portRange);
  return {
    internalPrefixes: parseInternal(values.internalPrefixes),
    externalAddresses: parseExternal(values.externalAddresses),
    portFirst,
    portLast,
    partitionBuckets: parsePartitionBuckets(values.partitionBuckets, portFirst, portLast),
    partitionKey: parsePartitionKey(values.partitionKey),
    partitionInside: parsePartitionInside(values.partitionInside),
    tcpEstablishedTimeout: parseTimeout('tcpEstablishedTimeout', values.tcpEstablishedTimeout),
    tcpTransitoryTimeout: parseTimeout('tcpTransitoryTimeout', values.tcpTransitoryTimeout),
    udpTimeout: parseTimeout('udpTimeout', values.udpTimeout),
  };
}

export function isInside(c: NatConfig, addr: number): boolean {
  for (const p of c.internalPrefixes) if (((addr & p.mask) >>> 0) === p.net) return true;
  return false;
}
