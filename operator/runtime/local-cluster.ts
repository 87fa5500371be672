/**
 * A pool on this machine: the controller in this process, a steering switch and middlebox
 * instances as child processes, talking over Unix sockets and loopback TCP with a fresh secret.
 * `openmb local` and the integration tests both drive it.
 *
 * With a state directory the switch and instances are detached: they outlive this process (a
 * crash, a restart) and keep forwarding and processing, redialling the controller's address.
 * What runs is recorded there (data-plane-record.ts), and a LocalCluster started later on the
 * same directory adopts what still runs instead of starting anew.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
import { adoptChild, type Child, isOpenmbProcess, startChild, stopChildren } from './processes.js';
import { settleInstances } from './settle.js';
import { type DataPlaneRecord, readRecord, removeRecord, writeRecord } from './data-plane-record.js';
import { trimAppendedLog } from './log-file.js';

export interface Settled {
  processed: number;
  dropped: number;
  perInstance: { name: string; packets: number }[];
}

export interface ClusterOptions {
  log: Logger;
  logDir: string;
  pool?: string;
  /** Without it a fresh one is made (kept in the state directory when there is one). */
  secret?: string;
  egress?: string;
  /** Detach the processes and record them here; adopt those a record here names that still run. */
  stateDir?: string;
  /** How long recorded processes get to reconnect before they are given up. */
  adoptTimeoutMs?: number;
}

/** What a cluster found of the data plane recorded in its state directory. */
export interface Adoption {
  switchPid: number;
  /** Recorded instances still running and reconnected: they are this cluster's now. */
  adopted: string[];
  /** Recorded instances whose process is gone. */
  dead: string[];
  /** Recorded instances still running that did not reconnect in time: stopped. */
  silent: string[];
}

const SWITCH_NAME = 'switch-0';
const ADOPT_MS = 15_000;
/** How often the logs of detached processes are checked against their bound. */
const TRIM_LOGS_MS = 30_000;

const switchArgs = (socket: string) => ['switch', '--listen', socket];
const instanceArgs = (name: string, pool: string) => ['mb', '--instance', name, '--pool', pool];

export class LocalCluster {
  readonly instances = new Map<string, { session: MbSession; child: Child; mbType: string }>();
  private sinkPeer: Peer | null = null;
  /** Packets the sink has received. */
  sunk = 0;
  private readonly children: Child[] = [];
  /** Instances started and not yet connected. */
  private readonly starting = new Map<string, { child: Child; mbType: string }>();
  /** Set when this cluster adopted a recorded data plane. */
  adoption: Adoption | null = null;
  private trimTimer: NodeJS.Timeout | undefined;

  private constructor(public controller: ControllerServer, public sw: SwitchSession, readonly switchSock: string,
    readonly secret: string, private readonly env: NodeJS.ProcessEnv, readonly logDir: string, private readonly runDir: string,
    readonly ctl: string, private readonly switchChild: Child, readonly log: Logger, readonly pool: string,
    private readonly stateDir?: string, private readonly secretFile?: string) {
    this.children.push(switchChild);
    if (stateDir) {
      this.trimTimer = setInterval(() => { for (const c of this.children) trimAppendedLog(c.logFile); }, TRIM_LOGS_MS).unref();
    }
  }

  static async start(o: ClusterOptions): Promise<LocalCluster> {
    mkdirSync(o.logDir, { recursive: true });
    if (o.stateDir) mkdirSync(o.stateDir, { recursive: true });
    const secretFile = o.stateDir && o.secret === undefined ? join(o.stateDir, 'secret') : undefined;
    const secret = o.secret ?? (secretFile ? ownSecret(secretFile) : randomBytes(24).toString('base64url'));
    const record = o.stateDir ? LocalCluster.recorded(o.stateDir, o.log) : null;
    if (record && o.stateDir) {
      const adopted = await LocalCluster.adopt(o, o.stateDir, record, secret, secretFile);
      if (adopted) return adopted;
    }
    const runDir = mkdtempSync(join(tmpdir(), 'openmb-'));
    const env = childEnv(secret);
    const controller = new ControllerServer(secret, o.log);
    const ctl = formatAddress(await controller.listen({ host: '127.0.0.1', port: 0 }));
    const switchSock = join(runDir, 'switch.sock');
    const pool = o.pool ?? 'local';
    const child = startChild('switch', [...switchArgs(switchSock), '--controller', ctl, '--name', SWITCH_NAME, '--pool', pool, ...(o.egress ? ['--egress', o.egress] : [])],
      env, o.logDir, { detached: o.stateDir !== undefined });
    if (o.stateDir) {
      writeRecord(o.stateDir, { version: 1, pool, controller: ctl, switch: { name: SWITCH_NAME, pid: child.proc.pid, socket: switchSock }, runDir, ...(secretFile ? { secretFile } : {}), instances: [] });
    }
    try {
      const sw = await orFail(controller.pool(pool).waitForSwitch(SWITCH_NAME), [child]);
      return new LocalCluster(controller, sw, switchSock, secret, env, o.logDir, runDir, ctl, child, o.log, pool, o.stateDir, secretFile);
    } catch (e) {
      controller.close();
      await stopChildren([child]);
      rmSync(runDir, { recursive: true, force: true });
      if (o.stateDir) removeRecord(o.stateDir);
      throw e;
    }
  }

