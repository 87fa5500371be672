/** The canonical, direction-free flow key: both directions of a flow give the same key. */
import { compareBytes, ipText, parseIp, type IpBytes } from './address.js';
import { type Decoded, dstText, srcText, PROTO_TCP, PROTO_UDP } from './decode.js';

export interface Endpoint {
  ip: string;
  port: number;
}

/** `a` is the lower endpoint (address bytes, then port); ports are 0 for protocols without them. */
export interface FlowKey {
  proto: number;
  a: Endpoint;
  b: Endpoint;
}

export interface PacketFlow {
  /** The key's string form, used to index state tables. */
  id: string;
  key: FlowKey;
  /** True when the packet travels from `a` to `b`. */
  forward: boolean;
}

export function flowId(key: FlowKey): string {
  return `${key.proto} ${key.a.ip} ${key.a.port} ${key.b.ip} ${key.b.port}`;
}

/** The flow of a decoded packet, or null when it has no IP header. */
export function packetFlow(data: Uint8Array, d: Decoded): PacketFlow | null {
  if (d.ipVersion === 0) return null;
  const cmp = compareBytes(data, d.srcOff, d.addrLen, data, d.dstOff, d.addrLen);
  const forward = cmp < 0 || (cmp === 0 && d.sport <= d.dport);
  const src = { ip: srcText(data, d), port: d.sport };
  const dst = { ip: dstText(data, d), port: d.dport };
  const key: FlowKey = forward ? { proto: d.proto, a: src, b: dst } : { proto: d.proto, a: dst, b: src };
  return { id: flowId(key), key, forward };
}

export function protoName(proto: number): string {
  return proto === PROTO_TCP ? 'tcp' : proto === PROTO_UDP ? 'udp' : String(proto);
}

/** Address bytes of a key's endpoints, parsed once per key object. */
const keyBytes = new WeakMap<FlowKey, [IpBytes, IpBytes]>();
export function endpointBytes(key: FlowKey): [IpBytes, IpBytes] {
  let v = keyBytes.get(key);
  if (!v) {
    const a = parseIp(key.a.ip);
    const b = parseIp(key.b.ip);
    if (!a || !b) throw new Error(`flow key has a malformed address: ${flowId(key)}`);
    v = [a, b];
    keyBytes.set(key, v);
  }
  return v;
}

/** Parses the string form `flowId` gives ("6 10.0.0.1 1234 10.0.0.2 80"); throws naming what is wrong. */
export function parseFlowId(id: string): FlowKey {
  const parts = id.split(' ');
  if (parts.length !== 5) throw new Error(`flow key "${id}" must be "proto addrA portA addrB portB"`);
  const num = (s: string, max: number, what: string) => {
    const n = Number(s);
    if (s === '' || !Number.isInteger(n) || n < 0 || n > max) throw new Error(`flow key "${id}": ${what} "${s}" is out of range 0-${max}`);
    return n;
  };
  return {
    proto: num(parts[0], 255, 'protocol'),
    a: { ip: parts[1], port: num(parts[2], 65535, 'port') },
    b: { ip: parts[3], port: num(parts[4], 65535, 'port') },
  };
}

/** Re-creates the canonical form of a key that came from elsewhere (e.g. over the wire). */
export function canonicalKey(key: FlowKey): FlowKey {
  const a = parseIp(key.a.ip);
  const b = parseIp(key.b.ip);
  if (!a || !b) throw new Error(`flow key has a malformed address: ${flowId(key)}`);
  if (a.length !== b.length) throw new Error(`flow key mixes IPv4 and IPv6: ${flowId(key)}`);
  const cmp = compareBytes(a, 0, a.length, b, 0, b.length);
  const ordered = cmp < 0 || (cmp === 0 && key.a.port <= key.b.port);
  // A parsed IPv4 text is already canonical; IPv6 text is re-written in RFC 5952 form.
  const text = (bytes: IpBytes, given: string) => (bytes.length === 4 ? given : ipText(bytes));
  const ea = { ip: text(a, key.a.ip), port: key.a.port };
  const eb = { ip: text(b, key.b.ip), port: key.b.port };
  return ordered ? { proto: key.proto, a: ea, b: eb } : { proto: key.proto, a: eb, b: ea };
}
