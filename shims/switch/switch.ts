/**
 * The steering switch. Traffic sources send packet batches in; every packet gets a sequence
 * number and an ingress time, goes through any active hold, then through the flow table, and is
 * forwarded in per-instance batches to the middlebox instances (which dial in on the data role),
 * sent to the controller, or dropped. The route controller programs it over the switch protocol.
 */
import type { Server } from 'node:net';
import { performance } from 'node:perf_hooks';
import { decode } from '../flow/decode.js';
import { compileFilter, type CompiledFilter, matchPacket } from '../flow/filter.js';
import { type Address, parseAddress } from '../protocol/address.js';
import { acceptPeers, type Peer } from '../protocol/connection.js';
import { type EndedHold, readRequest, type SwitchRequest, SWITCH_REQUEST_TYPES, switchRequest, type SwitchStats } from '../protocol/messages.js';
import { encodePacketBatch, type WirePacket } from '../protocol/packets.js';
import { keepConnected, type Link } from '../protocol/reconnect.js';
import type { TlsMaterial } from '../protocol/tls.js';
import type { Logger } from '../log/logger.js';
import { FlowTable, TableError } from './table.js';
import { EgressLink } from './egress-link.js';

/** Packets kept for an instance that is not connected (yet); beyond this they are dropped and counted. */
const MAX_WAITING = 200_000;

interface Hold {
  filter: CompiledFilter;
  packets: WirePacket[];
  /** Packets that came while it held MAX_HELD. */
  dropped: number;
  leaseMs: number | null;
  timer: NodeJS.Timeout | null;
}

/**
 * Packets one hold keeps at most. Past it a packet is dropped and counted (the release's
 * `dropped`, a StateOperation's eventsDropped): a move that takes this long is better lossy than
 * the switch out of memory.
 */
export const MAX_HELD = 200_000;

/** How many ended holds the switch remembers, for a controller that restarted to learn how its own ended. */
const MAX_ENDED_HOLDS = 256;

interface Output {
  peer: Peer | null;
  batch: WirePacket[];
  /** Packets waiting for the instance to (re)connect. */
  waiting: WirePacket[];
  /** The instance process last connected under this name. */
  incarnation?: string;
}

/** A release named a hold that is not there. */
class UnknownHoldError extends Error {}

export interface SwitchOptions {
  name: string;
  /** The pool this switch steers for, as it announces itself to the controller. */
  pool?: string;
  listen: Address;
  secret: string;
  /** Mutual TLS on the listener (every source, instance and sink must use it) and to the controller. */
  tls?: TlsMaterial;
  log: Logger;
  /** The route controller to dial; without one the switch can still be driven by a peer that connects with role `controller`. */
  controller?: Address;
  /** Where emitted packets go (host:port or a socket path); the controller may change it (set-egress). */
  egress?: string;
  /** Packets one hold keeps at most (default MAX_HELD). */
  maxHeld?: number;
}

export class SteeringSwitch {
  readonly table = new FlowTable();
  private readonly outputs = new Map<string, Output>();
  private readonly holds = new Map<string, Hold>();
  private readonly ended = new Map<string, EndedHold>();
  private readonly sources = new Set<Peer>();
  private readonly controllers = new Set<Peer>();
  private readonly sinks = new Set<Peer>();
  private readonly egress = new Map<string, number>();
  private seq = 0;
  private readonly stats = { received: 0, dropped: 0 };
  private readonly forwarded = new Map<string, number>();
  /** Per instance name: packets queued for it and dropped (its queue was full, or it died and lost its routes). */
  private readonly droppedQueued = new Map<string, number>();
  private server: Server | null = null;
  private controllerLink: Link | null = null;
  private egressLink: EgressLink | null = null;

  /** True while the switch has a live connection to the controller it dials (or dials none). */
  get controllerConnected(): boolean {
    if (!this.o.controller) return true;
    const peer = this.controllerLink?.peer;
    return peer !== null && peer !== undefined && !peer.isClosed;
  }
  private paused = false;

  constructor(private readonly o: SwitchOptions) {}

  private get maxHeld(): number {
    return this.o.maxHeld ?? MAX_HELD;
  }