  /** The record in a state directory; one that cannot be read is reported and counts as none. */
  private static recorded(stateDir: string, log: Logger): DataPlaneRecord | null {
    try {
      return readRecord(stateDir);
    } catch (e) {
      log.warn({ err: (e as Error).message }, 'ignoring an unreadable data plane record; starting a new data plane');
      return null;
    }
  }

  /**
   * Takes over a recorded data plane: listens where its processes redial, and keeps the switch
   * and each instance that still runs and reconnects within the deadline. Null (after stopping
   * whatever of it still runs) when its switch cannot be had: a new data plane starts instead.
   */
  private static async adopt(o: ClusterOptions, stateDir: string, rec: DataPlaneRecord, secret: string, secretFile?: string): Promise<LocalCluster | null> {
    const log = o.log;
    const timeoutMs = o.adoptTimeoutMs ?? ADOPT_MS;
    const pool = o.pool ?? 'local';
    const live = rec.instances.filter((i) => isOpenmbProcess(i.pid, instanceArgs(i.name, rec.pool)));
    const dead = rec.instances.filter((i) => !live.includes(i)).map((i) => i.name);
    const giveUp = async (why: string, controller?: ControllerServer): Promise<null> => {
      log.warn({ switchPid: rec.switch.pid, instances: live.map((i) => i.name), why }, 'cannot adopt the recorded data plane; stopping what runs of it and starting a new one');
      controller?.close();
      await stopRecorded(stateDir, rec);
      return null;
    };
    if (rec.pool !== pool) return giveUp(`the record is of pool "${rec.pool}", not "${pool}"`);
    if (!isOpenmbProcess(rec.switch.pid, switchArgs(rec.switch.socket))) return giveUp(`the switch (pid ${rec.switch.pid}) is not running`);
    const controller = new ControllerServer(secret, log);
    try {
      await listenUntil(controller, rec.controller, timeoutMs);
    } catch (e) {
      return giveUp(`cannot listen on the recorded controller address ${rec.controller}: ${(e as Error).message}`, controller);
    }
    const sessions = controller.pool(pool);
    const switchChild = adoptChild('switch', rec.switch.pid, join(o.logDir, 'switch.log'));
    let sw: SwitchSession;
    try {
      sw = await orFail(sessions.waitForSwitch(rec.switch.name, timeoutMs), [switchChild]);
    } catch (e) {
      return giveUp(`the switch did not reconnect: ${(e as Error).message}`, controller);
    }
    const cluster = new LocalCluster(controller, sw, rec.switch.socket, secret, childEnv(secret), o.logDir, rec.runDir, rec.controller, switchChild, log, pool, stateDir, secretFile);
    const reconnected = await Promise.all(live.map(async (i) => {
      const child = adoptChild(i.name, i.pid, join(o.logDir, `${i.name}.log`));
      try {
        return { i, child, session: await orFail(sessions.waitForInstance(i.name, timeoutMs), [child]) };
      } catch {
        await stopChildren([child]);
        return { i, child, session: null };
      }
    }));
    const silent: string[] = [];
    // In the recorded order (the order they were started), whatever order they reconnected in.
    for (const { i, child, session } of reconnected) {
      if (!session) {
        silent.push(i.name);
        continue;
      }
      cluster.children.push(child);
      cluster.instances.set(i.name, { session, child, mbType: i.mbType });
    }
    const adopted = [...cluster.instances.keys()].sort();
    cluster.adoption = { switchPid: rec.switch.pid, adopted, dead: dead.sort(), silent: silent.sort() };
    cluster.writeRecord();
    log.info(cluster.adoption, 'adopted the recorded data plane');
    return cluster;
  }

  /** Rewrites the record (a persistent cluster only): after every start and stop of a process. */
  private writeRecord(): void {
    if (!this.stateDir) return;
    writeRecord(this.stateDir, {
      version: 1, pool: this.pool, controller: this.ctl, switch: { name: SWITCH_NAME, pid: this.switchChild.proc.pid, socket: this.switchSock }, runDir: this.runDir,
      ...(this.secretFile ? { secretFile: this.secretFile } : {}),
      instances: [...this.instances, ...this.starting].map(([name, i]) => ({ name, mbType: i.mbType, pid: i.child.proc.pid })),
    });
  }

