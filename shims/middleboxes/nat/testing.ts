/** Test support for the NAT: frames, in-process instances, and moving state between them. */
import { parseIp } from '../../flow/address.js';
import { ipv4HeaderChecksum, transportChecksum } from '../../flow/checksum.js';
import type { CapturedPacket } from '../../flow/pcap.js';
import type { WirePacket } from '../../protocol/packets.js';
import { MiddleboxInstance } from '../../shim/runtime.js';
import { tcpFrame } from '../../traffic/frames.js';
import { nat } from './nat.js';

export { tcpFrame };

/** Everything outside 10.0.0.0/8: as inside prefixes, the SYN flood's spoofed sources are inside and its target is not. */
export const ALL_BUT_10 = ['0.0.0.0/5', '8.0.0.0/7', '11.0.0.0/8', '12.0.0.0/6', '16.0.0.0/4', '32.0.0.0/3', '64.0.0.0/2', '128.0.0.0/1'];

/** An Ethernet/IPv4/UDP frame with valid checksums. */
export function udpFrame(src: string, sport: number, dst: string, dport: number, payload: Uint8Array = Buffer.from('hello')): Buffer {
  const ipLen = 20 + 8 + payload.length;
  const f = Buffer.alloc(14 + ipLen);
  f.writeUInt16BE(0x0800, 12);
  const ip = 14;
  f[ip] = 0x45;
  f.writeUInt16BE(ipLen, ip + 2);
  f[ip + 8] = 64;
  f[ip + 9] = 17;
  f.set(parseIp(src)!, ip + 12);
  f.set(parseIp(dst)!, ip + 16);
  f.writeUInt16BE(ipv4HeaderChecksum(f, ip), ip + 10);
  const u = ip + 20;
  f.writeUInt16BE(sport, u);
  f.writeUInt16BE(dport, u + 2);
  f.writeUInt16BE(8 + payload.length, u + 4);
  f.set(payload, u + 8);
  f.writeUInt16BE(transportChecksum(f, ip, u, 8 + payload.length, 17, u + 6), u + 6);
  return f;
}

/** An Ethernet/IPv6/UDP frame (checksum left zero: the NAT never looks at it). */
export function udp6Frame(src: string, sport: number, dst: string, dport: number): Buffer {
  const f = Buffer.alloc(14 + 40 + 8);
  f.writeUInt16BE(0x86dd, 12);
  f[14] = 0x60;
  f.writeUInt16BE(8, 18);
  f[20] = 17;
  f[21] = 64;
  f.set(parseIp(src)!, 22);
  f.set(parseIp(dst)!, 38);
  f.writeUInt16BE(sport, 54);
  f.writeUInt16BE(dport, 56);
  f.writeUInt16BE(8, 58);
  return f;
}

export function wire(data: Buffer, ts: number, seq = 0): WirePacket {
  const tsSec = Math.floor(ts);
  return { seq, tsSec, tsNsec: Math.round((ts - tsSec) * 1e9), ingressMs: 0, origLen: data.length, linkType: 1, inPort: 0, data };
}

export function fromCapture(p: CapturedPacket, seq: number): WirePacket {
  return { seq, tsSec: p.tsSec, tsNsec: p.tsNsec, ingressMs: 0, origLen: p.origLen, linkType: p.linkType, inPort: p.inPort, data: p.data };
}

/** A NAT instance in this process, and every packet it emitted. */
export function natInstance(config: Record<string, unknown> = {}): { mb: MiddleboxInstance; emitted: WirePacket[] } {
  const emitted: WirePacket[] = [];
  const mb = new MiddleboxInstance(nat, config, (p) => emitted.push(p));
  return { mb, emitted };
}

import { getChunks } from '../../shim/in-process.js';

export { delState, getChunks, putChunks, moveState as move } from '../../shim/in-process.js';

/** How many external pairs an instance keeps taken for translations it lent away. */
export function lentPairs(mb: MiddleboxInstance): number {
  return (getChunks(mb, 'all-flows')[0].state as { lent: string[] }).lent.length;
}

export interface PairHolder {
  flow: string;
  pair: string;
}

/** Every external pair the instances' live translations hold, with the flow holding it (an expired one holds none). */
export function heldPairs(...instances: MiddleboxInstance[]): PairHolder[] {
  const out: PairHolder[] = [];
  for (const mb of instances) {
    for (const [id, { state }] of mb.tables.flows.entries()) {
      const f = nat.perFlow.encode(state as never) as [string, string, string | null, number, string | null, number, number, number, boolean];
      if (f[0] === 'nat' && !f[8]) out.push({ flow: id, pair: `${f[4] === null ? 'udp' : 'tcp'} ${f[2]}:${f[3]}` });
    }
  }
  return out;
}

/** Pairs held by more than one flow. */
export function sharedPairs(holders: readonly PairHolder[]): string[] {
  const seen = new Map<string, string>();
  const shared: string[] = [];
  for (const h of holders) {
    const other = seen.get(h.pair);
    if (other !== undefined) shared.push(`${h.pair}: ${other} and ${h.flow}`);
    else seen.set(h.pair, h.flow);
  }
  return shared;
}
