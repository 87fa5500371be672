/**
 * Mutual TLS under the hello, across real sockets on 127.0.0.1: a plain TCP peer, a peer with
 * another CA's certificate or none, and a peer with a good certificate but a wrong secret are
 * refused without being handed any data, and the listener goes on serving good peers. The
 * certificates come from the operator's own generator.
 */
import test from 'ava';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:net';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { pino } from 'pino';
import { createCertificateAuthority, generateTlsMaterial, issueCertificate } from '../../operator/kube/certificates.js';
import { silentLogger } from '../log/logger.js';
import { type Address } from './address.js';
import { acceptPeers, boundAddress, connectPeer, Peer } from './connection.js';
import { encodeJsonFrame } from './framing.js';
import { keepConnected } from './reconnect.js';
import { connectTls, loadTlsMaterial, TLS_FILES, type TlsMaterial, writeTlsMaterial } from './tls.js';

const SECRET = 'the-shared-secret';

let good: TlsMaterial;
let foreign: TlsMaterial;
let server: Server;
let address: Address;
const port = () => (address as { port: number }).port;
const admitted: string[] = [];
const warnings: string[] = [];
const log = pino({ level: 'warn' }, { write: (line: string) => { warnings.push(line); } });

test.before(async () => {
  const ca = await createCertificateAuthority();
  good = await issueCertificate(ca);
  foreign = await generateTlsMaterial();
  server = await acceptPeers({ host: '127.0.0.1', port: 0 }, SECRET, log, (peer, hello) => {
    admitted.push(hello.name);
    // Anything an admitted peer would see first: a refused one must never get it.
    peer.send({ type: 'welcome' });
    peer.on('json', (m) => {
      const msg = m as { type?: string; id?: number };
      if (msg.type === 'ping') peer.send({ type: 'pong', id: msg.id });
    });
  }, { tls: good });
  address = boundAddress(server);
});

test.after.always(() => server?.close());

/** A good peer completes the hello, is welcomed, and gets a reply to a request. */
async function goodPeerWorks(t: { deepEqual: (a: unknown, b: unknown) => void }, name: string): Promise<void> {
  const seen: unknown[] = [];
  const peer = await connectPeer(address, { secret: SECRET, role: 'mb', name }, silentLogger, (p) => p.on('json', (m) => seen.push(m)), { tls: good });
  const pong = new Promise((resolve) => peer.on('json', (m) => { if ((m as { type: string }).type === 'pong') resolve(m); }));
  peer.send({ type: 'ping', id: 7 });
  t.deepEqual(await pong, { type: 'pong', id: 7 });
  t.deepEqual(seen, [{ type: 'welcome' }, { type: 'pong', id: 7 }]);
  peer.close('closed locally');
}

/** Everything the listener sends to a raw socket until it closes the connection (or 5 s, if it wrongly keeps it). */
function collect(socket: net.Socket, connectEvent: string, send: Buffer): Promise<Buffer> {
  return new Promise((resolve) => {
    const got: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), 5000);
    socket.once(connectEvent, () => socket.write(send));
    socket.on('data', (d: Buffer) => got.push(d));
    socket.on('error', () => undefined);
    socket.on('close', () => { clearTimeout(timer); resolve(Buffer.concat(got)); });
  });
}

const helloFrame = (name: string, secret = SECRET) => encodeJsonFrame({ type: 'hello', secret, role: 'mb', name });

test.serial('a good peer works end to end: hello-ok, a request and its reply', async (t) => {
  await goodPeerWorks(t, 'good-0');
  t.true(admitted.includes('good-0'));
});

test.serial('a plain TCP peer is refused in the handshake, before its hello is read', async (t) => {
  warnings.length = 0;
  const got = await collect(net.connect(port(), '127.0.0.1'), 'connect', helloFrame('plain'));
  // At most a TLS alert record (content type 21): never a frame of ours.
  t.true(got.length === 0 || got[0] === 21, `got ${got.toString('hex')}`);
  t.false(admitted.includes('plain'));
  t.true(warnings.some((w) => w.includes('refused a peer in the TLS handshake')));
  t.false(warnings.some((w) => w.includes('hello')), 'the hello was never parsed');
  await t.throwsAsync(connectPeer(address, { secret: SECRET, role: 'mb', name: 'plain-2' }, silentLogger), { message: /a TLS listener closes plain peers: does it need --tls-dir\?/ });
  t.false(admitted.includes('plain-2'));
  await goodPeerWorks(t, 'good-1');
});

