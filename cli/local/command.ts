/** The `openmb local` command line. */
import { Command, InvalidArgumentError, Option } from 'commander';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { createLogger } from '../../shims/log/logger.js';
import { MIDDLEBOXES } from '../../shims/middleboxes/registry.js';
import { PARTITION_KEYS, type PartitionKeyKind } from '../../shims/flow/hash.js';
import { parsePrefix } from '../../shims/flow/address.js';
import type { Pace } from '../../shims/traffic/replay.js';
import { GUARANTEES, TRANSFERS, type Guarantee, type Optimizations, type Transfer } from '../../operator/engine/operation.js';
import { jsonObject, listenOption, positiveNumber } from '../options.js';
import { runLocal, type ScaleStep, type Scenario } from './run.js';
import { serveTimeline } from '../../operator/timeline/server.js';
import { reconfigureOption, type Reconfiguration } from './reconfigure.js';

export const BUNDLED_TRACE = fileURLToPath(new URL('../../../data/traces/tryzeek_sumstat.pcap', import.meta.url));
const DEFAULT_SCHEDULE: ScaleStep[] = [{ at: 0.25, replicas: 2 }, { at: 0.5, replicas: 3 }, { at: 0.75, replicas: 2 }];

function schedule(v: string): ScaleStep[] {
  return v.split(',').map((item) => {
    const m = /^(0?\.\d+|1(?:\.0*)?|0):(\d+)$/.exec(item.trim());
    if (!m) throw new InvalidArgumentError(`--scale: "${item}" is not FRACTION:REPLICAS (e.g. 0.3:2)`);
    return { at: Number(m[1]), replicas: Number(m[2]) };
  });
}

function replicas(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new InvalidArgumentError(`--replicas must be a whole number ≥ 1, got "${v}"`);
  return Number(v);
}

function fraction(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError(`${name} must be a fraction between 0 and 1, got "${v}"`);
    return n;
  };
}

function prefixes(v: string): string[] {
  const list = v.split(',').map((s) => s.trim());
  for (const p of list) {
    try {
      parsePrefix(p);
    } catch (e) {
      throw new InvalidArgumentError(`--inside: ${(e as Error).message}`);
    }
  }
  return list;
}

function optimizations(v: string): Optimizations {
  const known = ['parallel-puts'];
  const names = v === 'all' ? known : v === 'none' ? [] : v.split(',');
  for (const n of names) if (!known.includes(n)) throw new InvalidArgumentError(`--optimizations: unknown "${n}" (known: all, none, ${known.join(', ')})`);
  return { parallelPuts: names.includes('parallel-puts') };
}

