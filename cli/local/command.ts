/** The `openmb local` command line. */
import { Command, Option } from 'commander';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { createLogger } from '../../shims/log/logger.js';
import { MIDDLEBOXES } from '../../shims/middleboxes/registry.js';
import type { Pace } from '../../shims/traffic/replay.js';
import { jsonObject, positiveNumber } from '../options.js';
import { runLocal } from './run.js';

export const BUNDLED_TRACE = fileURLToPath(new URL('../../../data/traces/tryzeek_sumstat.pcap', import.meta.url));

export function localCommand(): Command {
  return new Command('local')
    .description('run a switch and middlebox instances as processes on this machine, replay a capture through them, and write a report')
    .addOption(new Option('--middlebox <type>', 'middlebox type').choices(Object.keys(MIDDLEBOXES)).default('monitor'))
    .option('--trace <file>', 'capture to replay (pcap or pcapng)', BUNDLED_TRACE)
    .option('--out <dir>', 'where report.json and the logs go', 'out')
    .option('--rate <pps>', 'replay at this many packets per second', positiveNumber('--rate'))
    .option('--speed <factor>', 'replay at the capture\'s own timing, this many times faster', positiveNumber('--speed'))
    .option('--config <json>', 'middlebox configuration values as a JSON object', jsonObject('--config'), {})
    .addHelpText('after', `
Without --trace, the bundled capture ${join('data', 'traces', 'tryzeek_sumstat.pcap')} is used.
Without --rate or --speed, packets go as fast as the switch and middleboxes take them.

report.json holds packets {sent, processed, dropped}, instances [{name, packets}] and the
middlebox's outputs (monitor: flows [{proto, a, b, packets, bytes, ...}], hosts, totals).`)
    .action(async (o: { middlebox: string; trace: string; out: string; rate?: number; speed?: number; config: Record<string, unknown> }, cmd: Command) => {
      if (o.rate && o.speed) cmd.error('error: --rate and --speed cannot be used together');
      const pace: Pace = o.rate ? { kind: 'rate', pps: o.rate } : o.speed ? { kind: 'timing', speed: o.speed } : { kind: 'asap' };
      const log = createLogger('local', process.env.OPENMB_LOG_LEVEL ?? 'warn');
      const report = await runLocal({ middlebox: o.middlebox, trace: o.trace, out: o.out, pace, config: o.config, log, interactive: true });
      const p = report.packets;
      process.stdout.write(`${report.middlebox}: sent ${p.sent}, processed ${p.processed}, dropped ${p.dropped} in ${report.durationMs} ms\n`);
      process.stdout.write(`report: ${join(o.out, 'report.json')}\n`);
    });
}
