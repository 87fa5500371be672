/**
 * The live sessions of one pool's middlebox instances and switches, by name. One controller
 * endpoint serves every pool; sessions are kept per pool ("namespace/name" as each peer
 * announces it in its hello), so two pools may have instances of the same name.
 */
import { EventEmitter } from 'node:events';
import { MbSession } from './session.js';
import type { SwitchSession } from '../routing/switch-session.js';

export interface PoolSessionsEvents {
  mb: [session: MbSession];
  switch: [session: SwitchSession];
}

export class PoolSessions extends EventEmitter<PoolSessionsEvents> {
  readonly instances = new Map<string, MbSession>();
  readonly switches = new Map<string, SwitchSession>();

  constructor(readonly pool: string) {
    super();
  }

  /** A reconnecting peer replaces its old session. */
  addInstance(s: MbSession): void {
    this.instances.get(s.instance)?.close();
    this.instances.set(s.instance, s);
    s.on('close', () => { if (this.instances.get(s.instance) === s) this.instances.delete(s.instance); });
    this.emit('mb', s);
  }

  addSwitch(s: SwitchSession): void {
    this.switches.get(s.name)?.peer.close('replaced by a new connection');
    this.switches.set(s.name, s);
    s.on('close', () => { if (this.switches.get(s.name) === s) this.switches.delete(s.name); });
    this.emit('switch', s);
  }

  /** The instance's live session, or undefined. */
  instance(name: string): MbSession | undefined {
    const s = this.instances.get(name);
    return s && !s.closed ? s : undefined;
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
      const timer = setTimeout(() => { this.off(event, on); reject(new Error(`${what} "${name}" of pool ${this.pool} did not connect within ${timeoutMs} ms`)); }, timeoutMs);
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
  }
}
