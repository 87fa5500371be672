/**
 * Direct transfer between instances: the source exports state and puts it straight into the
 * destination's peer listener, so no state byte passes through the controller, which only
 * starts the transfer and follows its progress.
 */
import type net from 'node:net';
import type { Address } from '../protocol/address.js';
import { parseAddress } from '../protocol/address.js';
import { acceptPeers, connectPeer, type Peer } from '../protocol/connection.js';
import { MB_REQUEST_TYPES, mbRequest, readRequest, type Scope } from '../protocol/messages.js';
import { RpcClient } from '../protocol/rpc.js';
import { stateFrame } from '../protocol/state-frames.js';
import type { TlsMaterial } from '../protocol/tls.js';
import type { FlowFilter } from '../flow/filter.js';
import type { Logger } from '../log/logger.js';
import type { MiddleboxInstance } from './runtime.js';
import { exportBatches, servePutFrame } from './state-stream.js';

/** Puts a transfer keeps in flight to its destination: enough to keep both busy, few enough to bound memory. */
const MAX_PUTS_IN_FLIGHT = 4;

export interface TransferRequest {
  id: number;
  scope: Scope;
  filter: FlowFilter;
  op: string;
  to: { instance: string; address: string };
}

interface PeerLink {
  peer: Peer;
  rpc: RpcClient;
}

/** This instance's connections to its peers' listeners, one per address, dialled on first use. */
export class PeerLinks {
  private readonly links = new Map<string, Promise<PeerLink>>();

  constructor(private readonly who: { name: string; pool: string; secret: string }, private readonly log: Logger, private readonly tls?: TlsMaterial) {}

  to(address: string): Promise<PeerLink> {
    let link = this.links.get(address);
    if (!link) {
      link = connectPeer(parseAddress(address, 'to.address'), { secret: this.who.secret, role: 'mb-peer', name: this.who.name, pool: this.who.pool }, this.log, undefined, { tls: this.tls })
        .then((peer) => {
          peer.once('close', () => this.links.delete(address));
          return { peer, rpc: new RpcClient(peer, new Set(), (m) => this.log.warn({ peer: address, msg: m.type }, 'unexpected message from peer')) };
        });
      link.catch(() => this.links.delete(address));
      this.links.set(address, link);
    }
    return link;
  }

  close(): void {
    for (const link of this.links.values()) void link.then((l) => l.peer.close('closed locally'), () => {});
    this.links.clear();
  }
}

/**
 * Runs one transfer for the controller on `ctl`: exports the matching state, puts each batch to
 * the destination under the request's op, and reports every ack as transfer-progress, then
 * transfer-ack; any failure (the destination unreachable or refusing a put) is the request's
 * error reply.
 */
export async function serveTransfer(mb: MiddleboxInstance, ctl: Peer, links: PeerLinks, req: TransferRequest): Promise<void> {
  const done = { count: 0, bytes: 0, skipped: 0 };
  let failure: Error | null = null;
  const inFlight: Promise<void>[] = [];
  try {
    const link = await links.to(req.to.address);
    await exportBatches(mb, req.scope, req.filter, link.peer, async (batch) => {
      if (failure) throw failure;
      const bytes = batch.body.length;
      inFlight.push(link.rpc.requestFrame<{ count: number; skipped?: number }>('put', (id) => stateFrame('put', id, batch, req.op)).then((ack) => {
        done.count += ack.count + (ack.skipped ?? 0);
        done.skipped += ack.skipped ?? 0;
        done.bytes += bytes;
        ctl.send({ type: 'transfer-progress', id: req.id, ...done });
      }, (e: Error) => { failure ??= e; }));
      if (inFlight.length >= MAX_PUTS_IN_FLIGHT) await inFlight.shift();
      await link.peer.drained();
    });
    await Promise.all(inFlight);
    if (failure) throw failure;
    ctl.send({ type: 'transfer-ack', id: req.id, ...done });
  } catch (e) {
    ctl.send({ type: 'error', id: req.id, cause: 'internal', message: `transfer to ${req.to.instance} at ${req.to.address}: ${(e as Error).message}` });
  }
}

/**
 * The listener peers put state into: it serves puts (binary frames, or JSON) from instances that
 * present the shared secret as role mb-peer, and nothing else.
 */
export function servePeers(address: Address, secret: string, log: Logger, mb: MiddleboxInstance, tls?: TlsMaterial): Promise<net.Server> {
  return acceptPeers(address, secret, log, (peer, hello) => {
    if (hello.role !== 'mb-peer') {
      peer.send({ type: 'error', id: null, cause: 'unauthorized', message: `a peer listener serves instances (role mb-peer), not ${hello.role}` });
      peer.close(`refused: role ${hello.role} on the peer listener`);
      return;
    }
    peer.on('state', (payload) => servePutFrame(mb, peer, payload));
    peer.on('json', (msg) => {
      const r = readRequest(mbRequest, MB_REQUEST_TYPES, msg);
      if (!r.ok) peer.send(r.reply);
      else if (r.request.type !== 'put') peer.send({ type: 'error', id: r.request.id, cause: 'unsupported', message: `a peer link serves only put, not ${r.request.type}` });
      else mb.handle(r.request, (reply) => peer.send(reply));
    });
  }, { tls });
}
