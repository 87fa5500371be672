/**
 * TCP reassembly for the HTTP parser: one direction's segments are fed to the parser in sequence
 * order, whatever order they arrive in. A segment after a gap waits in the stream state (so it
 * moves with the flow) until the gap fills; bytes already fed or already waiting are not taken
 * again, but each waiting byte keeps the earliest capture time of its copies, and a request alert
 * takes the earliest time of the copies of its last byte (see ids.ts), so a retransmission that
 * arrives before the original changes nothing.
 *
 * The stream starts at its SYN's ISN + 1; until the SYN is seen every segment waits. A gap is given
 * up (the parser is told the bytes are missing and goes on with the next segment) only when the
 * waiting bytes exceed the reassembly limit, or when the outputs are read (`flushStream`, on a copy:
 * the outputs report the connection as if it ended then). A stream whose start is still unknown at
 * that point starts at the lowest offset seen. A gap inside a request body is no gap: body bytes
 * are skipped unread, so the parser moves past missing ones at once.
 */
import { feedHttp, gapHttp, HTTP_BODY, HTTP_FIRST, HTTP_NEXT, HTTP_OFF, type HttpRequest } from './http.js';
import type { Piece, Stream } from './state.js';

/** Where the requests a stream completes go: with the stream offset of their last byte and its capture time. */
export interface StreamSink {
  serverPort: number;
  onRequest(r: HttpRequest, at: number, ts: number): void;
}

export function newStream(): Stream {
  return { next: null, http: { mode: HTTP_FIRST, skip: 0, pending: null }, pieces: [], held: 0 };
}

/** Stops parsing a stream for good (not HTTP, or not the originator's): nothing is kept any more. */
export function endStream(s: Stream): void {
  s.http.mode = HTTP_OFF;
  s.http.pending = null;
  s.pieces = [];
  s.held = 0;
}

/** Feeds data[from, to), which starts at stream offset s.next. */
function feed(s: Stream, data: Buffer, from: number, to: number, ts: number, sink: StreamSink): void {
  const base = s.next! - from;
  feedHttp(s.http, data, from, to, sink.serverPort, (r, end) => sink.onRequest(r, base + end - 1, ts));
  s.next = base + to;
  if (s.http.mode === HTTP_OFF) endStream(s);
}

/** Feeds the waiting pieces that have become contiguous; skips missing body bytes. */
function deliver(s: Stream, sink: StreamSink): void {
  while (s.pieces.length > 0 && s.http.mode !== HTTP_OFF) {
    const p = s.pieces[0];
    const next = s.next!;
    if (p.off > next) {
      if (s.http.mode !== HTTP_BODY) return;
      // Body bytes are skipped unread: missing ones are no gap.
      const n = Math.min(s.http.skip, p.off - next);
      s.http.skip -= n;
      s.next = next + n;
      if (s.http.skip === 0) s.http.mode = HTTP_NEXT;
      continue;
    }
    s.pieces.shift();
    s.held -= p.data.length;
    const used = next - p.off;
    if (used < p.data.length) feed(s, p.data, used, p.data.length, p.ts, sink);
  }
}

/** Gives up the gap before the first waiting piece (or, with no start yet, starts at it). */
function giveUpGap(s: Stream): void {
  const p = s.pieces[0];
  if (s.next === null) {
    s.next = p.off;
  } else if (p.off > s.next) {
    gapHttp(s.http, p.off - s.next);
    s.next = p.off;
  }
}

/** Index of the first piece that ends after `off`. */
function firstEndingAfter(pieces: Piece[], off: number): number {
  let lo = 0;
  let hi = pieces.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (pieces[mid].off + pieces[mid].data.length <= off) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Adds bytes at [off, off + data.length) to the waiting pieces (`data` is kept, not copied): new
 * bytes are added, bytes already waiting keep their content and take the earlier capture time.
 */
function insertPiece(s: Stream, off: number, data: Buffer, ts: number): void {
  const end = off + data.length;
  const ps = s.pieces;
  const i = firstEndingAfter(ps, off);
  let j = i;
  const out: Piece[] = [];
  let cur = off;
  while (j < ps.length && ps[j].off < end) {
    const p = ps[j];
    const pEnd = p.off + p.data.length;
    if (cur < p.off) {
      out.push({ off: cur, data: data.subarray(cur - off, p.off - off), ts });
      s.held += p.off - cur;
    }
    if (ts < p.ts) {
      const from = Math.max(cur, p.off);
      const to = Math.min(end, pEnd);
      if (p.off < from) out.push({ off: p.off, data: p.data.subarray(0, from - p.off), ts: p.ts });
      out.push({ off: from, data: p.data.subarray(from - p.off, to - p.off), ts });
      if (to < pEnd) out.push({ off: to, data: p.data.subarray(to - p.off), ts: p.ts });
    } else {
      out.push(p);
    }
    cur = Math.max(cur, pEnd);
    j++;
  }
  if (cur < end) {
    out.push({ off: cur, data: data.subarray(cur - off), ts });
    s.held += end - cur;
  }
  ps.splice(i, j - i, ...out);
}

/** Gives up gaps until no more than `limit` bytes wait. */
function enforceLimit(s: Stream, limit: number, sink: StreamSink): void {
  while (s.held > limit && s.http.mode !== HTTP_OFF) {
    giveUpGap(s);
    deliver(s, sink);
  }
}

/**
 * Adds the segment data[from, to) at stream offset `off`, captured at `ts`, and feeds what has
 * become contiguous. Waits at most `limit` bytes.
 */
export function addSegment(s: Stream, off: number, data: Buffer, from: number, to: number, ts: number, limit: number, sink: StreamSink): void {
  if (s.http.mode === HTTP_OFF || from >= to) return;
  if (s.next !== null) {
    if (off + (to - from) <= s.next) return; // all of it was fed already
    if (off < s.next) {
      from += s.next - off;
      off = s.next;
    }
    if (off === s.next && (s.pieces.length === 0 || s.pieces[0].off >= off + (to - from))) {
      // In order, overlapping nothing that waits: straight to the parser.
      feed(s, data, from, to, ts, sink);
      deliver(s, sink);
      return;
    }
  }
  insertPiece(s, off, Buffer.from(data.subarray(from, to)), ts);
  if (s.next !== null) deliver(s, sink);
  enforceLimit(s, limit, sink);
}

/** The stream's start became known (its SYN was seen): feeds from there. */
export function startStream(s: Stream, start: number, limit: number, sink: StreamSink): void {
  if (s.next !== null || s.http.mode === HTTP_OFF) return;
  s.next = start;
  deliver(s, sink);
  enforceLimit(s, limit, sink);
}

/** True when a stream holds bytes the parser has not seen. */
export function streamWaiting(s: Stream | null): boolean {
  return s !== null && s.http.mode !== HTTP_OFF && s.pieces.length > 0;
}

/** Parses what waits as though the connection ended now, giving up every gap, on a copy: `s` is unchanged. */
export function flushStream(s: Stream, sink: StreamSink): void {
  const v: Stream = { next: s.next, http: { ...s.http }, pieces: [...s.pieces], held: s.held };
  while (v.pieces.length > 0 && v.http.mode !== HTTP_OFF) {
    giveUpGap(v);
    deliver(v, sink);
  }
}
