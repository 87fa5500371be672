/**
 * The process runtime: for each MiddleboxPool, a steering switch and the pool's instances run as
 * child processes of the operator (the same `openmb switch` / `openmb mb` processes `openmb local`
 * starts, through cli/local/processes.ts), and the pool's MB controller runs in the operator,
 * listening on loopback. Traffic sources send to the switch's Unix socket with the operator's
 * shared secret. Used where no kubelet runs (the e2e control plane); a flag selects it.
 *
 * This is what cli/local/cluster.ts's LocalCluster does for `openmb local`, except that the
 * secret is the operator's own (LocalCluster makes a fresh one per run, which no outside traffic
 * source could know).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ControllerServer } from '../engine/controller-server.js';
import { MbController } from '../engine/controller.js';
import type { MbSession } from '../engine/session.js';
import { BucketRouter } from '../routing/bucket-router.js';
import type { SwitchSession } from '../routing/switch-session.js';
import { formatAddress } from '../../shims/protocol/address.js';
import { SECRET_ENV } from '../../shims/protocol/auth.js';
import type { MbCounters } from '../../shims/protocol/messages.js';
import type { Logger } from '../../shims/log/logger.js';
import { type Child, startChild, stopChildren } from '../../cli/local/processes.js';
import type { EngineSpec, InstanceRuntime, PoolEngine, RuntimeProvider } from './runtime.js';

export interface ProcessRuntimeOptions {
  secret: string;
  /** Logs go to DIR/<namespace>/<pool>/<process>.log. */
  logDir: string;
  log: Logger;
}

/** Fails fast, naming the child's log, if a child dies while we wait for it to connect. */
async function orFail<T>(wait: Promise<T>, child: Child): Promise<T> {
  const death = child.exited.then((how) => { throw new Error(`${child.name} exited (${how}) before connecting; see ${child.logFile}`); });
  return Promise.race([wait, death]);
}

class ProcessPool implements PoolEngine {
  readonly retired = new Map<string, MbCounters>();
  private readonly children = new Map<string, Child>();
  readonly controller: MbController;
  readonly router: BucketRouter;

  constructor(readonly spec: EngineSpec, private readonly server: ControllerServer, private sw: SwitchSession, private readonly switchChild: Child,
    readonly switchAddress: string, private readonly ctl: string, private readonly env: NodeJS.ProcessEnv, private readonly logDir: string,
    private readonly runDir: string, private readonly log: Logger) {
    this.router = new BucketRouter(() => [...this.server.switches.values()], spec.partitioning);
    this.controller = new MbController(server, this.router, log);
  }

  readonly instances: InstanceRuntime = {
    start: (name) => this.startInstance(name),
    stop: (name) => this.stopInstance(name),
  };

  session(instance: string): MbSession | undefined {
    const s = this.server.instances.get(instance);
    return s && !s.closed ? s : undefined;
  }

  private async startInstance(name: string): Promise<void> {
    const old = this.children.get(name);
    if (old) await stopChildren([old]);
    const child = startChild(name, ['mb', '--type', this.spec.mbType, '--instance', name, '--pool', this.spec.pool,
      '--controller', this.ctl, '--switch', this.switchAddress, '--config', JSON.stringify(this.spec.config)], this.env, this.logDir);
    this.children.set(name, child);
    await orFail(this.server.waitForInstance(name), child);
  }

  private async stopInstance(name: string): Promise<void> {
    const child = this.children.get(name);
    const s = this.session(name);
    const last = s ? await s.stats().catch(() => null) : null;
    if (last) this.retired.set(name, last);
    this.children.delete(name);
    if (child) await stopChildren([child]);
  }

  async stop(): Promise<void> {
    this.server.close();
    await stopChildren([...this.children.values(), this.switchChild]);
    this.children.clear();
    rmSync(this.runDir, { recursive: true, force: true });
  }

  async settle(instances: string[], timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const sw = this.server.switches.get('switch-0') ?? this.sw;
      this.sw = sw;
      const stats = await sw.stats();
      const sessions = instances.map((n) => this.session(n)).filter((s): s is MbSession => s !== undefined);
      const counters = await Promise.all(sessions.map((s) => s.stats()));
      const behind = sessions.some((s, i) => counters[i].packetsReceived < (stats.forwarded[s.instance] ?? 0));
      if (!behind) return;
      if (Date.now() > deadline) throw new Error(`instances did not receive every forwarded packet within ${timeoutMs} ms`);
      await sleep(10);
    }
  }

  static async start(spec: EngineSpec, o: ProcessRuntimeOptions): Promise<ProcessPool> {
    const logDir = join(o.logDir, ...spec.pool.split('/'));
    mkdirSync(logDir, { recursive: true });
    const runDir = mkdtempSync(join(tmpdir(), 'openmb-pool-'));
    const env = { [SECRET_ENV]: o.secret, OPENMB_LOG_LEVEL: process.env.OPENMB_LOG_LEVEL ?? 'info' };
    const log = o.log.child({ pool: spec.pool });
    const server = new ControllerServer(o.secret, log);
    const ctl = formatAddress(await server.listen({ host: '127.0.0.1', port: 0 }));
    const switchSock = join(runDir, 'switch.sock');
    const child = startChild('switch', ['switch', '--listen', switchSock, '--controller', ctl, '--name', 'switch-0'], env, logDir);
    try {
      const sw = await orFail(server.waitForSwitch('switch-0'), child);
      return new ProcessPool(spec, server, sw, child, switchSock, ctl, env, logDir, runDir, log);
    } catch (e) {
      server.close();
      await stopChildren([child]);
      rmSync(runDir, { recursive: true, force: true });
      throw e;
    }
  }
}

export class ProcessRuntime implements RuntimeProvider {
  readonly name = 'process';

  constructor(private readonly o: ProcessRuntimeOptions) {}

  open(spec: EngineSpec): Promise<PoolEngine> {
    return ProcessPool.start(spec, this.o);
  }
}