  async start(): Promise<Server> {
    this.server = await acceptPeers(this.o.listen, this.o.secret, this.o.log, (peer, hello) => {
      if (hello.role === 'source') this.addSource(peer);
      else if (hello.role === 'mb-data') this.addInstance(peer, hello.name, hello.incarnation);
      else if (hello.role === 'sink') this.addSink(peer);
      else if (hello.role === 'controller') this.addController(peer);
      else peer.close(`role "${hello.role}" does not connect to a switch`);
    }, { tls: this.o.tls });
    if (this.o.egress) this.setEgress(this.o.egress);
    if (this.o.controller) {
      this.controllerLink = keepConnected(this.o.controller, { secret: this.o.secret, role: 'switch', name: this.o.name, ...(this.o.pool ? { pool: this.o.pool } : {}) }, this.o.log, (peer) => this.addController(peer), { tls: this.o.tls });
    }
    return this.server;
  }

  stop(): void {
    for (const h of this.holds.values()) if (h.timer) clearTimeout(h.timer);
    this.controllerLink?.stop();
    this.egressLink?.stop();
    for (const p of [...this.sources, ...this.controllers, ...this.sinks]) p.close('closed locally');
    for (const o of this.outputs.values()) o.peer?.close('closed locally');
    this.server?.close();
  }

  private addSource(peer: Peer): void {
    this.sources.add(peer);
    if (this.paused) peer.socket.pause();
    peer.on('close', () => this.sources.delete(peer));
    peer.onPacketBatch('packet', (packets) => this.ingress(packets));
    peer.on('json', (msg) => {
      // Sources only send packets; a barrier lets them learn everything before it was forwarded.
      const m = msg as { type?: string; id?: number };
      if (m && m.type === 'barrier' && typeof m.id === 'number') peer.send({ type: 'barrier-ack', id: m.id });
      else peer.send({ type: 'error', id: m?.id ?? null, cause: 'unsupported', message: 'sources may only send packets and barriers' });
    });
  }

  private addInstance(peer: Peer, name: string, incarnation?: string): void {
    const out = this.output(name);
    // Counts are compared with what the instance says it received: a new process starts from 0.
    if (incarnation !== out.incarnation) {
      if (out.incarnation !== undefined) this.forwarded.set(name, 0);
      out.incarnation = incarnation;
    }
    if (out.peer && !out.peer.isClosed) out.peer.close('replaced by a new connection for the same instance');
    out.peer = peer;
    this.o.log.info({ instance: name }, 'instance connected');
    // A peer that dies with a full buffer never drains: its close must lift the pause it caused.
    peer.on('close', () => {
      if (out.peer === peer) out.peer = null;
      this.maybeResume();
    });
    peer.socket.on('drain', () => this.maybeResume());
    // What an instance sends back is its egress: count it and pass it, as it came, to the pool's egress and to every sink.
    peer.onPacketBatch('egress', (packets, payload) => {
      this.egress.set(name, (this.egress.get(name) ?? 0) + packets.length);
      const frame = Buffer.allocUnsafe(4 + payload.length);
      frame.writeUInt32BE(payload.length, 0);
      payload.copy(frame, 4);
      if (this.egressLink && !this.egressLink.send(frame, packets.length)) this.pause();
      for (const s of this.sinks) s.sendFrame(frame);
    });
    if (out.waiting.length > 0) {
      const waiting = out.waiting;
      out.waiting = [];
      this.send(name, out, waiting);
    }
  }

  private addSink(peer: Peer): void {
    this.sinks.add(peer);
    peer.on('close', () => this.sinks.delete(peer));
    peer.on('json', (msg) => {
      const m = msg as { type?: string; id?: number };
      if (m && m.type === 'barrier' && typeof m.id === 'number') peer.send({ type: 'barrier-ack', id: m.id });
    });
  }

  private addController(peer: Peer): void {
    this.controllers.add(peer);
    peer.on('close', () => this.controllers.delete(peer));
    peer.on('json', (msg) => this.serve(peer, msg));
  }

  private output(name: string): Output {
    let o = this.outputs.get(name);
    if (!o) {
      o = { peer: null, batch: [], waiting: [] };
      this.outputs.set(name, o);
    }
    return o;
  }

  /** Packets from a source: stamp, hold or route, then flush the per-instance batches. */
  ingress(packets: WirePacket[]): void {
    const now = performance.timeOrigin + performance.now();
    for (const p of packets) {
      p.seq = ++this.seq;
      p.ingressMs = now;
      this.stats.received++;
      this.route(p);
    }
    this.flush();
  }

