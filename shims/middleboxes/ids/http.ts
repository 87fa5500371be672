/**
 * HTTP request parsing over one direction's in-order byte stream, after Zeek's HTTP analyzer:
 * request line and headers, bodies skipped by Content-Length, pipelined requests, lines ending in
 * LF or CRLF. Partial header blocks wait in the stream state (bounded by MAX_HEADER_BYTES); a
 * stream that stops looking like HTTP is given up for the rest of the connection.
 */

/** Nothing parsed yet: the first request line must carry an HTTP version or reach an HTTP port. */
export const HTTP_FIRST = 0;
/** Between requests of a connection known to carry HTTP. */
export const HTTP_NEXT = 1;
/** Inside a request body; `skip` bytes remain. */
export const HTTP_BODY = 2;
/** Not HTTP, or lost track: no more parsing on this connection. */
export const HTTP_OFF = 3;

export const MAX_HEADER_BYTES = 8192;
const MAX_METHOD = 32;
/** Ports where a request line without a version (HTTP/0.9, malformed) is still taken as HTTP. */
const HTTP_PORTS = new Set([80, 81, 8000, 8008, 8080, 8888, 3128]);

/** Reused by every parse (parsing is synchronous), so a request costs no extra allocation. */
const body = { length: 0 };

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;

export interface HttpStream {
  mode: number;
  /** Body bytes still to skip (mode HTTP_BODY). */
  skip: number;
  /** The start of a header block whose end has not arrived yet. */
  pending: Buffer | null;
}

export interface HttpRequest {
  method: string;
  uri: string;
  /** "HTTP/1.1", or "" when the request line has none. */
  version: string;
  host: string;
  userAgent: string;
  /** The raw header block, request line included. */
  header: Buffer;
}

/** RFC 9110 token characters, as a lookup table. */
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;

/** Index just past the blank line that ends a header block in data[from, to), or -1. */
function headerEnd(data: Buffer, from: number, to: number): number {
  let i = from;
  for (;;) {
    const lf = data.indexOf(LF, i);
    if (lf < 0 || lf >= to) return -1;
    if (lf + 1 < to && data[lf + 1] === LF) return lf + 2;
    if (lf + 2 < to && data[lf + 1] === CR && data[lf + 2] === LF) return lf + 3;
    i = lf + 1;
  }
}

/**
 * Whether data[from, to) can still be the start of a request line: a method token followed by a
 * blank or a line end. Decides early that a stream is not HTTP, before buffering any of it.
 */
function plausibleStart(data: Buffer, from: number, to: number): boolean {
  let i = from;
  while (i < to && TCHAR[data[i]]) i++;
  const len = i - from;
  if (len > MAX_METHOD) return false;
  if (i === to) return true;
  return len > 0 && (data[i] === SP || data[i] === CR || data[i] === LF);
}

/** Text of line data[from, to) without its line end. */
function lineText(data: Buffer, from: number, to: number): string {
  let end = to;
  if (end > from && data[end - 1] === LF) end--;
  if (end > from && data[end - 1] === CR) end--;
  return data.toString('latin1', from, end);
}

/**
 * Parses one complete header block data[from, to); null when its request line is not one.
 * `body.length` receives the Content-Length (-1 for a chunked body, which this parser cannot follow).
 */
