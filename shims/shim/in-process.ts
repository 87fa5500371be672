/**
 * The southbound calls on a MiddleboxInstance in this process, without a socket: for merging a
 * pool's state into one instance, and for tests that move state between instances directly.
 */
import { compileFilter, type FlowFilter } from '../flow/filter.js';
import { type Chunk, type MbRequest, type Scope, SCOPES } from '../protocol/messages.js';
import type { MiddleboxInstance } from './runtime.js';

/** Serves one request; returns every reply, or throws with the error reply's message. */
export function call(mb: MiddleboxInstance, req: MbRequest): Record<string, unknown>[] {
  const replies: Record<string, unknown>[] = [];
  mb.handle(req, (m) => replies.push(m));
  const err = replies.find((r) => r.type === 'error');
  if (err) throw new Error(String(err.message));
  return replies;
}

/** The error message a request gets, or null when it succeeds. */
export function requestError(mb: MiddleboxInstance, req: MbRequest): string | null {
  try {
    call(mb, req);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

export function getChunks(mb: MiddleboxInstance, scope: Scope, filter: FlowFilter = {}): Chunk[] {
  return call(mb, { type: 'get', id: 1, scope, filter }).flatMap((r) => (r.type === 'state' ? (r.chunks as Chunk[]) : []));
}

export function putChunks(mb: MiddleboxInstance, scope: Scope, chunks: Chunk[]): void {
  call(mb, { type: 'put', id: 2, scope, chunks });
}

export function delState(mb: MiddleboxInstance, scope: Scope, filter: FlowFilter = {}): void {
  call(mb, { type: 'del', id: 3, scope, filter });
}

/**
 * A move as the controller does it, without traffic in between: the source's binary batches put
 * at the destination (as over the wire), then a delete at the source. Returns the chunks moved.
 */
export function moveState(src: MiddleboxInstance, dst: MiddleboxInstance, filter: FlowFilter = {}, scopes: readonly Scope[] = SCOPES): number {
  let moved = 0;
  const f = compileFilter(filter);
  for (const scope of scopes) {
    for (const batch of src.exportState(scope, f)) moved += dst.importState(batch, '').count;
    delState(src, scope, filter);
  }
  return moved;
}
