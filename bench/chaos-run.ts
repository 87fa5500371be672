/**
 * One run of a pool under traffic whose controller process is SIGKILLed and started again, as
 * the chaos run and the crash tests do it, and the checks both make at the end: every packet
 * processed exactly once (sent = processed across every instance that ever ran, 0 dropped),
 * none reordered, and the pool's merged outputs equal to the same packets through one instance
 * that never moved.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { LocalCluster } from '../operator/runtime/local-cluster.js';
import type { CapturedPacket } from '../shims/flow/pcap.js';
import { silentLogger } from '../shims/log/logger.js';
import type { MbCounters } from '../shims/protocol/messages.js';
import { replay } from '../shims/traffic/replay.js';
import { ControllerProcess, type ControllerProcessOptions } from './controller-process.js';

/** The packets through one instance that never moves. */
export async function unscaledOutputs(mbType: string, packets: readonly CapturedPacket[]): Promise<Record<string, unknown>> {
  const c = await LocalCluster.start({ log: silentLogger, logDir: mkdtempSync(join(tmpdir(), 'openmb-unscaled-')) });
  try {
    await c.addInstance(mbType, 'i0');
    await c.routeAll('i0');
    await c.replay(packets, { kind: 'asap' });
    await c.settle();
    return await c.session('i0').outputs();
  } finally {
    await c.stop();
  }
}

export interface RunTotals {
  sent: number;
  processed: number;
  dropped: number;
  reordered: number;
  /** Outputs that differ from the unscaled run's, by top-level field. */
  differences: string[];
  kills: number;
  resumed: number;
  rolledBack: number;
  operations: number;
  failedOperations: string[];
}

/**
 * A pool's controller processes, one at a time, on one state directory: `start` one (it adopts
 * what the last left), `kill` it, and at the end `finish` with the totals.
 */
export class ChaosPool {
  readonly stateDir = mkdtempSync(join(tmpdir(), 'openmb-chaos-'));
  private current: ControllerProcess | null = null;
  private readonly all: ControllerProcess[] = [];
  kills = 0;

  constructor(private readonly o: Omit<ControllerProcessOptions, 'stateDir' | 'crashAt'>) {}

  get controller(): ControllerProcess {
    if (!this.current) throw new Error('no controller process is running');
    return this.current;
  }

  async start(crashAt?: string): ReturnType<ControllerProcess['ready']> {
    const p = ControllerProcess.start({ ...this.o, stateDir: this.stateDir, ...(crashAt ? { crashAt } : {}) });
    this.current = p;
    this.all.push(p);
    return p.ready();
  }

  /** Scales to `replicas` and resolves when this controller says it did. */
  async scale(replicas: number): Promise<void> {
    const p = this.controller;
    const before = p.events.length;
    p.send({ replicas });
    await p.waitFor((e) => ('scaled' in e && e.scaled === replicas && p.events.indexOf(e) >= before ? true : undefined));
  }

  async kill(): Promise<void> {
    await this.controller.kill();
    this.kills++;
  }

  /** The totals once `sent` packets went in and the pool settled; stops the data plane. */
  async finish(sent: number, expected: Record<string, unknown>): Promise<RunTotals> {
    const p = this.controller;
    p.send({ report: true });
    const report = await p.waitFor((e) => ('report' in e ? e.report : undefined));
    p.send({ stop: true });
    await p.exited;
    // Every instance that ever ran once, by name and process: its last counters.
    const last = new Map<string, MbCounters>();
    for (const c of this.all) {
      for (const e of c.events) if ('retired' in e) last.set(`${e.retired.name}/${e.retired.pid}`, e.retired.counters);
    }
    for (const [name, i] of Object.entries(report.instances)) last.set(`${name}/${i.pid}`, i.counters);
    const counters = [...last.values()];
    const events = this.all.flatMap((c) => c.events);
    const operations = events.flatMap((e) => ('operation' in e ? [e.operation] : []));
    const resumed = events.flatMap((e) => ('resumed' in e ? [e.resumed] : []));
    const expectedKeys = Object.keys(expected);
    return {
      sent,
      processed: counters.reduce((n, c) => n + c.packetsProcessed, 0),
      // Instances drop nothing of their own: what is lost is lost at the switch.
      dropped: report.switch.dropped,
      reordered: counters.reduce((n, c) => n + c.packetsReordered, 0),
      differences: [...new Set([...expectedKeys, ...Object.keys(report.outputs)])].filter((k) => !isDeepStrictEqual(expected[k], report.outputs[k])),
      kills: this.kills,
      resumed: resumed.filter((r) => r.phase === 'Succeeded').length,
      rolledBack: resumed.filter((r) => r.phase !== 'Succeeded').length,
      operations: operations.length,
      failedOperations: operations.filter((o) => o.phase === 'Failed' && !o.resumed).map((o) => `${o.kind} ${o.from.join(',')}→${o.to}: ${o.error}`),
    };
  }

  /** Kills whatever still runs (a failed test). */
  async abort(): Promise<void> {
    if (!this.current) return;
    if (this.current.events.some((e) => 'ready' in e)) {
      this.current.send({ stop: true });
      await Promise.race([this.current.exited, new Promise((r) => setTimeout(r, 10_000))]);
    }
    await this.current.kill();
  }
}

/** Replays `packets` into the pool's switch at `pps`; `onProgress` as the replay's. */
export function replayInto(ready: { switchSocket: string; secret: string }, packets: readonly CapturedPacket[], pps: number,
  onProgress?: (sent: number) => void | Promise<void>): Promise<number> {
  return replay(packets, { switchAddress: { path: ready.switchSocket }, secret: ready.secret, pace: { kind: 'rate', pps }, log: silentLogger, onProgress })
    .then((r) => r.sent);
}