function parseBlock(data: Buffer, from: number, to: number, first: boolean, serverPort: number, body: { length: number }): HttpRequest | null {
  const lineEnd = data.indexOf(LF, from);
  const requestLine = lineText(data, from, lineEnd + 1);
  const sp = requestLine.indexOf(' ');
  const method = sp < 0 ? requestLine : requestLine.slice(0, sp);
  if (method.length === 0 || method.length > MAX_METHOD) return null;
  for (let i = 0; i < method.length; i++) if (!TCHAR[method.charCodeAt(i)]) return null;
  let uri = sp < 0 ? '' : requestLine.slice(sp + 1).trim();
  let version = '';
  const v = uri.lastIndexOf(' HTTP/');
  if (v >= 0) {
    version = uri.slice(v + 1);
    uri = uri.slice(0, v).trim();
  }
  if (first && version === '' && !HTTP_PORTS.has(serverPort)) return null;
  let host = '';
  let userAgent = '';
  body.length = 0;
  let at = lineEnd + 1;
  while (at < to) {
    const nl = data.indexOf(LF, at);
    const end = nl < 0 || nl >= to ? to : nl + 1;
    const line = lineText(data, at, end);
    at = end;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'host') host = value;
    else if (name === 'user-agent') userAgent = value;
    else if (name === 'content-length' && /^\d+$/.test(value)) body.length = Number(value);
    else if (name === 'transfer-encoding' && value.toLowerCase().includes('chunked')) body.length = -1;
  }
  return { method, uri, version, host, userAgent, header: data.subarray(from, to) };
}

/**
 * Feeds in-order bytes data[from, to) of the client's stream; calls `onRequest` for every request
 * whose header block completes, with the index in `data` just past the block's last byte. The
 * request's `header` is only valid during the call.
 */
export function feedHttp(s: HttpStream, data: Buffer, from: number, to: number, serverPort: number,
  onRequest: (r: HttpRequest, end: number) => void): void {
  let off = from;
  while (off < to && s.mode !== HTTP_OFF) {
    if (s.mode === HTTP_BODY) {
      const n = Math.min(s.skip, to - off);
      s.skip -= n;
      off += n;
      if (s.skip === 0) s.mode = HTTP_NEXT;
      continue;
    }
    let buf: Buffer;
    let start: number;
    let searchFrom: number;
    if (s.pending) {
      buf = Buffer.concat([s.pending, data.subarray(off, to)]);
      start = 0;
      // The blank line may straddle the old and the new bytes.
      searchFrom = Math.max(0, s.pending.length - 2);
    } else {
      // Blank lines between requests (e.g. a CRLF after a POST body) are allowed.
      while (off < to && (data[off] === CR || data[off] === LF)) off++;
      if (off === to) return;
      buf = data;
      start = off;
      searchFrom = off;
    }
    const bufEnd = s.pending ? buf.length : to;
    const end = headerEnd(buf, searchFrom, bufEnd);
    if (end < 0) {
      const firstLine = buf.indexOf(LF, start);
      const lineDone = firstLine >= 0 && firstLine < bufEnd;
      if (bufEnd - start > MAX_HEADER_BYTES || !plausibleStart(buf, start, lineDone ? firstLine + 1 : bufEnd)
        || (lineDone && parseBlock(buf, start, firstLine + 1, s.mode === HTTP_FIRST, serverPort, body) === null)) {
        s.mode = HTTP_OFF;
        s.pending = null;
        return;
      }
      s.pending = s.pending ? buf : Buffer.from(data.subarray(off, to));
      return;
    }
    if (end - start > MAX_HEADER_BYTES) {
      s.mode = HTTP_OFF;
      s.pending = null;
      return;
    }
    const request = parseBlock(buf, start, end, s.mode === HTTP_FIRST, serverPort, body);
    // Bytes of this segment that the header block used.
    off = s.pending ? off + (end - s.pending.length) : end;
    s.pending = null;
    if (!request) {
      s.mode = HTTP_OFF;
      return;
    }
    onRequest(request, off);
    if (body.length < 0) {
      s.mode = HTTP_OFF;
    } else if (body.length > 0) {
      s.mode = HTTP_BODY;
      s.skip = body.length;
    } else {
      s.mode = HTTP_NEXT;
    }
  }
}

/** `gap` bytes of the stream were never seen: skip them in a body, else restart at the next request. */
export function gapHttp(s: HttpStream, gap: number): void {
  if (s.mode === HTTP_OFF) return;
  s.pending = null;
  if (s.mode === HTTP_BODY) {
    if (gap < s.skip) {
      s.skip -= gap;
      return;
    }
    s.skip = 0;
  }
  if (s.mode !== HTTP_FIRST) s.mode = HTTP_NEXT;
}
