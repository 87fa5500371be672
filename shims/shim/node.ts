/**
 * The network side of a middlebox instance: a southbound link to the controller (requests in,
 * replies out), a data link to the steering switch (packet batches in, emitted packets back),
 * both reconnecting with backoff, and optionally a peer listener other instances put state into
 * (a direct transfer).
 */
import type net from 'node:net';
import { type Address, formatAddress } from '../protocol/address.js';
import type { Partitioning } from '../protocol/descriptor.js';
import { boundAddress as listenerAddress, type Peer } from '../protocol/connection.js';
import { MB_REQUEST_TYPES, mbRequest, readRequest } from '../protocol/messages.js';
import { encodePacketBatch, type WirePacket } from '../protocol/packets.js';
import { keepConnected, type Link } from '../protocol/reconnect.js';
import type { TlsMaterial } from '../protocol/tls.js';
import type { Logger } from '../log/logger.js';
import type { AnyMiddlebox } from './definition.js';
import { describe } from './descriptor.js';
import { MiddleboxInstance } from './runtime.js';
import { serveGet, servePutFrame } from './state-stream.js';
import { PeerLinks, servePeers, serveTransfer } from './transfer.js';
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
  /** Where peers put state into this instance (a direct transfer); without it, transfers to it are brokered. */
  peerListen?: Address;
  /** The host:port peers dial to reach peerListen (needed when it listens on every address). */
  peerAdvertise?: string;
  log: Logger;
}

export interface MiddleboxNode {
  readonly mb: MiddleboxInstance;
  readonly controllerLink: Link;
  readonly dataLink: Link;
  stop(): void;
}

/**
 * Validates one southbound message and serves it; malformed or unknown messages get an error.
 * A get streams binary batches and a transfer puts into a peer, both yielding between batches.
 */
export function serveSouthbound(mb: MiddleboxInstance, peer: Peer, msg: unknown, links?: PeerLinks): void {
  const r = readRequest(mbRequest, MB_REQUEST_TYPES, msg);
  if (!r.ok) peer.send(r.reply);
  else if (r.request.type === 'get') void serveGet(mb, peer, r.request);
  else if (r.request.type === 'transfer' && links) void serveTransfer(mb, peer, links, r.request);
  else mb.handle(r.request, (reply) => peer.send(reply));
}

/** The address peers are told to dial: the advertised one, or the listener's own when it is specific. */
function advertised(server: net.Server, listen: Address, advertise: string | undefined): string {
  if (advertise) return advertise;
  const bound = listenerAddress(server);
  if ('host' in bound && (bound.host === '0.0.0.0' || bound.host === '::')) {
    throw new Error(`--peer-listen ${formatAddress(listen)} listens on every address: give --peer-advertise host:port, the address peers dial`);
  }
  return formatAddress(bound);
}

export async function startMiddleboxNode(o: MiddleboxNodeOptions): Promise<MiddleboxNode> {
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
  const peerServer = o.peerListen ? await servePeers(o.peerListen, o.secret, o.log, mb, o.tls) : null;
  let peerAddress: string | undefined;
  try {
    peerAddress = peerServer ? advertised(peerServer, o.peerListen!, o.peerAdvertise) : undefined;
  } catch (e) {
    peerServer!.close();
    throw e;
  }
  const links = new PeerLinks({ name: o.instance, pool: o.pool, secret: o.secret }, o.log, o.tls);
  const who = { secret: o.secret, role: 'mb' as const, name: o.instance, pool: o.pool, mbType: o.def.type, descriptor: describe(o.def), ...(peerAddress ? { peerAddress } : {}) };
  const controllerLink = keepConnected(o.controller, who, o.log, (peer) => {
    o.log.info({ instance: o.instance }, 'connected to controller');
    peer.on('json', (msg) => {
      serveSouthbound(mb, peer, msg, links);
      flushEmitted();
    });
    peer.on('state', (payload) => servePutFrame(mb, peer, payload));
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
    stop: () => { controllerLink.stop(); dataLink.stop(); links.close(); peerServer?.close(); },
  };
}
