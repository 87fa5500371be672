/**
 * A sink: an egress receiver that checks what it receives with a middlebox's own egress checker
 * (the one `openmb local` attaches to its switch): for a NAT, every translated packet's IPv4 and
 * TCP/UDP checksums recomputed in full and every external address:port watched for a second flow
 * while the first is alive; for an RE, a decoder at the far end of the link that learns its chunk
 * cache from the packets alone, as a real decoder would, and rebuilds every encoded payload.
 * Each switch that sends to it gets a checker of its own (two pools' packets are not one NAT's).
 * Its counters are served as JSON over HTTP.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MIDDLEBOXES, middleboxByType } from '../middleboxes/registry.js';
import { type Address, formatAddress, listenOptions } from '../protocol/address.js';
import type { TlsMaterial } from '../protocol/tls.js';
import type { EgressChecker } from '../shim/definition.js';
import type { Logger } from '../log/logger.js';
import { EgressReceiver, type ReceiverCounters, type SwitchCounters } from './receiver.js';

export interface SinkCheck {
  /** A middlebox type whose definition has an egress checker (nat, re). */
  type: string;
  /** Its configuration values (the pool's), over its defaults. */
  config: Record<string, unknown>;
}

export interface SinkOptions {
  listen: Address;
  secret: string;
  tls?: TlsMaterial;
  check?: SinkCheck;
  /** Serve GET /counters (and /healthz) here. */
  http?: Address;
  log: Logger;
}

export interface SinkReport extends Omit<ReceiverCounters, 'switches'> {
  listen: string;
  check: string | null;
  switches: Record<string, SwitchCounters & { check?: Record<string, unknown> }>;
}

/** The middleboxes whose definitions can check their egress. */
export function checkable(): string[] {
  return Object.keys(MIDDLEBOXES).filter((t) => MIDDLEBOXES[t].createEgress !== undefined);
}

/** A fresh checker for `check`, its configuration refused with the middlebox's own message when invalid. */
function checkerFactory(check: SinkCheck): () => EgressChecker {
  const def = middleboxByType(check.type);
  if (!def.createEgress) throw new Error(`--check: ${check.type} emits no packets to check (one of ${checkable().join(', ')})`);
  const config = def.parseConfig({ ...def.defaultConfig, ...check.config });
  return () => def.createEgress!(config);
}

export class Sink {
  private readonly receiver: EgressReceiver;
  private readonly checkers = new Map<string, EgressChecker>();
  private readonly newChecker: (() => EgressChecker) | null;
  private http: Server | null = null;
  private bound: Address | null = null;

  constructor(private readonly o: SinkOptions) {
    this.newChecker = o.check ? checkerFactory(o.check) : null;
    this.receiver = new EgressReceiver({
      listen: o.listen, secret: o.secret, tls: o.tls, log: o.log,
      onPacket: (p, from) => {
        if (!this.newChecker) return;
        let c = this.checkers.get(from);
        if (!c) {
          c = this.newChecker();
          this.checkers.set(from, c);
        }
        c.receive(p);
      },
    });
  }

  /** Starts listening; resolves with the bound addresses (packets, and HTTP when asked for). */
  async start(): Promise<{ listen: Address; http?: string }> {
    this.bound = await this.receiver.start();
    if (!this.o.http) return { listen: this.bound };
    this.http = createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0];
      if (req.method === 'GET' && (path === '/counters' || path === '/')) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(`${JSON.stringify(this.report())}\n`);
      } else if (path === '/healthz') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: GET /counters (JSON) and /healthz are served here\n');
      }
    });
    const server = this.http;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listenOptions(this.o.http!), () => resolve());
    });
    const a = server.address() as AddressInfo;
    return { listen: this.bound, http: formatAddress({ host: a.address, port: a.port }) };
  }

  report(): SinkReport {
    const r = this.receiver.snapshot();
    const switches: SinkReport['switches'] = {};
    for (const [name, c] of Object.entries(r.switches)) {
      const checker = this.checkers.get(name);
      switches[name] = { ...c, ...(checker ? { check: checker.report() } : {}) };
    }
    return { listen: this.bound ? formatAddress(this.bound) : '', check: this.o.check?.type ?? null, ...r, switches };
  }

  stop(): void {
    this.receiver.stop();
    this.http?.close();
  }
}
