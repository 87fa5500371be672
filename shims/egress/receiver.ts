/**
 * The far end of a pool's egress: accepts switches (hello role `egress`, the same framing, shared
 * secret and TLS as a switch's own listener), takes the packet batches they send, and
 * acknowledges what it took, cumulatively per switch process (name and incarnation), right after
 * the hello and after each batch, so a switch that reconnects resends exactly what is missing.
 *
 * It also checks that each flow's packets come in the switch's order: an emitted packet keeps the
 * sequence number the switch gave the packet it came from, so a packet older than one already
 * seen of its flow (as emitted: a NAT's outbound and inbound halves are two) was reordered.
 */
import type { Server } from 'node:net';
import { decode } from '../flow/decode.js';
import { packetFlow } from '../flow/key.js';
import type { Address } from '../protocol/address.js';
import { acceptPeers, boundAddress, type Peer } from '../protocol/connection.js';
import type { Hello } from '../protocol/messages.js';
import type { WirePacket } from '../protocol/packets.js';
import type { TlsMaterial } from '../protocol/tls.js';
import type { Logger } from '../log/logger.js';

const MAX_EXAMPLES = 10;

export interface ReceiverOptions {
  listen: Address;
  secret: string;
  tls?: TlsMaterial;
  log: Logger;
  /** Each packet taken, with the switch it came from ("pool/name" or the name). */
  onPacket: (p: WirePacket, from: string) => void;
}

export interface SwitchCounters {
  packets: number;
  connected: boolean;
  /** Connections it made (a reconnect is one more). */
  connections: number;
}

export interface ReceiverCounters {
  packets: number;
  bytes: number;
  batches: number;
  /** Packets that came after a later packet of the same flow from the same switch. */
  reordered: number;
  /** The first few of them: flow, direction, and the sequence numbers. */
  reorderedExamples: string[];
  /** Per switch ("pool/name", or the name when it gives no pool). */
  switches: Record<string, SwitchCounters>;
}

interface Origin {
  /** Packets taken from this switch process (its incarnation). */
  taken: number;
  /** Per flow as emitted: the highest sequence number seen. */
  lastSeq: Map<string, number>;
}

export class EgressReceiver {
  private server: Server | null = null;
  private readonly peers = new Set<Peer>();
  /** Which switch each connected peer is. */
  private readonly names = new Map<Peer, string>();
  private readonly origins = new Map<string, Origin>();
  private readonly counters: ReceiverCounters = { packets: 0, bytes: 0, batches: 0, reordered: 0, reorderedExamples: [], switches: {} };

  constructor(private readonly o: ReceiverOptions) {}

  async start(): Promise<Address> {
    this.server = await acceptPeers(this.o.listen, this.o.secret, this.o.log, (peer, hello) => {
      if (hello.role !== 'egress') {
        peer.close(`role "${hello.role}" does not connect to an egress receiver (a switch's egress link does, as "egress")`);
        return;
      }
      this.addSwitch(peer, hello);
    }, { tls: this.o.tls });
    return boundAddress(this.server);
  }

  private addSwitch(peer: Peer, hello: Hello): void {
    const who = hello.pool ? `${hello.pool}/${hello.name}` : hello.name;
    const incarnation = `${who} ${hello.incarnation ?? ''}`;
    let origin = this.origins.get(incarnation);
    if (!origin) {
      origin = { taken: 0, lastSeq: new Map() };
      this.origins.set(incarnation, origin);
    }
    const sw = (this.counters.switches[who] ??= { packets: 0, connected: false, connections: 0 });
    sw.connected = true;
    sw.connections++;
    this.peers.add(peer);
    this.names.set(peer, who);
    this.o.log.info({ switch: who, taken: origin.taken }, 'switch connected');
    const o = origin;
    peer.send({ type: 'egress-ack', packets: o.taken });
    peer.onPacketBatch('egress', (packets) => {
      for (const p of packets) this.take(p, who, o);
      o.taken += packets.length;
      sw.packets += packets.length;
      this.counters.batches++;
      peer.send({ type: 'egress-ack', packets: o.taken });
    });
    peer.on('json', (msg) => {
      const m = msg as { type?: unknown; id?: unknown };
      peer.send({ type: 'error', id: typeof m?.id === 'number' ? m.id : null, cause: 'unsupported', message: 'a switch sends only packet batches to its egress' });
    });
    peer.on('close', (reason) => {
      this.peers.delete(peer);
      this.names.delete(peer);
      sw.connected = this.stillConnected(who);
      this.o.log.info({ switch: who, reason }, 'switch disconnected');
    });
  }

  private stillConnected(who: string): boolean {
    for (const p of this.peers) if (this.names.get(p) === who) return true;
    return false;
  }

  private take(p: WirePacket, who: string, o: Origin): void {
    this.counters.packets++;
    this.counters.bytes += p.data.length;
    const f = packetFlow(p.data, decode(p.data, p.linkType));
    if (f) {
      const key = `${f.id} ${f.forward ? '>' : '<'}`;
      const last = o.lastSeq.get(key) ?? 0;
      if (p.seq < last) {
        this.counters.reordered++;
        if (this.counters.reorderedExamples.length < MAX_EXAMPLES) this.counters.reorderedExamples.push(`${who}: ${key}: ${p.seq} after ${last}`);
      } else {
        o.lastSeq.set(key, p.seq);
      }
    }
    this.o.onPacket(p, who);
  }

  snapshot(): ReceiverCounters {
    return { ...this.counters, reorderedExamples: [...this.counters.reorderedExamples], switches: Object.fromEntries(Object.entries(this.counters.switches).map(([k, v]) => [k, { ...v }])) };
  }

  stop(): void {
    for (const p of this.peers) p.close('closed locally');
    this.server?.close();
  }
}
