/**
 * A synthetic source of N concurrent TCP flows: each opens with a three-way handshake, sends a
 * request of a few hundred bytes, receives a response of one to a dozen full-size segments with
 * ACKs, and closes with FINs. Flows are interleaved so all N are live at once. Sizes come from a
 * seeded generator, so the same arguments always give the same packets.
 */
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_SYN } from '../flow/decode.js';
import type { CapturedPacket } from '../flow/pcap.js';
import { tcpFrame } from './frames.js';

export interface SyntheticOptions {
  flows: number;
  seed?: number;
  /** Seconds between packets of the generated timeline. */
  gap?: number;
  startTs?: number;
  /** Only the three-way handshake of each flow: enough to create its state, cheap to send. */
  handshakeOnly?: boolean;
}

function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s / 0x100000000;
  };
}

export function clientAddress(i: number): string {
  return `10.${(i >> 16) & 0xff}.${(i >> 8) & 0xff}.${(i & 0xff) || 1}`;
}

export function serverAddress(i: number): string {
  return `198.51.100.${(i % 200) + 1}`;
}

const PAYLOAD = Buffer.alloc(1460, 0x61);

/** Generates the packets of every flow, interleaved round-robin by each flow's next packet. */
export function syntheticFlows(o: SyntheticOptions): CapturedPacket[] {
  const rand = prng(o.seed ?? 1);
  const perFlow: Buffer[][] = [];
  for (let i = 0; i < o.flows; i++) {
    const c = clientAddress(i);
    const s = serverAddress(i);
    const cp = 1024 + (i % 60000);
    const sp = i % 3 === 0 ? 443 : 80;
    const reqLen = 200 + Math.floor(rand() * 400);
    const segments = 1 + Math.floor(rand() * 12);
    let cs = Math.floor(rand() * 2 ** 32);
    let ss = Math.floor(rand() * 2 ** 32);
    const fromClient = (flags: number, len: number) => {
      const f = tcpFrame({ src: c, dst: s, sport: cp, dport: sp, flags, seq: cs, ack: ss, payload: PAYLOAD.subarray(0, len) });
      cs = (cs + len + (flags & (TCP_SYN | TCP_FIN) ? 1 : 0)) >>> 0;
      return f;
    };
    const fromServer = (flags: number, len: number) => {
      const f = tcpFrame({ src: s, dst: c, sport: sp, dport: cp, flags, seq: ss, ack: cs, payload: PAYLOAD.subarray(0, len) });
      ss = (ss + len + (flags & (TCP_SYN | TCP_FIN) ? 1 : 0)) >>> 0;
      return f;
    };
    const pkts = [fromClient(TCP_SYN, 0), fromServer(TCP_SYN | TCP_ACK, 0), fromClient(TCP_ACK, 0)];
    if (o.handshakeOnly) {
      perFlow.push(pkts);
      continue;
    }
    pkts.push(fromClient(TCP_ACK | TCP_PSH, reqLen));
    for (let k = 0; k < segments; k++) {
      pkts.push(fromServer(TCP_ACK, k === segments - 1 ? 1 + Math.floor(rand() * 1459) : 1460));
      if (k % 2 === 1) pkts.push(fromClient(TCP_ACK, 0));
    }
    pkts.push(fromClient(TCP_FIN | TCP_ACK, 0), fromServer(TCP_FIN | TCP_ACK, 0), fromClient(TCP_ACK, 0));
    perFlow.push(pkts);
  }
  const out: CapturedPacket[] = [];
  const gap = o.gap ?? 0.0001;
  let t = o.startTs ?? 1_700_000_000;
  for (let round = 0; ; round++) {
    let any = false;
    for (const pkts of perFlow) {
      if (round >= pkts.length) continue;
      any = true;
      t += gap;
      const sec = Math.floor(t);
      out.push({ tsSec: sec, tsNsec: Math.round((t - sec) * 1e6) * 1000, origLen: pkts[round].length, linkType: 1, inPort: 0, data: pkts[round] });
    }
    if (!any) break;
  }
  return out;
}
