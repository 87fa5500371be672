/**
 * A framed, authenticated connection. The connecting side sends `hello` with the shared secret
 * first; the accepting side answers `hello-ok` or closes. Until then no other frame is read or
 * written. A broken or oversize frame closes the connection with a logged reason; a JSON frame
 * that does not parse is answered with an `error` by whoever consumes the 'json' event.
 * With TLS material both sides run mutual TLS under the hello: a listener hands a socket to the
 * hello exchange only once the peer's certificate has been verified, and a dialer sends its
 * hello only once the listener's certificate has.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { type Address, connectOptions, formatAddress, listenOptions } from './address.js';
import { secretsEqual } from './auth.js';
import { DEFAULT_MAX_FRAME, encodeJsonFrame, FrameDecoder, FrameError } from './framing.js';
import { describeIssues, hello, type Hello } from './messages.js';
import { decodePacketBatch, type WirePacket } from './packets.js';
import { connectTls, serverOptions, type TlsMaterial } from './tls.js';
import type { Logger } from '../log/logger.js';

const HELLO_TIMEOUT_MS = 5000;

export interface ChannelOptions {
  maxFrame?: number;
  /** Mutual TLS under the hello; without it the channel is plain (Unix sockets, loopback). */
  tls?: TlsMaterial;
}

export interface PeerEvents {
  json: [message: unknown, raw: string];
  packets: [payload: Buffer];
  /** A state batch (state-frames.ts), undecoded. */
  state: [payload: Buffer];
  close: [reason: string];
}

export class Peer extends EventEmitter<PeerEvents> {
  private readonly decoder: FrameDecoder;
  private closed = false;
  closeReason = '';

  constructor(readonly socket: net.Socket, readonly log: Logger, maxFrame = DEFAULT_MAX_FRAME) {
    super();
    this.decoder = new FrameDecoder(maxFrame);
    socket.setNoDelay(true);
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('error', (err) => this.close(`socket error: ${err.message}`));
    socket.on('close', () => this.close('peer closed the connection'));
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    let frames;
    try {
      frames = this.decoder.push(chunk);
    } catch (e) {
      this.close(e instanceof FrameError ? `broken frame at ${e.message}` : String(e));
      return;
    }
    for (const f of frames) {
      if (this.closed) return;
      if (f.kind === 'packets') {
        this.emit('packets', f.payload);
        continue;
      }
      if (f.kind === 'state') {
        this.emit('state', f.payload);
        continue;
      }
      let msg: unknown;
      try {
        msg = JSON.parse(f.text);
      } catch (e) {
        msg = new SyntaxError(`frame is not valid JSON: ${(e as Error).message}`);
      }
      this.emit('json', msg, f.text);
    }
  }

