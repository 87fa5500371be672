/**
 * State over a connection, in binary batches: a get's export that yields to packet processing
 * between batches and waits for the socket to drain, and the import of a put frame.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { compileFilter, type FlowFilter } from '../flow/filter.js';
import type { Peer } from '../protocol/connection.js';
import type { Scope } from '../protocol/messages.js';
import { readStateFrame, type StateBatch, stateFrame } from '../protocol/state-frames.js';
import type { MiddleboxInstance } from './runtime.js';
import { StateError } from './tables.js';

/**
 * Streams the matching state to `send`, one batch at a time. Between batches it lets the event
 * loop run, so packets keep being processed during a large export, and it waits while `send`
 * says the socket's buffer is full (false) or until the promise it gave resolves, so an export
 * holds a few batches in memory at most. Resolves with the chunks and body bytes sent.
 */
export async function exportBatches(mb: MiddleboxInstance, scope: Scope, filter: FlowFilter, peer: Peer,
  send: (batch: StateBatch) => boolean | Promise<void>): Promise<{ count: number; bytes: number }> {
  let count = 0;
  let bytes = 0;
  for (const batch of mb.exportState(scope, compileFilter(filter))) {
    if (peer.isClosed) throw new Error(`connection closed: ${peer.closeReason}`);
    count += batch.count;
    bytes += batch.body.length;
    const sent = send(batch);
    if (sent === false) await peer.drained();
    else if (sent !== true) await sent;
    await nextTurn();
  }
  return { count, bytes };
}

/** A state error's own cause (malformed, unknown-key); anything else is internal. */
function errorReply(id: number, e: unknown): Record<string, unknown> {
  return { type: 'error', id, cause: e instanceof StateError ? e.code : 'internal', message: (e as Error).message };
}

/** Serves a get over `peer`: state frames, then get-ack with the count and bytes. */
export async function serveGet(mb: MiddleboxInstance, peer: Peer, req: { id: number; scope: Scope; filter: FlowFilter }): Promise<void> {
  try {
    const sent = await exportBatches(mb, req.scope, req.filter, peer, (batch) => peer.sendParts(stateFrame('state', req.id, batch)));
    peer.send({ type: 'get-ack', id: req.id, ...sent });
  } catch (e) {
    peer.send(errorReply(req.id, e));
  }
}

/** Serves one binary frame: a put of a state batch, answered with put-ack or an error naming what is wrong. */
export function servePutFrame(mb: MiddleboxInstance, peer: Peer, payload: Buffer): void {
  let frame;
  try {
    frame = readStateFrame(payload);
  } catch (e) {
    peer.send({ type: 'error', id: null, cause: 'malformed', message: (e as Error).message });
    return;
  }
  if (frame.kind !== 'put') {
    peer.send({ type: 'error', id: frame.id, cause: 'unsupported', message: 'a state frame sent to an instance must be a put' });
    return;
  }
  try {
    peer.send({ type: 'put-ack', id: frame.id, ...mb.importState(frame, frame.op) });
  } catch (e) {
    peer.send(errorReply(frame.id, e));
  }
}
