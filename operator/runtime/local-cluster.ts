/**
 * A pool on this machine: the controller in this process, a steering switch and middlebox
 * instances as child processes, talking over Unix sockets and loopback TCP with a fresh secret.
 * `openmb local` and the integration tests both drive it.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControllerServer } from '../engine/controller-server.js';
import type { MbSession } from '../engine/session.js';
import type { PoolSessions } from '../engine/pool-sessions.js';
import type { SwitchSession } from '../routing/switch-session.js';
import { formatAddress, parseAddress } from '../../shims/protocol/address.js';
import { SECRET_ENV } from '../../shims/protocol/auth.js';
import type { Partitioning } from '../../shims/protocol/descriptor.js';
import type { CapturedPacket } from '../../shims/flow/pcap.js';
import { replay, type Pace, type ReplayResult } from '../../shims/traffic/replay.js';
import type { Logger } from '../../shims/log/logger.js';
import { connectPeer, type Peer } from '../../shims/protocol/connection.js';
import type { WirePacket } from '../../shims/protocol/packets.js';
import { type Child, startChild, stopChildren } from './processes.js';
import { settleInstances } from './settle.js';

export interface Settled {
  processed: number;
  dropped: number;
  perInstance: { name: string; packets: number }[];
}

export class LocalCluster {
  readonly instances = new Map<string, { session: MbSession; child: Child }>();
  private sinkPeer: Peer | null = null;
  /** Packets the sink has received. */
  sunk = 0;
  private readonly children: Child[] = [];

  private constructor(public controller: ControllerServer, public sw: SwitchSession, readonly switchSock: string,
    readonly secret: string, private readonly env: NodeJS.ProcessEnv, readonly logDir: string, private readonly runDir: string,
    readonly ctl: string, switchChild: Child, readonly log: Logger, readonly pool: string) {
    this.children.push(switchChild);
  }

  /** Without `secret` a fresh one is made: nothing outside this process can then connect. */
  static async start(o: { log: Logger; logDir: string; pool?: string; secret?: string; egress?: string }): Promise<LocalCluster> {
    mkdirSync(o.logDir, { recursive: true });
    const runDir = mkdtempSync(join(tmpdir(), 'openmb-'));
    const secret = o.secret ?? randomBytes(24).toString('base64url');
    const env = { [SECRET_ENV]: secret, OPENMB_LOG_LEVEL: process.env.OPENMB_LOG_LEVEL ?? 'info' };
    const controller = new ControllerServer(secret, o.log);
    const ctl = formatAddress(await controller.listen({ host: '127.0.0.1', port: 0 }));
    const switchSock = join(runDir, 'switch.sock');
    const pool = o.pool ?? 'local';
    const child = startChild('switch', ['switch', '--listen', switchSock, '--controller', ctl, '--name', 'switch-0', '--pool', pool, ...(o.egress ? ['--egress', o.egress] : [])], env, o.logDir);
    try {
      const sw = await orFail(controller.pool(pool).waitForSwitch('switch-0'), [child]);
      return new LocalCluster(controller, sw, switchSock, secret, env, o.logDir, runDir, ctl, child, o.log, pool);
    } catch (e) {
      controller.close();
      await stopChildren([child]);
      rmSync(runDir, { recursive: true, force: true });
      throw e;
    }
  }

  /** The switch process's pid, for measuring it (npm run soak). */
  get switchPid(): number | undefined {
    return this.children[0]?.proc.pid;
  }

  /** The sessions of this cluster's pool (a restarted controller has new ones). */
  get sessions(): PoolSessions {
    return this.controller.pool(this.pool);
  }

  /**
   * Starts an instance process (replacing one of the same name) and resolves once it is connected
   * to the controller. With the pool's `partitioning`, a middlebox that derives configuration from
   * it does so.
   */
  async addInstance(mbType: string, name: string, config: Record<string, unknown> = {}, partitioning?: Partitioning): Promise<MbSession> {
    const old = this.instances.get(name);
    if (old) await this.stopInstance(name);
    const child = startChild(name, ['mb', '--type', mbType, '--instance', name, '--pool', this.pool,
      '--controller', this.ctl, '--switch', this.switchSock, '--config', JSON.stringify(config),
      ...(partitioning ? ['--partitioning', JSON.stringify(partitioning)] : [])], this.env, this.logDir);
    this.children.push(child);
    const session = await orFail(this.sessions.waitForInstance(name), [child]);
    this.instances.set(name, { session, child });
    return session;
  }

  /** Stops an instance process (SIGKILL when `kill`, to model a crash). */
  async stopInstance(name: string, kill = false): Promise<void> {
    const inst = this.instances.get(name);
    if (!inst) return;
    this.instances.delete(name);
    if (kill) inst.child.proc.kill('SIGKILL');
    await stopChildren([inst.child]);
    // A long-lived cluster starts and stops many instances: keep only the children still running.
    this.children.splice(this.children.indexOf(inst.child), 1);
  }

  /** The instance's current session (a reconnect replaces it). */
  session(name: string): MbSession {
    const inst = this.instances.get(name);
    if (!inst) throw new Error(`no instance "${name}"`);
    const live = this.sessions.instances.get(name);
    if (live) inst.session = live;
    return inst.session;
  }

  /**
   * Stops the controller and starts a new one on the same address, as after a crash: the switch
   * and every instance reconnect with backoff, and the new controller learns them again.
   */
  async restartController(): Promise<void> {
    this.controller.close();
    this.controller = new ControllerServer(this.secret, this.log);
    await this.controller.listen(parseAddress(this.ctl));
    this.sw = await this.sessions.waitForSwitch('switch-0');
    for (const name of this.instances.keys()) await this.sessions.waitForInstance(name);
  }

  /** Routes every packet to one instance. */
  async routeAll(instance: string): Promise<void> {
    await this.sw.flowMod([{ op: 'replace-all', rules: [{ id: 'all', priority: 0, match: {}, action: { type: 'forward', instance } }] }]);
  }

  replay(packets: readonly CapturedPacket[], pace: Pace, onProgress?: (sent: number, total: number) => void | Promise<void>): Promise<ReplayResult> {
    return replay(packets, { switchAddress: { path: this.switchSock }, secret: this.secret, pace, log: this.log, onProgress });
  }

  /** Receives every packet the instances emit (through the switch's egress). */
  async attachSink(onPacket: (p: WirePacket) => void): Promise<void> {
    const peer = await connectPeer({ path: this.switchSock }, { secret: this.secret, role: 'sink', name: 'sink' }, this.log, (p) => {
      p.onPacketBatch('egress', (packets) => {
        for (const pkt of packets) {
          this.sunk++;
          onPacket(pkt);
        }
      });
    });
    this.sinkPeer = peer;
  }

  /**
   * Waits until every instance has received all the switch forwarded to it and, with a sink,
   * until the sink has every packet the instances emitted.
   */
  async settle(timeoutMs = 30000): Promise<Settled> {
    const r = await settleInstances(() => this.sw, () => [...this.instances.keys()].map((name) => this.session(name)), {
      timeoutMs,
      onDeadline: 'return',
      // With a sink: per instance, the switch's egress total also counts instances already stopped.
      until: ({ stats, sessions, counters }) => !this.sinkPeer || (sessions.every((s, i) => (stats.egress[s.instance] ?? 0) >= counters[i].packetsEmitted)
        && this.sunk >= Object.values(stats.egress).reduce((a, b) => a + b, 0)),
    });
    const forwarded = r.sessions.reduce((n, s) => n + (r.stats.forwarded[s.instance] ?? 0), 0);
    const received = r.counters.reduce((n, c) => n + c.packetsReceived, 0);
    return {
      processed: r.counters.reduce((n, c) => n + c.packetsProcessed, 0),
      dropped: r.stats.dropped + (forwarded - received),
      perInstance: r.sessions.map((s, i) => ({ name: s.instance, packets: r.counters[i].packetsProcessed })),
    };
  }

  async stop(): Promise<void> {
    this.sinkPeer?.close('closed locally');
    this.controller.close();
    await stopChildren(this.children);
    rmSync(this.runDir, { recursive: true, force: true });
  }
}

/** Fails fast, naming the child's log, if a child dies while we wait for it to connect. */
async function orFail<T>(wait: Promise<T>, children: Child[]): Promise<T> {
  const deaths = children.map((c) => c.exited.then((how) => { throw new Error(`${c.name} exited (${how}) before connecting; see ${c.logFile}`); }));
  return Promise.race([wait, ...deaths]);
}