  private route(p: WirePacket): void {
    const d = decode(p.data, p.linkType);
    for (const h of this.holds.values()) {
      if (matchPacket(h.filter, p.data, d, p.inPort)) {
        if (h.packets.length < this.maxHeld) {
          h.packets.push(p);
        } else {
          h.dropped++;
          this.stats.dropped++;
        }
        return;
      }
    }
    const e = this.table.lookup(p.data, d, p.inPort);
    if (!e) {
      this.stats.dropped++;
      return;
    }
    e.packets++;
    e.bytes += p.origLen;
    const a = e.rule.action;
    if (a.type === 'forward') {
      this.output(a.instance).batch.push(p);
    } else {
      this.stats.dropped++;
    }
  }

  private flush(): void {
    for (const [name, o] of this.outputs) {
      if (o.batch.length === 0) continue;
      const batch = o.batch;
      o.batch = [];
      this.send(name, o, batch);
    }
  }

  private send(name: string, o: Output, packets: WirePacket[]): void {
    if (!o.peer || o.peer.isClosed) {
      const room = Math.max(0, MAX_WAITING - o.waiting.length);
      for (let i = 0; i < packets.length && i < room; i++) o.waiting.push(packets[i]);
      if (packets.length > room) {
        this.countDroppedQueued(name, packets.length - room);
        this.o.log.warn({ instance: name, dropped: packets.length - room }, 'instance not connected; queue full, dropping');
      }
      return;
    }
    this.forwarded.set(name, (this.forwarded.get(name) ?? 0) + packets.length);
    if (!o.peer.sendFrame(encodePacketBatch(packets))) this.pause();
  }

  /**
   * Packets waiting for an instance that no rule forwards to any more (it died and its flows went
   * elsewhere) are lost with it: they are counted as dropped, never handed to a later instance
   * that happens to take the same name.
   */
  private dropUnrouted(): void {
    const targets = new Set(this.table.rules().flatMap((r) => (r.action.type === 'forward' ? [r.action.instance] : [])));
    for (const [name, o] of this.outputs) {
      if (o.waiting.length === 0 || targets.has(name)) continue;
      this.countDroppedQueued(name, o.waiting.length);
      this.o.log.warn({ instance: name, dropped: o.waiting.length }, 'instance gone and no longer routed to; its queued packets are dropped');
      o.waiting = [];
    }
  }

  private countDroppedQueued(name: string, n: number): void {
    this.stats.dropped += n;
    this.droppedQueued.set(name, (this.droppedQueued.get(name) ?? 0) + n);
  }

  /** A slow instance pushes back on every source rather than losing packets. */
  private pause(): void {
    if (this.paused) return;
    this.paused = true;
    for (const s of this.sources) s.socket.pause();
  }

  private maybeResume(): void {
    if (!this.paused) return;
    for (const o of this.outputs.values()) if (o.peer?.socket.writableNeedDrain) return;
    if (this.egressLink?.needsDrain) return;
    this.paused = false;
    for (const s of this.sources) s.socket.resume();
  }

  private serve(peer: Peer, msg: unknown): void {
    const r = readRequest(switchRequest, SWITCH_REQUEST_TYPES, msg);
    if (!r.ok) {
      peer.send(r.reply);
      return;
    }
    try {
      peer.send(this.handle(r.request));
    } catch (e) {
      const cause = e instanceof UnknownHoldError ? 'unknown-key' : e instanceof TableError ? 'malformed' : 'internal';
      peer.send({ type: 'error', id: r.request.id, cause, message: (e as Error).message });
    }
  }

