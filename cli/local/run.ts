/** `openmb local`: replay a trace through a pool on this machine and write DIR/report.json. */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readCaptureFile } from '../../shims/flow/pcap.js';
import type { Pace } from '../../shims/traffic/replay.js';
import { middleboxByType } from '../../shims/middleboxes/registry.js';
import type { Logger } from '../../shims/log/logger.js';
import { LocalCluster } from './cluster.js';
import { mergeOutputs, type Report } from './report.js';
import { progressBar } from '../progress.js';

export interface LocalOptions {
  middlebox: string;
  trace: string;
  out: string;
  pace: Pace;
  config: Record<string, unknown>;
  log: Logger;
  /** Show a progress bar on the terminal. */
  interactive: boolean;
}

export async function runLocal(o: LocalOptions): Promise<Report> {
  const def = middleboxByType(o.middlebox);
  def.parseConfig({ ...def.defaultConfig, ...o.config }); // refuse a bad configuration before starting anything
  const { packets } = readCaptureFile(o.trace);
  const out = resolve(o.out);
  const started = performance.now();
  const cluster = await LocalCluster.start({ log: o.log, logDir: join(out, 'logs') });
  try {
    const instance = `${o.middlebox}-0`;
    await cluster.addInstance(o.middlebox, instance, o.config);
    await cluster.routeAll(instance);
    const egress = def.createEgress?.(def.parseConfig({ ...def.defaultConfig, ...o.config }));
    if (egress) await cluster.attachSink((p) => egress.receive(p));
    const bar = o.interactive ? progressBar(`${o.middlebox} ×1`, packets.length) : null;
    const r = await cluster.replay(packets, o.pace, (n) => bar?.update(n));
    bar?.stop();
    const settled = await cluster.settle();
    const outputs = mergeOutputs(await Promise.all([...cluster.instances.keys()].map((name) => cluster.session(name).outputs())));
    if (egress) outputs.egress = egress.report();
    const report: Report = {
      middlebox: o.middlebox,
      trace: o.trace,
      packets: { sent: r.sent, processed: settled.processed, dropped: settled.dropped },
      instances: settled.perInstance,
      outputs,
      durationMs: Math.round(performance.now() - started),
    };
    writeFileSync(join(out, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
    return report;
  } finally {
    await cluster.stop();
  }
}
