/** Test support for the RE: captures as wire packets, in-process instances, and state transfer. */
import { decode } from '../../flow/decode.js';
import { packetHash } from '../../flow/hash.js';
import { readCaptureFile } from '../../flow/pcap.js';
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
  return new MiddleboxInstance(re, config, (p) => decoder.receive(p));
}

/** Which of `n` instances a packet goes to, by its symmetric flow hash (both directions together). */
export function flowBucket(p: WirePacket, n: number): number {
  return packetHash('flow', [], p.data, decode(p.data, p.linkType)) % n;
}

export { getChunks, putChunks, requestError } from '../../shim/in-process.js';
