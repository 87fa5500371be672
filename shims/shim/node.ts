/**
 * The network side of a middlebox instance: a southbound link to the controller (requests in,
 * replies out) and a data link to the steering switch (packet batches in, emitted packets back).
 * Both reconnect with backoff.
 */
import type { Address } from '../protocol/address.js';
import type { Partitioning } from '../protocol/descriptor.js';
import type { Peer } from '../protocol/connection.js';
import { MB_REQUEST_TYPES, mbRequest, readRequest } from '../protocol/messages.js';
import { encodePacketBatch, type WirePacket } from '../protocol/packets.js';
import { keepConnected, type Link } from '../protocol/reconnect.js';
import type { TlsMaterial } from '../protocol/tls.js';
import type { Logger } from '../log/logger.js';
import type { AnyMiddlebox } from './definition.js';
import { describe } from './descriptor.js';
import { MiddleboxInstance } from './runtime.js';
import { randomUUID } from 'node:crypto';

export interface MiddleboxNodeOptions {
  def: AnyMiddlebox;
  pool: string;
  instance: string;
  config: Record<string, unknown>;
  /** The pool's partitioning, for middleboxes that derive configuration from it. */
  partitioning?: Partitioning;
  controller: Address;
  switchAddress: Address;
  secret: string;
  /** Mutual TLS on both links (the controller's and the switch's listeners must use it too). */
  tls?: TlsMaterial;
  log: Logger;
}

export interface MiddleboxNode {
  readonly mb: MiddleboxInstance;
  readonly controllerLink: Link;
  readonly dataLink: Link;
  stop(): void;
}

/** Validates one southbound message and serves it; malformed or unknown messages get an error. */
export function serveSouthbound(mb: MiddleboxInstance, peer: Peer, msg: unknown): void {
  const r = readRequest(mbRequest, MB_REQUEST_TYPES, msg);
  if (r.ok) mb.handle(r.request, (reply) => peer.send(reply));
  else peer.send(r.reply);
}

export function startMiddleboxNode(o: MiddleboxNodeOptions): MiddleboxNode {
  // Emitted packets go back to the switch's egress in one batch per batch received.
  let emitted: WirePacket[] = [];
  const flushEmitted = () => {
    if (emitted.length === 0) return;
    const batch = emitted;
    emitted = [];
    dataLink.peer?.sendFrame(encodePacketBatch(batch));
  };
  const mb = new MiddleboxInstance(o.def, o.config, (p) => {
    emitted.push(p);
    if (emitted.length >= 256) flushEmitted();
  }, o.partitioning);
  const controllerLink = keepConnected(o.controller, { secret: o.secret, role: 'mb', name: o.instance, pool: o.pool, mbType: o.def.type, descriptor: describe(o.def) }, o.log, (peer) => {
    o.log.info({ instance: o.instance }, 'connected to controller');
    peer.on('json', (msg) => {
      serveSouthbound(mb, peer, msg);
      flushEmitted();
    });
  }, { tls: o.tls });
  // A new process under an old name (a replaced Pod) must not inherit the old one's counts at the switch.
  const incarnation = randomUUID();
  const dataLink = keepConnected(o.switchAddress, { secret: o.secret, role: 'mb-data', name: o.instance, incarnation }, o.log, (peer) => {
    o.log.info({ instance: o.instance }, 'connected to switch');
    peer.onPacketBatch('packet', (packets) => {
      for (const p of packets) mb.receive(p);
      flushEmitted();
    });
  }, { tls: o.tls });
  return {
    mb, controllerLink, dataLink,
    stop: () => { controllerLink.stop(); dataLink.stop(); },
  };
}
