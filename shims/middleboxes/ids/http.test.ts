import test from 'ava';
import { feedHttp, gapHttp, HTTP_BODY, HTTP_FIRST, HTTP_NEXT, HTTP_OFF, type HttpStream, MAX_HEADER_BYTES } from './http.js';

interface Seen {
  method: string;
  uri: string;
  version: string;
  host: string;
  userAgent: string;
  header: string;
}

function stream(): HttpStream {
  return { mode: HTTP_FIRST, skip: 0, pending: null };
}

/** Feeds each segment in turn (as part of a larger frame, to check offsets) and lists the requests. */
function feed(s: HttpStream, segments: string[], port = 80): Seen[] {
  const out: Seen[] = [];
  for (const seg of segments) {
    const frame = Buffer.from(`[hdr]${seg}[trailer]`, 'latin1');
    feedHttp(s, frame, 5, 5 + seg.length, port, (r) => out.push({ ...r, header: r.header.toString('latin1') }));
  }
  return out;
}

const GET = 'GET /index.html HTTP/1.1\r\nHost: Example.com\r\nUser-Agent:  curl/8.0 \r\n\r\n';

test('one request in one segment', (t) => {
  const s = stream();
  t.deepEqual(feed(s, [GET]), [{ method: 'GET', uri: '/index.html', version: 'HTTP/1.1', host: 'Example.com', userAgent: 'curl/8.0', header: GET }]);
  t.deepEqual(s, { mode: HTTP_NEXT, skip: 0, pending: null });
});

test('a header block split across segments waits in the stream state', (t) => {
  const s = stream();
  t.deepEqual(feed(s, [GET.slice(0, 10)]), []);
  t.is(s.pending?.toString('latin1'), GET.slice(0, 10));
  t.deepEqual(feed(s, [GET.slice(10, GET.length - 3)]), []);
  // The blank line itself is split: "\r\n" + "\r\n".
  const got = feed(s, [GET.slice(GET.length - 3) + 'GET /b HTTP/1.1\r\n\r\n']);
  t.deepEqual(got.map((r) => r.uri), ['/index.html', '/b']);
  t.is(got[0].header, GET);
  t.is(s.pending, null);
});

test('pipelined requests with bodies, LF-only lines, blank lines between requests', (t) => {
  const s = stream();
  const post = 'POST /form HTTP/1.1\nContent-Length: 11\n\nhello=world\r\n';
  const got = feed(s, [post + 'GET /next HTTP/1.0\n\n', 'DELETE /x HTTP/1.1\r\ncontent-length: 0\r\n\r\n']);
  t.deepEqual(got.map((r) => `${r.method} ${r.uri} ${r.version}`), ['POST /form HTTP/1.1', 'GET /next HTTP/1.0', 'DELETE /x HTTP/1.1']);
});

test('a body split across segments is skipped', (t) => {
  const s = stream();
  t.deepEqual(feed(s, ['PUT /up HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123']).length, 1);
  t.deepEqual({ mode: s.mode, skip: s.skip }, { mode: HTTP_BODY, skip: 6 });
  t.deepEqual(feed(s, ['456789GET / HTTP/1.1\r\n\r\n']).map((r) => r.method), ['GET']);
});

test('malformed request lines as Zeek\'s methods trace has them, on port 80', (t) => {
  t.deepEqual(feed(stream(), ['OPTIONS HTTP/1.1\nHost: www.google.com\n\n']).map((r) => [r.method, r.uri, r.version, r.host]), [['OPTIONS', 'HTTP/1.1', '', 'www.google.com']]);
  t.deepEqual(feed(stream(), ['OPTIONS\nHost: www.google.com\n\n']).map((r) => [r.method, r.uri]), [['OPTIONS', '']]);
  t.deepEqual(feed(stream(), ['CCM_POST /HTTP/1.1\nHost: www.google.com\n\n']).map((r) => [r.method, r.uri]), [['CCM_POST', '/HTTP/1.1']]);
  const s = stream();
  t.deepEqual(feed(s, ['OPTIONSHTTP/1.1\nHost: www.google.com\n\n']), []);
  t.is(s.mode, HTTP_OFF);
});

test('a first line without a version is HTTP only on an HTTP port', (t) => {
  const ftp = stream();
  t.deepEqual(feed(ftp, ['USER anonymous\r\n'], 21), []);
  t.deepEqual({ mode: ftp.mode, pending: ftp.pending }, { mode: HTTP_OFF, pending: null });
  const ok = stream();
  t.deepEqual(feed(ok, ['GET / HTTP/1.1\r\n\r\n'], 5005).length, 1);
});

test('a stream that cannot be HTTP is given up before anything is buffered', (t) => {
  const tls = stream();
  t.deepEqual(feed(tls, ['\x16\x03\x01\x02\x00\x01\x00']), []);
  t.deepEqual({ mode: tls.mode, pending: tls.pending }, { mode: HTTP_OFF, pending: null });
  const ssh = stream();
  feed(ssh, ['SSH-2.0-OpenSSH_5.3\r\n'], 22);
  t.is(ssh.mode, HTTP_OFF);
});

test('an oversized header block ends parsing', (t) => {
  const s = stream();
  const big = `GET / HTTP/1.1\r\nCookie: ${'x'.repeat(MAX_HEADER_BYTES)}`;
  t.deepEqual(feed(s, [big.slice(0, 4000), big.slice(4000)]), []);
  t.deepEqual({ mode: s.mode, pending: s.pending }, { mode: HTTP_OFF, pending: null });
});

test('a chunked request body cannot be followed: parsing ends after its header', (t) => {
  const s = stream();
  t.is(feed(s, ['POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n']).length, 1);
  t.is(s.mode, HTTP_OFF);
});

test('a gap inside a body shortens it; elsewhere the next segment must start a request', (t) => {
  const s = stream();
  feed(s, ['POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n']);
  gapHttp(s, 60);
  t.deepEqual({ mode: s.mode, skip: s.skip }, { mode: HTTP_BODY, skip: 40 });
  t.is(feed(s, [`${'b'.repeat(40)}GET /after HTTP/1.1\r\n\r\n`])[0].uri, '/after');
  feed(s, ['GET /half HTTP/1.1\r\nHo']);
  gapHttp(s, 5);
  t.deepEqual({ mode: s.mode, pending: s.pending }, { mode: HTTP_NEXT, pending: null });
  t.is(feed(s, ['HEAD /resync HTTP/1.1\r\n\r\n'])[0].uri, '/resync');
});
