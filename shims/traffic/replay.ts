/**
 * Replays captured packets into a switch: as fast as the switch takes them, at a fixed packet
 * rate, or at the capture's own timing times a speed factor. Socket back-pressure is honoured,
 * so nothing is dropped on the way in. It ends with a barrier: once it resolves, the switch has
 * forwarded every packet sent.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Address } from '../protocol/address.js';
import { connectPeer, type Peer } from '../protocol/connection.js';
import type { CapturedPacket } from '../flow/pcap.js';
import { encodePacketBatch, type WirePacket } from '../protocol/packets.js';
import type { Logger } from '../log/logger.js';
import type { TlsMaterial } from '../protocol/tls.js';

export type Pace = { kind: 'asap' } | { kind: 'rate'; pps: number } | { kind: 'timing'; speed: number };

export interface ReplayOptions {
  switchAddress: Address;
  secret: string;
  /** Mutual TLS to a switch that listens with it. */
  tls?: TlsMaterial;
  name?: string;
  pace: Pace;
  /** Packets per batch frame when pacing allows (asap); paced modes send what is due. */
  batch?: number;
  log: Logger;
  /** Called after each batch with the number of packets sent so far; may pause the replay by returning a promise. */
  onProgress?: (sent: number, total: number) => void | Promise<void>;
}

export interface ReplayResult {
  sent: number;
  durationMs: number;
}

/** A captured packet as a source sends it: the switch numbers and stamps it. */
export function toWire(p: CapturedPacket): WirePacket {
  return { seq: 0, tsSec: p.tsSec, tsNsec: p.tsNsec, ingressMs: 0, origLen: p.origLen, linkType: p.linkType, inPort: p.inPort, data: p.data };
}

/** Seconds of capture time from the first packet, for timing-paced replay. */
function offsetSeconds(p: CapturedPacket, first: CapturedPacket): number {
  return p.tsSec - first.tsSec + (p.tsNsec - first.tsNsec) / 1e9;
}

export async function replay(packets: readonly CapturedPacket[], o: ReplayOptions): Promise<ReplayResult> {
  const peer = await connectPeer(o.switchAddress, { secret: o.secret, role: 'source', name: o.name ?? 'replay' }, o.log, undefined, { tls: o.tls });
  try {
    const start = performance.now();
    const maxBatch = o.batch ?? 256;
    let i = 0;
    while (i < packets.length) {
      let n: number;
      if (o.pace.kind === 'asap') {
        n = Math.min(maxBatch, packets.length - i);
      } else {
        // Send whatever is due by now; wait for the next packet's time otherwise.
        const elapsed = (performance.now() - start) / 1000;
        const due = (k: number) => (o.pace.kind === 'rate' ? k / o.pace.pps : offsetSeconds(packets[k], packets[0]) / (o.pace as { speed: number }).speed);
        n = 0;
        while (i + n < packets.length && n < maxBatch && due(i + n) <= elapsed) n++;
        if (n === 0) {
          await sleep(Math.max(0, Math.min(50, (due(i) - elapsed) * 1000)));
          continue;
        }
      }
      const wire = packets.slice(i, i + n).map(toWire);
      i += n;
      if (!peer.sendFrame(encodePacketBatch(wire))) await peer.drained();
      if (peer.isClosed) throw new Error(`switch closed the connection after ${i - n} packets: ${peer.closeReason}`);
      await o.onProgress?.(i, packets.length);
    }
    await barrier(peer);
    return { sent: packets.length, durationMs: performance.now() - start };
  } finally {
    peer.close('closed locally');
  }
}

function barrier(peer: Peer): Promise<void> {
  return new Promise((resolve, reject) => {
    const onClose = (reason: string) => reject(new Error(`switch closed the connection before the final barrier: ${reason}`));
    peer.once('close', onClose);
    peer.on('json', (msg) => {
      const m = msg as { type?: string; id?: number };
      if (m?.type === 'barrier-ack' && m.id === 1) {
        peer.off('close', onClose);
        resolve();
      }
    });
    peer.send({ type: 'barrier', id: 1 });
  });
}