  /** Calls `handler` with each packet batch that decodes; a broken batch closes the connection. */
  onPacketBatch(what: string, handler: (packets: WirePacket[], payload: Buffer) => void): void {
    this.on('packets', (payload) => {
      let packets: WirePacket[];
      try {
        packets = decodePacketBatch(payload);
      } catch (e) {
        this.close(`broken ${what} batch: ${(e as Error).message}`);
        return;
      }
      handler(packets, payload);
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Sends a JSON message; returns false when the socket buffer is full (wait for 'drain'). */
  send(message: unknown): boolean {
    if (this.closed) return false;
    return this.socket.write(encodeJsonFrame(message));
  }

  /** Sends an already framed buffer (a packet batch). */
  sendFrame(frame: Buffer): boolean {
    if (this.closed) return false;
    return this.socket.write(frame);
  }

  /** Sends one frame given in parts (a header, then a body that is not copied); false as send. */
  sendParts(parts: readonly Buffer[]): boolean {
    if (this.closed) return false;
    this.socket.cork();
    let ok = true;
    for (const p of parts) ok = this.socket.write(p);
    process.nextTick(() => this.socket.uncork());
    return ok;
  }

  /** Resolves once the socket's write buffer has drained. */
  drained(): Promise<void> {
    if (this.closed || !this.socket.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => { this.socket.off('drain', done); this.off('close', done); resolve(); };
      this.socket.once('drain', done);
      this.once('close', done);
    });
  }

  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = reason;
    if (reason !== 'peer closed the connection' && reason !== 'closed locally') {
      this.log.warn({ remote: remoteName(this.socket), reason }, 'closing connection');
    }
    this.socket.end();
    this.socket.destroy();
    this.emit('close', reason);
  }
}

function remoteName(s: net.Socket): string {
  return s.remoteAddress ? `${s.remoteAddress}:${s.remotePort}` : 'unix socket peer';
}

/**
 * Accepts connections and hands each authenticated one to `onPeer`. Peers that present a wrong
 * or missing secret, or anything but a valid hello, are told why and closed. With TLS, a peer
 * that does not complete the handshake with a certificate from our CA (a plain TCP peer, one
 * with another CA's certificate or none) is dropped by the TLS layer: nothing it sent is read.
 */
export function acceptPeers(address: Address, secret: string, log: Logger, onPeer: (peer: Peer, hello: Hello) => void,
  o: ChannelOptions = {}): Promise<net.Server> {
  const onSocket = (socket: net.Socket) => {
    const peer = new Peer(socket, log, o.maxFrame);
    const timer = setTimeout(() => peer.close('no hello within 5 s'), HELLO_TIMEOUT_MS);
    const refuse = (message: string) => {
      clearTimeout(timer);
      peer.send({ type: 'error', id: null, cause: 'unauthorized', message });
      peer.close(`refused: ${message}`);
    };
    const early = () => refuse('binary frames before hello');
    peer.once('close', () => clearTimeout(timer));
    peer.once('packets', early);
    peer.once('state', early);
    peer.once('json', (msg) => {
      peer.off('packets', early);
      peer.off('state', early);
      const parsed = hello.safeParse(msg);
      if (!parsed.success) return refuse(`the first message must be a valid hello (${msg instanceof Error ? msg.message : describeIssues(parsed.error)})`);
      if (!secretsEqual(parsed.data.secret, secret)) return refuse('wrong shared secret');
      clearTimeout(timer);
      peer.send({ type: 'hello-ok' });
      onPeer(peer, parsed.data);
    });
  };
  let server: net.Server;
  if (o.tls) {
    server = tls.createServer(serverOptions(o.tls, HELLO_TIMEOUT_MS), onSocket);
    // A peer that hung up has no address left to log; pino leaves the field out.
    server.on('tlsClientError', (err, socket) => log.warn({ remote: socket.remoteAddress && `${socket.remoteAddress}:${socket.remotePort}`, reason: err.message.trim() }, 'refused a peer in the TLS handshake'));
  } else {
    if ('host' in address && !isLoopback(address.host)) log.warn({ listen: formatAddress(address) }, 'listening without TLS off loopback: shared secrets cross the network in clear text');
    server = net.createServer(onSocket);
  }
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenOptions(address), () => {
      server.off('error', reject);
      server.on('error', (err) => log.error({ err }, 'listener error'));
      resolve(server);
    });
  });
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

export function boundAddress(server: net.Server): Address {
  const a = server.address();
  if (typeof a === 'string') return { path: a };
  if (!a) throw new Error('server is not listening');
  return { host: a.address, port: a.port };
}

/**
 * Connects, sends hello, and resolves once the peer answers hello-ok. `onReady` runs
 * synchronously on hello-ok, before any later frame is read: a request that arrives in the same
 * chunk as hello-ok would otherwise be emitted before a caller awaiting the promise can listen.
 */
export function connectPeer(address: Address, who: Omit<Hello, 'type'>, log: Logger, onReady?: (peer: Peer) => void,
  o: ChannelOptions = {}): Promise<Peer> {
  return new Promise((resolve, reject) => {
    const socket = o.tls ? connectTls(address, o.tls) : net.connect(connectOptions(address));
    const peer = new Peer(socket, log, o.maxFrame);
    const fail = (why: string) => reject(new Error(`${formatAddress(address)}: ${why}`));
    const onClose = (reason: string) => fail(!o.tls && reason === 'peer closed the connection'
      ? `${reason} before answering the hello (a TLS listener closes plain peers: does it need --tls-dir?)` : reason);
    peer.once('close', onClose);
    // Over TLS the secret goes only to a listener whose certificate has been verified.
    socket.once(o.tls ? 'secureConnect' : 'connect', () => peer.send({ type: 'hello', ...who }));
    peer.once('json', (msg) => {
      const m = msg as { type?: string; message?: string };
      if (m && m.type === 'hello-ok') {
        peer.off('close', onClose);
        onReady?.(peer);
        resolve(peer);
      } else {
        peer.off('close', onClose);
        fail(`handshake refused: ${m?.message ?? JSON.stringify(msg)}`);
        peer.close('handshake refused');
      }
    });
  });
}
