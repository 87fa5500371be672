/**
 * `openmb local`: a switch and middlebox instances as separate processes on this machine, the
 * controller in this process, and a trace replayed through them. Writes DIR/report.json.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ControllerServer } from '../../operator/engine/controller-server.js';
import type { MbSession } from '../../operator/engine/session.js';
import type { SwitchSession } from '../../operator/routing/switch-session.js';
import { formatAddress } from '../../shims/protocol/address.js';
import { SECRET_ENV } from '../../shims/protocol/auth.js';
import { readCaptureFile } from '../../shims/flow/pcap.js';
import { replay, type Pace } from '../../shims/traffic/replay.js';
import { middleboxByType } from '../../shims/middleboxes/registry.js';
import type { Logger } from '../../shims/log/logger.js';
import { type Child, startChild, stopChildren } from './processes.js';
import { mergeOutputs, type Report } from './report.js';
import { progressBar } from '../progress.js';

export interface LocalOptions {
  middlebox: string;
  trace: string;
  out: string;
  pace: Pace;
  config: Record<string, unknown>;
  log: Logger;
  /** Print progress and results to the terminal. */
  interactive: boolean;
}

const POOL = 'local';

export async function runLocal(o: LocalOptions): Promise<Report> {
  const def = middleboxByType(o.middlebox);
  def.parseConfig({ ...def.defaultConfig, ...o.config }); // refuse a bad configuration before starting anything
  const { packets } = readCaptureFile(o.trace);
  const out = resolve(o.out);
  const logDir = join(out, 'logs');
  mkdirSync(logDir, { recursive: true });
  const runDir = mkdtempSync(join(tmpdir(), 'openmb-'));
  const secret = randomBytes(24).toString('base64url');
  const env = { [SECRET_ENV]: secret, OPENMB_LOG_LEVEL: process.env.OPENMB_LOG_LEVEL ?? 'info' };
  const controller = new ControllerServer(secret, o.log);
  const children: Child[] = [];
  const started = performance.now();
  try {
    const ctl = formatAddress(await controller.listen({ host: '127.0.0.1', port: 0 }));
    const switchSock = join(runDir, 'switch.sock');
    children.push(startChild('switch', ['switch', '--listen', switchSock, '--controller', ctl, '--name', 'switch-0'], env, logDir));
    const sw = await orFail(controller.waitForSwitch('switch-0'), children);
    const instance = `${o.middlebox}-0`;
    children.push(startChild(instance, ['mb', '--type', o.middlebox, '--instance', instance, '--pool', POOL,
      '--controller', ctl, '--switch', switchSock, '--config', JSON.stringify(o.config)], env, logDir));
    const sessions = [await orFail(controller.waitForInstance(instance), children)];
    await sw.flowMod([{ op: 'replace-all', rules: [{ id: 'all', priority: 0, match: {}, action: { type: 'forward', instance } }] }]);

    const bar = o.interactive ? progressBar(`${o.middlebox} ×1`, packets.length) : null;
    const r = await replay(packets, { switchAddress: { path: switchSock }, secret, pace: o.pace, log: o.log, onProgress: (n) => bar?.update(n) });
    bar?.stop();
    const { processed, dropped, perInstance } = await settle(sw, sessions);
    const outputs = mergeOutputs(await Promise.all(sessions.map((s) => s.outputs())));
    const report: Report = {
      middlebox: o.middlebox,
      trace: o.trace,
      packets: { sent: r.sent, processed, dropped },
      instances: perInstance,
      outputs,
      durationMs: Math.round(performance.now() - started),
    };
    writeFileSync(join(out, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
    return report;
  } finally {
    controller.close();
    await stopChildren(children);
    rmSync(runDir, { recursive: true, force: true });
  }
}

/** Fails fast, with the child's log, if a child dies while we wait for it to connect. */
async function orFail<T>(wait: Promise<T>, children: Child[]): Promise<T> {
  const deaths = children.map((c) => c.exited.then((how) => { throw new Error(`${c.name} exited (${how}) before connecting; see ${c.logFile}`); }));
  return Promise.race([wait, ...deaths]);
}

/** Waits until every instance has received all the switch forwarded to it. */
async function settle(sw: SwitchSession, sessions: MbSession[]): Promise<{ processed: number; dropped: number; perInstance: { name: string; packets: number }[] }> {
  for (let attempt = 0; ; attempt++) {
    const stats = await sw.stats();
    const counters = await Promise.all(sessions.map((s) => s.stats()));
    const forwarded = sessions.reduce((n, s) => n + (stats.forwarded[s.instance] ?? 0), 0);
    const received = counters.reduce((n, c) => n + c.packetsReceived, 0);
    if (received >= forwarded || attempt > 600) {
      return {
        processed: counters.reduce((n, c) => n + c.packetsProcessed, 0),
        dropped: stats.dropped + (forwarded - received),
        perInstance: sessions.map((s, i) => ({ name: s.instance, packets: counters[i].packetsProcessed })),
      };
    }
    await sleep(20);
  }
}
