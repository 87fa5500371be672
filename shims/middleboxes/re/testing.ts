/** Test support for the RE: captures as wire packets, in-process instances, and state transfer. */
import { decode } from '../../flow/decode.js';
import { packetHash } from '../../flow/hash.js';
import { readCaptureFile } from '../../flow/pcap.js';
import type { Chunk } from '../../protocol/messages.js';
import type { WirePacket } from '../../protocol/packets.js';
import { MiddleboxInstance } from '../../shim/runtime.js';
import { tracePath } from '../../traffic/trace-dir.js';
import { ReDecoder } from './decoder.js';
import { re } from './re.js';

/** A capture's packets as the switch would deliver them (copies: emitted frames may outlive the file). */
export function tracePackets(name: string): WirePacket[] {
  return readCaptureFile(tracePath(name)).packets.map((p, seq) => ({
    seq, tsSec: p.tsSec, tsNsec: p.tsNsec, ingressMs: 0, origLen: p.origLen, linkType: p.linkType, inPort: p.inPort, data: Buffer.from(p.data),
  }));
}

/** A decoder for the configuration the instances run with. */
export function reDecoder(config: Record<string, unknown> = {}): ReDecoder {
  return new ReDecoder(re.parseConfig({ ...re.defaultConfig, ...config }));
}

/** An RE instance in this process whose emitted packets go to `decoder`. */
export function reInstance(decoder: ReDecoder, config: Record<string, unknown> = {}): MiddleboxInstance {
  return new MiddleboxInstance(re, config, () => {}, (p) => decoder.receive(p));
}

/** Which of `n` instances a packet goes to, by its symmetric flow hash (both directions together). */
export function flowBucket(p: WirePacket, n: number): number {
  return packetHash('flow', [], p.data, decode(p.data, p.linkType)) % n;
}

function request(mb: MiddleboxInstance, req: Parameters<MiddleboxInstance['handle']>[0]): Record<string, unknown>[] {
  const replies: Record<string, unknown>[] = [];
  mb.handle(req, (m) => replies.push(m));
  const err = replies.find((r) => r.type === 'error');
  if (err) throw new Error(String(err.message));
  return replies;
}

export function getChunks(mb: MiddleboxInstance, scope: Chunk['scope']): Chunk[] {
  return request(mb, { type: 'get', id: 1, scope, filter: {} }).flatMap((r) => (r.type === 'state' ? (r.chunks as Chunk[]) : []));
}

export function putChunks(mb: MiddleboxInstance, scope: Chunk['scope'], chunks: Chunk[]): void {
  request(mb, { type: 'put', id: 2, scope, chunks });
}

/** The error message a request gets, or null when it succeeds. */
export function requestError(mb: MiddleboxInstance, req: Parameters<MiddleboxInstance['handle']>[0]): string | null {
  const replies: Record<string, unknown>[] = [];
  mb.handle(req, (m) => replies.push(m));
  const err = replies.find((r) => r.type === 'error');
  return err ? String(err.message) : null;
}