  handle(req: SwitchRequest): Record<string, unknown> {
    switch (req.type) {
      case 'flow-mod': {
        const version = this.table.apply(req.changes);
        this.dropUnrouted();
        return { type: 'flow-mod-ack', id: req.id, version };
      }
      case 'hold': {
        const h = this.holds.get(req.holdId);
        if (h) {
          if (h.timer) clearTimeout(h.timer);
          h.leaseMs = req.leaseMs ?? null;
          h.timer = h.leaseMs === null ? null : setTimeout(() => this.lapse(req.holdId), h.leaseMs);
          return { type: 'hold-ack', id: req.id, renewed: true, packets: h.packets.length };
        }
        if (req.renew) throw new UnknownHoldError(`holdId: no hold "${req.holdId}" to renew (it lapsed, was released, or the switch restarted)`);
        const leaseMs = req.leaseMs ?? null;
        const hold: Hold = { filter: compileFilter(req.filter), packets: [], dropped: 0, leaseMs, timer: leaseMs === null ? null : setTimeout(() => this.lapse(req.holdId), leaseMs) };
        this.holds.set(req.holdId, hold);
        return { type: 'hold-ack', id: req.id, renewed: false, packets: 0 };
      }
      case 'release': {
        const h = this.holds.get(req.holdId);
        if (!h) throw new UnknownHoldError(`holdId: no hold "${req.holdId}" (it lapsed, was released, or the switch restarted)`);
        // The table first: if a change is refused, the hold stays and nothing moved.
        const version = req.changes ? this.table.apply(req.changes) : this.table.version;
        if (req.changes) this.dropUnrouted();
        const count = this.endHold(req.holdId, h, 'released');
        return { type: 'release-ack', id: req.id, count, version, dropped: h.dropped };
      }
      case 'get-holds':
        return {
          type: 'holds', id: req.id,
          holds: [...this.holds].map(([holdId, h]) => ({ holdId, packets: h.packets.length, dropped: h.dropped, leaseMs: h.leaseMs })),
          ended: [...this.ended.values()],
        };
      case 'barrier':
        this.flush();
        return { type: 'barrier-ack', id: req.id };
      case 'get-stats':
        return { type: 'stats', id: req.id, stats: this.snapshot() };
      case 'get-rules':
        return { type: 'rules', id: req.id, rules: this.table.rules(), version: this.table.version };
      case 'set-egress':
        this.setEgress(req.address);
        return { type: 'set-egress-ack', id: req.id };
    }
  }

  /** Routes a hold's packets by the table as it is now, in the order they came, and remembers how it ended. */
  private endHold(holdId: string, h: Hold, how: EndedHold['how']): number {
    if (h.timer) clearTimeout(h.timer);
    this.holds.delete(holdId);
    for (const p of h.packets) this.route(p);
    this.flush();
    this.ended.delete(holdId);
    this.ended.set(holdId, { holdId, how, packets: h.packets.length, dropped: h.dropped, version: this.table.version });
    if (this.ended.size > MAX_ENDED_HOLDS) this.ended.delete(this.ended.keys().next().value!);
    return h.packets.length;
  }

  /** No controller renewed the hold in time: its packets go where the table says, which is where they went before it. */
  private lapse(holdId: string): void {
    const h = this.holds.get(holdId);
    if (!h) return;
    const count = this.endHold(holdId, h, 'lapsed');
    this.o.log.warn({ hold: holdId, packets: count, leaseMs: h.leaseMs }, 'hold lapsed: no controller renewed it; its packets go by the table');
  }

  /** Points the egress at `address` (null: nowhere); packets not yet delivered go to the new address. */
  setEgress(address: string | null): void {
    if ((this.egressLink?.address ?? null) === address) return;
    if (address !== null) {
      try {
        parseAddress(address, 'address');
      } catch (e) {
        throw new TableError((e as Error).message);
      }
    }
    const left = this.egressLink?.stop(address !== null) ?? [];
    this.egressLink = null;
    if (address === null) {
      const packets = left.reduce((n, b) => n + b.packets, 0);
      if (packets > 0) this.o.log.warn({ packets }, 'egress removed with packets not delivered: they are undeliverable');
      return;
    }
    this.egressLink = new EgressLink({ address, secret: this.o.secret, tls: this.o.tls, name: this.o.name, pool: this.o.pool, log: this.o.log, onDrain: () => this.maybeResume() });
    this.egressLink.adopt(left);
    this.o.log.info({ egress: address }, 'egress set');
  }

  snapshot(): SwitchStats {
    let held = 0;
    for (const h of this.holds.values()) held += h.packets.length;
    return {
      received: this.stats.received,
      egress: Object.fromEntries(this.egress),
      forwarded: Object.fromEntries(this.forwarded),
      dropped: this.stats.dropped,
      droppedQueued: Object.fromEntries(this.droppedQueued),
      held,
      rules: this.table.counters(),
      version: this.table.version,
      ...(this.egressLink ? { egressLink: this.egressLink.stats() } : {}),
    };
  }
}
