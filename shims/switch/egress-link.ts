/**
 * The switch's link to its pool's egress: every packet the instances emit goes to one receiver
 * (`openmb sink`, or anything that listens with the same framing, shared secret and TLS as the
 * switch's own listener) over one connection, in the order the switch read it from each
 * instance, so each flow's packets leave in order.
 *
 * The receiver acknowledges what it has taken, cumulatively for this switch process (its hello
 * carries an incarnation), first right after the hello and then after each batch. What was
 * written and not acknowledged when a connection ends is written again on the next one, from
 * where the receiver says it is, so a reconnect neither loses packets nor repeats them. While the
 * receiver is unreachable packets wait, up to a bound; beyond it they are counted undeliverable
 * (`queueFull`), and so are those waiting when the egress is removed: never dropped unseen.
 */
import { randomUUID } from 'node:crypto';
import { parseAddress } from '../protocol/address.js';
import type { Peer } from '../protocol/connection.js';
import type { EgressLinkStats } from '../protocol/messages.js';
import { keepConnected, type Link } from '../protocol/reconnect.js';
import type { TlsMaterial } from '../protocol/tls.js';
import type { Logger } from '../log/logger.js';

/** Packets kept for a receiver that cannot be reached; beyond this they are counted undeliverable. */
export const MAX_QUEUED = 200_000;

interface Batch {
  /** A complete packet-batch frame, length prefix included. */
  frame: Buffer;
  packets: number;
}

export interface EgressLinkOptions {
  /** host:port or a socket path. */
  address: string;
  secret: string;
  tls?: TlsMaterial;
  /** The switch's name and pool, as the receiver sees them. */
  name: string;
  pool?: string;
  log: Logger;
  /** The connection's write buffer emptied (the switch may resume its sources). */
  onDrain: () => void;
}

export class EgressLink {
  private readonly link: Link;
  private peer: Peer | null = null;
  /** True once the receiver has said where it is on the current connection. */
  private ready = false;
  /** Written, not acknowledged: sent again on the next connection. */
  private readonly unacked: Batch[] = [];
  private readonly queue: Batch[] = [];
  private queuedPackets = 0;
  /** Packets acknowledged, in this process's numbering. */
  private acked = 0;
  /** This connection's acknowledgements + offset = this process's numbering (a receiver that restarted counts from 0). */
  private offset = 0;
  private readonly counts = { sent: 0, resent: 0, connects: 0 };
  private readonly undeliverable = { queueFull: 0, egressRemoved: 0 };
  private lastError: string | undefined = 'not connected yet';
  private sinceMs = Date.now();
  private stopped = false;

  constructor(private readonly o: EgressLinkOptions) {
    const hello = { secret: o.secret, role: 'egress' as const, name: o.name, incarnation: randomUUID(), ...(o.pool ? { pool: o.pool } : {}) };
    this.link = keepConnected(parseAddress(o.address, 'egress'), hello, o.log, (peer) => this.connected(peer), {
      tls: o.tls,
      onDialError: (err) => { this.lastError = err.message; },
    });
  }

  get address(): string {
    return this.o.address;
  }

  /** True while the write buffer is full: the switch holds its sources back. */
  get needsDrain(): boolean {
    return this.ready && this.peer !== null && !this.peer.isClosed && this.peer.socket.writableNeedDrain;
  }

  /** Sends one batch of emitted packets (a complete frame); false when the connection pushes back. */
  send(frame: Buffer, packets: number): boolean {
    if (packets === 0) return true;
    if (this.ready && this.peer && !this.peer.isClosed) return this.write({ frame, packets });
    if (this.queuedPackets + packets > MAX_QUEUED) {
      this.undeliverable.queueFull += packets;
      this.o.log.warn({ egress: this.o.address, packets, lastError: this.lastError }, 'egress unreachable and its queue is full: packets undeliverable');
      return true;
    }
    this.queue.push({ frame, packets });
    this.queuedPackets += packets;
    return true;
  }