  /** The switch process's pid, for measuring it (npm run soak). */
  get switchPid(): number {
    return this.switchChild.proc.pid;
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
    const child = startChild(name, [...instanceArgs(name, this.pool), '--type', mbType,
      '--controller', this.ctl, '--switch', this.switchSock, '--config', JSON.stringify(config), '--peer-listen', '127.0.0.1:0',
      ...(partitioning ? ['--partitioning', JSON.stringify(partitioning)] : [])], this.env, this.logDir, { detached: this.stateDir !== undefined });
    this.children.push(child);
    // Recorded before it connects: a crash while it starts still leaves it findable.
    this.starting.set(name, { child, mbType });
    this.writeRecord();
    try {
      const session = await orFail(this.sessions.waitForInstance(name), [child]);
      this.instances.set(name, { session, child, mbType });
      return session;
    } catch (e) {
      await stopChildren([child]);
      this.children.splice(this.children.indexOf(child), 1);
      throw e;
    } finally {
      this.starting.delete(name);
      this.writeRecord();
    }
  }

  /** Stops an instance process (SIGKILL when `kill`, to model a crash). */
  async stopInstance(name: string, kill = false): Promise<void> {
    const inst = this.instances.get(name);
    if (!inst) return;
    this.instances.delete(name);
    if (kill) inst.child.kill('SIGKILL');
    await stopChildren([inst.child]);
    // A long-lived cluster starts and stops many instances: keep only the children still running.
    this.children.splice(this.children.indexOf(inst.child), 1);
    this.writeRecord();
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
    this.sw = await this.sessions.waitForSwitch(SWITCH_NAME);
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

  /** Stops every process and forgets the data plane (its record and socket directory go too). */
  async stop(): Promise<void> {
    clearInterval(this.trimTimer);
    this.sinkPeer?.close('closed locally');
    this.controller.close();
    await stopChildren(this.children);
    rmSync(this.runDir, { recursive: true, force: true });
    if (this.stateDir) removeRecord(this.stateDir);
  }

  /**
   * Lets go of the data plane, which keeps running for a later cluster on the same state
   * directory; without one there is nothing to outlive this process, and it stops.
   */
  async detach(): Promise<void> {
    if (!this.stateDir) return this.stop();
    clearInterval(this.trimTimer);
    this.sinkPeer?.close('closed locally');
    this.controller.close();
    this.writeRecord();
  }
}

/**
 * Stops every process a data plane record names that still runs (checked by its command line,
 * not only its pid) and removes the record and the socket directory: for a data plane nothing
 * will adopt (a test's or an e2e suite's leftovers). Returns the pids it stopped.
 */
export async function stopRecordedDataPlane(stateDir: string): Promise<number[]> {
  const rec = readRecord(stateDir);
  return rec ? stopRecorded(stateDir, rec) : [];
}

async function stopRecorded(stateDir: string, rec: DataPlaneRecord): Promise<number[]> {
  const running = rec.instances.filter((i) => isOpenmbProcess(i.pid, instanceArgs(i.name, rec.pool))).map((i) => adoptChild(i.name, i.pid, ''));
  if (isOpenmbProcess(rec.switch.pid, switchArgs(rec.switch.socket))) running.push(adoptChild('switch', rec.switch.pid, ''));
  await stopChildren(running);
  rmSync(rec.runDir, { recursive: true, force: true });
  removeRecord(stateDir);
  return running.map((c) => c.proc.pid);
}

/**
 * Listens on the recorded address, retrying while it is taken: the controller that had it may
 * still be on its way out (an operator that lost its lease and is stopping).
 */
async function listenUntil(controller: ControllerServer, address: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await controller.listen(parseAddress(address));
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || Date.now() >= deadline) throw e;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

function childEnv(secret: string): NodeJS.ProcessEnv {
  return { [SECRET_ENV]: secret, OPENMB_LOG_LEVEL: process.env.OPENMB_LOG_LEVEL ?? 'info' };
}

/** The secret a state directory keeps for its data plane (made on first use, readable by its owner only). */
function ownSecret(file: string): string {
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const secret = randomBytes(24).toString('base64url');
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

/** Fails fast, naming the child's log, if a child dies while we wait for it to connect. */
async function orFail<T>(wait: Promise<T>, children: Child[]): Promise<T> {
  const deaths = children.map((c) => c.exited.then((how) => { throw new Error(`${c.name} exited (${how}) before connecting; see ${c.logFile}`); }));
  return Promise.race([wait, ...deaths]);
}
