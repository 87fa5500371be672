/** Builds Ethernet/IPv4/TCP frames with valid checksums, for synthetic traffic and tests. */
import { parseIp } from '../flow/address.js';
import { ipv4HeaderChecksum, transportChecksum } from '../flow/checksum.js';

export interface TcpFrameSpec {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  flags: number;
  seq: number;
  ack: number;
  payload: Uint8Array;
  ttl?: number;
  window?: number;
}

function ip4(text: string): Uint8Array {
  const b = parseIp(text);
  if (!b || b.length !== 4) throw new Error(`not an IPv4 address: ${text}`);
  return b;
}

export function tcpFrame(s: TcpFrameSpec): Buffer {
  const ipLen = 20 + 20 + s.payload.length;
  const f = Buffer.alloc(14 + ipLen);
  f.set([0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1], 0);
  f.writeUInt16BE(0x0800, 12);
  const ip = 14;
  f[ip] = 0x45;
  f.writeUInt16BE(ipLen, ip + 2);
  f[ip + 8] = s.ttl ?? 64;
  f[ip + 9] = 6;
  f.set(ip4(s.src), ip + 12);
  f.set(ip4(s.dst), ip + 16);
  f.writeUInt16BE(ipv4HeaderChecksum(f, ip), ip + 10);
  const t = ip + 20;
  f.writeUInt16BE(s.sport, t);
  f.writeUInt16BE(s.dport, t + 2);
  f.writeUInt32BE(s.seq >>> 0, t + 4);
  f.writeUInt32BE(s.ack >>> 0, t + 8);
  f[t + 12] = 5 << 4;
  f[t + 13] = s.flags;
  f.writeUInt16BE(s.window ?? 64240, t + 14);
  f.set(s.payload, t + 20);
  f.writeUInt16BE(transportChecksum(f, ip, t, 20 + s.payload.length, 6, t + 16), t + 16);
  return f;
}