test.serial('a peer with a certificate from another CA, or with none, is refused before it reads or writes anything', async (t) => {
  // The peer trusts our listener but presents a certificate our CA did not sign.
  const withForeignCert = tls.connect({ host: '127.0.0.1', port: port(), ca: good.ca, cert: foreign.cert, key: foreign.key, servername: 'openmb' });
  t.is((await collect(withForeignCert, 'secureConnect', helloFrame('foreign'))).length, 0);
  const withoutCert = tls.connect({ host: '127.0.0.1', port: port(), ca: good.ca, servername: 'openmb' });
  t.is((await collect(withoutCert, 'secureConnect', helloFrame('no-cert'))).length, 0);
  await t.throwsAsync(connectPeer(address, { secret: SECRET, role: 'mb', name: 'foreign-2' }, silentLogger, undefined, { tls: foreign }));
  t.deepEqual(admitted.filter((n) => !n.startsWith('good')), []);
  await goodPeerWorks(t, 'good-2');
});

test.serial('a peer with a good certificate and a wrong secret gets only the refusal', async (t) => {
  const err = await t.throwsAsync(connectPeer(address, { secret: 'guessed', role: 'mb', name: 'liar' }, silentLogger, undefined, { tls: good }));
  t.regex(err.message, /wrong shared secret/);
  // The same, watching every message that comes back before the listener closes the connection.
  const peer = new Peer(connectTls(address, good), silentLogger);
  const seen: unknown[] = [];
  peer.on('json', (m) => seen.push(m));
  peer.socket.once('secureConnect', () => peer.send({ type: 'hello', secret: 'guessed-again', role: 'mb', name: 'liar-2' }));
  await new Promise((resolve) => peer.once('close', resolve));
  t.deepEqual(seen, [{ type: 'error', id: null, cause: 'unauthorized', message: 'wrong shared secret' }]);
  t.false(admitted.includes('liar') || admitted.includes('liar-2'));
  await goodPeerWorks(t, 'good-3');
});

test.serial('a dialer refuses a listener whose certificate does not name DNS:openmb, before sending its secret', async (t) => {
  const ca = await createCertificateAuthority();
  const elsewhere = await issueCertificate(ca, { dnsName: 'elsewhere' });
  const received: Buffer[] = [];
  const impostor = tls.createServer(elsewhere, (s) => s.on('data', (d: Buffer) => { received.push(d); s.destroy(); }));
  await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', resolve));
  const at = { host: '127.0.0.1', port: (impostor.address() as net.AddressInfo).port };
  // The dialer trusts the impostor's CA on purpose: only the name check stands between it and the secret.
  const err = await t.throwsAsync(connectPeer(at, { secret: SECRET, role: 'mb', name: 'victim' }, silentLogger, undefined, { tls: { ...good, ca: elsewhere.ca } }));
  t.regex(err.message, /openmb/);
  impostor.close();
  t.is(Buffer.concat(received).length, 0);
});

test.serial('keepConnected dials over TLS and stays up', async (t) => {
  const link = keepConnected(address, { secret: SECRET, role: 'mb', name: 'linked' }, silentLogger, (p) => {
    p.on('json', () => undefined);
  }, { tls: good });
  const peer = await link.ready();
  const pong = new Promise((resolve) => peer.on('json', (m) => { if ((m as { type: string }).type === 'pong') resolve(m); }));
  peer.send({ type: 'ping', id: 1 });
  t.deepEqual(await pong, { type: 'pong', id: 1 });
  link.stop();
  t.true(admitted.includes('linked'));
});

test('a TLS directory round-trips, keeps its key private, and names a missing or wrong file', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'openmb-tls-'));
  try {
    writeTlsMaterial(dir, good);
    t.deepEqual(loadTlsMaterial(dir), good);
    t.is(statSync(join(dir, TLS_FILES.key)).mode & 0o777, 0o600);
    writeFileSync(join(dir, TLS_FILES.cert), foreign.cert);
    t.throws(() => loadTlsMaterial(dir), { message: new RegExp(`^TLS directory ${dir}: .*key values mismatch`) });
    rmSync(join(dir, TLS_FILES.key));
    t.throws(() => loadTlsMaterial(dir), { message: new RegExp(`^TLS directory ${dir} has no tls.key`) });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