  private write(b: Batch): boolean {
    this.unacked.push(b);
    this.counts.sent += b.packets;
    return this.peer!.sendFrame(b.frame);
  }

  private connected(peer: Peer): void {
    this.peer = peer;
    this.ready = false;
    this.counts.connects++;
    this.lastError = 'connected; the receiver has not acknowledged yet';
    peer.socket.on('drain', () => this.o.onDrain());
    peer.on('json', (msg) => this.onMessage(peer, msg));
    peer.once('close', (reason) => {
      if (this.peer !== peer) return;
      this.peer = null;
      this.ready = false;
      this.lastError = reason;
      this.sinceMs = Date.now();
      if (!this.stopped) this.o.log.warn({ egress: this.o.address, reason, unacknowledged: this.inFlight }, 'egress connection lost');
      this.o.onDrain();
    });
  }

  private get inFlight(): number {
    return this.unacked.reduce((n, b) => n + b.packets, 0);
  }

  private onMessage(peer: Peer, msg: unknown): void {
    const m = msg as { type?: unknown; packets?: unknown };
    if (!m || m.type !== 'egress-ack' || !Number.isSafeInteger(m.packets) || (m.packets as number) < 0) {
      peer.close(`egress receiver sent ${m && typeof m.type === 'string' ? `"${m.type}"` : 'a message'} that is not {type: "egress-ack", packets: integer >= 0}`);
      return;
    }
    const said = m.packets as number;
    if (!this.ready) {
      // A receiver that knows fewer packets than were acknowledged is a new one: it counts from 0.
      this.offset = said < this.acked ? this.acked - said : 0;
      this.acknowledge(said + this.offset);
      this.ready = true;
      this.lastError = undefined;
      this.sinceMs = Date.now();
      this.o.log.info({ egress: this.o.address, acknowledged: said, resending: this.inFlight, queued: this.queuedPackets }, 'egress connected');
      const again = this.unacked.splice(0);
      for (const b of again) this.counts.resent += b.packets;
      this.counts.sent -= again.reduce((n, b) => n + b.packets, 0);
      const waiting = this.queue.splice(0);
      this.queuedPackets = 0;
      for (const b of [...again, ...waiting]) this.write(b);
      return;
    }
    this.acknowledge(said + this.offset);
  }

  /** Everything up to packet `upTo` (this process's numbering) has been taken. */
  private acknowledge(upTo: number): void {
    while (this.unacked.length > 0 && this.acked + this.unacked[0].packets <= upTo) this.acked += this.unacked.shift()!.packets;
  }

  stats(): EgressLinkStats {
    const connected = this.ready && this.peer !== null && !this.peer.isClosed;
    return {
      address: this.o.address,
      connected,
      sent: this.counts.sent,
      delivered: this.acked,
      inFlight: this.inFlight,
      queued: this.queuedPackets,
      resent: this.counts.resent,
      undeliverable: { ...this.undeliverable },
      connects: this.counts.connects,
      ...(connected || this.lastError === undefined ? {} : { lastError: this.lastError }),
      sinceMs: this.sinceMs,
    };
  }

  /**
   * Stops the link. With `handOver`, the packets not yet delivered are returned (in order) for a
   * link to another address; without, they are counted undeliverable (`egressRemoved`).
   */
  stop(handOver = false): Batch[] {
    this.stopped = true;
    this.link.stop();
    const left = [...this.unacked.splice(0), ...this.queue.splice(0)];
    this.queuedPackets = 0;
    if (!handOver) this.undeliverable.egressRemoved += left.reduce((n, b) => n + b.packets, 0);
    return left;
  }

  /** Takes over another link's undelivered packets (the egress moved to this address). */
  adopt(batches: Batch[]): void {
    for (const b of batches) this.send(b.frame, b.packets);
  }
}