export function localCommand(): Command {
  return new Command('local')
    .description('run a pool on this machine (a switch and middlebox instances as processes), replay a capture through it while it scales, and write a report')
    .addOption(new Option('--middlebox <type>', 'middlebox type').choices(Object.keys(MIDDLEBOXES)).default('monitor'))
    .option('--trace <file>', 'capture to replay (pcap or pcapng)', BUNDLED_TRACE)
    .option('--out <dir>', 'where report.json, timeline.html and the logs go', 'out')
    .option('--replicas <n>', 'instances at the start', replicas)
    .option('--scale <schedule>', 'change the desired replicas when a fraction of the trace has been sent, e.g. 0.3:2,0.6:3,0.8:2', schedule)
    .addOption(new Option('--guarantee <g>', 'guarantee of every move').choices(GUARANTEES).default('loss-free'))
    .addOption(new Option('--transfer <t>', 'how state travels in every operation: direct (source instance to destination instance) or brokered (through the controller)')
      .choices(TRANSFERS).default('direct'))
    .option('--optimizations <list>', 'all, none, or a list of: parallel-puts (put state as it arrives)', optimizations)
    .addOption(new Option('--scenario <s>', 'what happens mid-trace').choices(['scale', 'server-migration', 'failover']).default('scale'))
    .option('--at <fraction>', 'server-migration and failover: when, as a fraction of the trace', fraction('--at'))
    .option('--server <ip>', 'server-migration: the server whose flows move (default: the busiest server)')
    .addOption(new Option('--partition <key>', 'partition key (default: the one the middlebox declares)').choices(PARTITION_KEYS))
    .option('--inside <prefixes>', 'for --partition host: the prefixes whose addresses are the hosts', prefixes)
    .option('--buckets <n>', 'hash buckets the flow space is split into', positiveNumber('--buckets'))
    .option('--rate <pps>', 'replay at this many packets per second', positiveNumber('--rate'))
    .option('--speed <factor>', 'replay at the capture\'s own timing, this many times faster', positiveNumber('--speed'))
    .option('--compare', 'also run the trace through one unscaled instance and report the differences')
    .option('--config <json>', 'middlebox configuration values as a JSON object', jsonObject('--config'), {})
    .option('--serve <host:port>', 'serve the live timeline here while the pool runs, and after it until interrupted (port 0: any free port)', listenOption('--serve', '127.0.0.1:8090'))
    .option('--reconfigure <at:file>', 'change the configuration when a fraction of the trace has been sent, to the JSON object in FILE (fields it leaves out take their defaults); '
      + 'the first ceil(AT x packets) packets run under the configuration before; repeatable', reconfigureOption)
    .addHelpText('after', `
With no options at all, the bundled capture ${join('data', 'traces', 'tryzeek_sumstat.pcap')} goes through a monitor
pool that scales 1 -> 2 -> 3 -> 2 (loss-free), compared against one unscaled instance.
Without --rate or --speed, packets go as fast as the switch and middleboxes take them.

Writes DIR/report.json: packets {sent, processed, dropped, lost, reordered}, instances, operations
[{kind, guarantee, from, to, filter, flows, bytes, eventsHeld, eventsReleased, durationMs, startedAt, endedAt}],
lost (what died with a killed instance: queued, inFlight, processed, flows), migration (where a
migrated server's flows are), and the pool's merged outputs (monitor: flows, hosts, totals); and
DIR/timeline.html, the run's timeline (packets/s per instance, buckets, every operation's steps), a
page that opens from the file; --serve HOST:PORT shows the same page live while the run goes on.`)
    .action(async (o: {
      middlebox: string; trace: string; out: string; replicas?: number; scale?: ScaleStep[]; guarantee: Guarantee; transfer: Transfer; optimizations?: Optimizations;
      scenario: Scenario; at?: number; server?: string; partition?: PartitionKeyKind; inside?: string[]; buckets?: number;
      rate?: number; speed?: number; compare?: boolean; config: Record<string, unknown>; serve?: { host: string; port: number }; reconfigure?: Reconfiguration[];
    }, cmd: Command) => {
      if (o.rate && o.speed) cmd.error('error: --rate and --speed cannot be used together');
      // --serve alone is still the bundled demo, watched live.
      const bare = process.argv.slice(3).filter((a, i, all) => !a.startsWith('--serve') && all[i - 1] !== '--serve').length === 0;
      const pace: Pace = o.rate ? { kind: 'rate', pps: o.rate } : o.speed ? { kind: 'timing', speed: o.speed } : bare ? { kind: 'rate', pps: 1000 } : { kind: 'asap' };
      const log = createLogger('local', process.env.OPENMB_LOG_LEVEL ?? 'warn');
      const live: { url?: string } = {};
      const report = await runLocal({
        middlebox: o.middlebox, trace: o.trace, out: o.out, pace, config: o.config, log, interactive: true,
        replicas: o.replicas, schedule: o.scale ?? (bare ? DEFAULT_SCHEDULE : []), guarantee: o.guarantee, transfer: o.transfer, optimizations: o.optimizations,
        scenario: o.scenario, at: o.at, server: o.server, partitionKey: o.partition, inside: o.inside, buckets: o.buckets, compare: o.compare ?? bare,
        reconfigure: o.reconfigure,
        onTimeline: o.serve && (async (feed) => {
          live.url = (await serveTimeline(feed, o.serve!.host, o.serve!.port)).url;
          process.stdout.write(`live timeline: ${live.url}\n`);
        }),
      });
      const p = report.packets;
      const l = report.lost;
      const lost = l.instances.length === 0 ? '' : `, lost ${p.lost} with ${l.instances.join(', ')} (${l.queued} queued, ${l.inFlight} in flight, ${l.processed} processed there)`;
      const lostFlows = l.instances.length === 0 ? '' : `; lost flows ${l.flowsCount === 'exact' ? '' : 'at least '}${l.flows}`;
      process.stdout.write(`${report.middlebox}: sent ${p.sent}, processed ${p.processed}, dropped ${p.dropped}${lost}, reordered ${p.reordered}${lostFlows}; ` +
        `${report.operations.length} operations, ${report.instances.filter((i) => i.state === 'live').length} instances at the end, ${report.durationMs} ms\n`);
      for (const c of report.reconfigurations ?? []) process.stdout.write(`reconfigured from packet ${c.packet} (${c.at} of the trace) to ${c.file}: generation ${c.generation}\n`);
      if (report.comparison) process.stdout.write(`outputs ${report.comparison.equal ? 'equal' : 'DIFFER from'} the unscaled run\n`);
      for (const e of report.errors) process.stdout.write(`error: ${e}\n`);
      process.stdout.write(`report: ${join(o.out, 'report.json')}\ntimeline: ${join(o.out, 'timeline.html')}\n`);
      // The server keeps the process alive: the run's timeline stays up until interrupted.
      if (live.url) process.stdout.write(`the run is over; the live timeline stays at ${live.url} until interrupted (Ctrl-C)\n`);
    });
}
