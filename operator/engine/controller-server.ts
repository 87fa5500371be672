/**
 * The controller's listener: middlebox instances and steering switches dial in here. It keeps
 * the live sessions by name, so that a reconnecting peer replaces its old session, and lets
 * callers wait for a named peer to appear.
 */
import type { Server } from 'node:net';
import { EventEmitter } from 'node:events';
import type { Address } from '../../shims/protocol/address.js';
import { acceptPeers, boundAddress } from '../../shims/protocol/connection.js';
import type { Logger } from '../../shims/log/logger.js';
import { MbSession } from './session.js';
import { SwitchSession } from '../routing/switch-session.js';

export interface ControllerServerEvents {
  mb: [session: MbSession];
  switch: [session: SwitchSession];
}

export class ControllerServer extends EventEmitter<ControllerServerEvents> {
  readonly instances = new Map<string, MbSession>();
  readonly switches = new Map<string, SwitchSession>();
  private server: Server | null = null;

  constructor(private readonly secret: string, private readonly log: Logger) {
    super();
  }

  async listen(address: Address): Promise<Address> {
    this.server = await acceptPeers(address, this.secret, this.log, (peer, hello) => {
      if (hello.role === 'mb') {
        const s = new MbSession(peer, hello.pool ?? '', hello.name, hello.mbType ?? '');
        this.instances.get(hello.name)?.close();
        this.instances.set(hello.name, s);
        s.on('close', () => { if (this.instances.get(hello.name) === s) this.instances.delete(hello.name); });
        this.emit('mb', s);
      } else if (hello.role === 'switch') {
        const s = new SwitchSession(peer, hello.name);
        this.switches.get(hello.name)?.peer.close('replaced by a new connection');
        this.switches.set(hello.name, s);
        s.on('close', () => { if (this.switches.get(hello.name) === s) this.switches.delete(hello.name); });
        this.emit('switch', s);
      } else {
        peer.close(`role "${hello.role}" does not connect to the controller`);
      }
    });
    return boundAddress(this.server);
  }

  waitForInstance(name: string, timeoutMs = 15000): Promise<MbSession> {
    return this.waitFor(this.instances, 'mb', name, timeoutMs, 'middlebox instance');
  }

  waitForSwitch(name: string, timeoutMs = 15000): Promise<SwitchSession> {
    return this.waitFor(this.switches, 'switch', name, timeoutMs, 'switch');
  }

  private waitFor<T extends MbSession | SwitchSession>(map: Map<string, T>, event: 'mb' | 'switch', name: string, timeoutMs: number, what: string): Promise<T> {
    const have = map.get(name);
    if (have && !have.closed) return Promise.resolve(have);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.off(event, on); reject(new Error(`${what} "${name}" did not connect within ${timeoutMs} ms`)); }, timeoutMs);
      const on = (s: MbSession | SwitchSession) => {
        const n = s instanceof MbSession ? s.instance : s.name;
        if (n !== name) return;
        clearTimeout(timer);
        this.off(event, on);
        resolve(s as T);
      };
      this.on(event, on);
    });
  }

  close(): void {
    for (const s of this.instances.values()) s.close();
    for (const s of this.switches.values()) s.peer.close('closed locally');
    this.server?.close();
  }
}
