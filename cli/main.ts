/** `openmb`: every process of OpenMB, and `openmb local`, which runs them together on this machine. */
import { Command, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { loadSecret } from '../shims/protocol/auth.js';
import type { Partitioning } from '../shims/protocol/descriptor.js';
import { tlsFromOption } from '../shims/protocol/tls.js';
import { formatAddress, type Address } from '../shims/protocol/address.js';
import { createLogger } from '../shims/log/logger.js';
import { MIDDLEBOXES, middleboxByType } from '../shims/middleboxes/registry.js';
import { startMiddleboxNode } from '../shims/shim/node.js';
import { serveProbes } from '../shims/health/probes.js';
import { middleboxMetrics } from '../shims/metrics/middlebox-metrics.js';
import { switchMetrics } from '../shims/metrics/switch-metrics.js';
import { SteeringSwitch } from '../shims/switch/switch.js';
import { readCaptureFile } from '../shims/flow/pcap.js';
import { replay, type Pace } from '../shims/traffic/replay.js';
import { addressOption, jsonObject, partitioningOption, positiveNumber } from './options.js';
import { describeCommand } from './describe.js';
import { localCommand } from './local/command.js';
import { sinkCommand } from './sink.js';
import { operatorCommand } from '../operator/kube/command.js';
import { progressBar } from './progress.js';

const program = new Command('openmb')
  .description('OpenMB: elastic stateful middleboxes. Moves, clones and merges per-flow middlebox state in step with routing.')
  .showHelpAfterError()
  .version('0.1.0');

const secretOption = () => new Option('--secret-file <path>', 'file holding the shared secret (default: $OPENMB_SECRET)');
const tlsOption = (peers: string) => new Option('--tls-dir <dir>', `mutual TLS under the shared secret: a directory with ca.crt, tls.crt and tls.key, `
  + `laid out as a mounted kubernetes.io/tls Secret; ${peers} must use certificates from the same CA, with DNS name "openmb" (default: $OPENMB_TLS_DIR; none: plain TCP or Unix socket)`);
const probesOption = () => new Option('--probes <address>', 'serve /healthz (alive), /readyz (connected and serving) and /metrics (Prometheus) over HTTP here, for a Pod\'s probes and scrapes')
  .argParser(addressOption('--probes'));
const connected = (link: { peer: { isClosed: boolean } | null }) => link.peer !== null && !link.peer.isClosed;

function onSignals(stop: () => void): void {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => { stop(); process.exit(0); });
  // Started by a controller (openmb local, the operator): end with it, even if it was killed.
  if (process.env.OPENMB_EXIT_WITH_PARENT === '1') {
    process.stdin.on('end', () => { stop(); process.exit(0); });
    process.stdin.resume();
  }
}

program.command('switch')
  .description('run a steering switch: sources send packets in, the flow table steers each to a middlebox instance')
  .requiredOption('--listen <address>', 'where sources and middlebox instances connect (host:port or socket path)', addressOption('--listen'))
  .option('--controller <address>', 'route controller to dial and be programmed by', addressOption('--controller'))
  .option('--name <name>', 'this switch\'s name, as the controller knows it', 'switch-0')
  .option('--pool <name>', 'the pool this switch steers for ("namespace/name" on a cluster)')
  .option('--egress <address>', 'send every packet the instances emit to the receiver listening here (openmb sink; host:port or socket path), with the same secret and TLS; the controller may change it', (v) => formatAddress(addressOption('--egress')(v)))
  .addOption(secretOption())
  .addOption(tlsOption('the controller, the egress receiver and every source, instance and sink that connects'))
  .addOption(probesOption())
  .action(async (o: { listen: Address; controller?: Address; name: string; pool?: string; egress?: string; secretFile?: string; tlsDir?: string; probes?: Address }) => {
    const log = createLogger(`switch/${o.name}`);
    const sw = new SteeringSwitch({ name: o.name, pool: o.pool, listen: o.listen, controller: o.controller, egress: o.egress, secret: loadSecret(o.secretFile), tls: tlsFromOption(o.tlsDir), log });
    await sw.start();
    log.info({ listen: formatAddress(o.listen) }, 'switch listening');
    if (o.probes) {
      await serveProbes(o.probes, [{ name: 'listening', ok: () => true }, { name: 'controller', ok: () => sw.controllerConnected }],
        switchMetrics(sw, { pool: o.pool ?? '', switch: o.name }));
    }
    onSignals(() => sw.stop());
  });

program.command('mb')
  .description('run one middlebox instance: it serves the southbound API to the controller and processes packets from the switch')
  .addOption(new Option('--type <type>', 'middlebox type').choices(Object.keys(MIDDLEBOXES)).makeOptionMandatory())
  .requiredOption('--controller <address>', 'the MB controller to connect to', addressOption('--controller'))
  .requiredOption('--switch <address>', 'the steering switch to take packets from', addressOption('--switch'))
  .option('--instance <name>', 'instance name (unique in its pool)', 'mb-0')
  .option('--pool <name>', 'the pool this instance belongs to', 'default')
  .option('--config <json>', 'configuration values as a JSON object', jsonObject('--config'), {})
  .option('--config-file <path>', 'configuration values from a JSON file (merged under --config)')
  .option('--partitioning <json>', 'the pool\'s partitioning, {"key", "buckets", "inside"?}, for middleboxes that derive configuration from it', partitioningOption('--partitioning'))
  .option('--peer-listen <address>', 'listen here for state other instances put straight into this one (a direct transfer); without it, moves to this instance are brokered by the controller', addressOption('--peer-listen'))
  .option('--peer-advertise <host:port>', 'the address peers dial to reach --peer-listen, when it listens on every address (e.g. the Pod\'s IP)')
  .addOption(secretOption())
  .addOption(tlsOption('the controller, the switch and the peers'))
  .addOption(probesOption())
  .action(async (o: { type: string; controller: Address; switch: Address; instance: string; pool: string; config: Record<string, unknown>; configFile?: string;
    partitioning?: Partitioning; peerListen?: Address; peerAdvertise?: string; secretFile?: string; tlsDir?: string; probes?: Address }) => {
    const log = createLogger(`mb/${o.instance}`);
    const fromFile = o.configFile ? jsonObject('--config-file')(readFileSync(o.configFile, 'utf8')) : {};
    const node = await startMiddleboxNode({
      def: middleboxByType(o.type), pool: o.pool, instance: o.instance, config: { ...fromFile, ...o.config }, partitioning: o.partitioning,
      controller: o.controller, switchAddress: o.switch, secret: loadSecret(o.secretFile), tls: tlsFromOption(o.tlsDir), log,
      ...(o.peerListen ? { peerListen: o.peerListen } : {}), ...(o.peerAdvertise ? { peerAdvertise: o.peerAdvertise } : {}),
    }).catch((e: Error) => program.error(`error: ${e.message}`));
    if (o.probes) {
      await serveProbes(o.probes, [{ name: 'controller', ok: () => connected(node.controllerLink) }, { name: 'switch', ok: () => connected(node.dataLink) }],
        middleboxMetrics(node.mb, { pool: o.pool, instance: o.instance, middlebox: o.type }));
    }
    onSignals(() => node.stop());
  });

program.command('replay')
  .description('replay a pcap or pcapng capture into a switch')
  .requiredOption('--trace <file>', 'capture to replay (pcap or pcapng)')
  .requiredOption('--switch <address>', 'switch to send packets to', addressOption('--switch'))
  .option('--rate <pps>', 'send at this many packets per second', positiveNumber('--rate'))
  .option('--speed <factor>', 'follow the capture\'s timing, this many times faster', positiveNumber('--speed'))
  .addOption(secretOption())
  .addOption(tlsOption('the switch'))
  .addHelpText('after', '\nWithout --rate or --speed, packets are sent as fast as the switch takes them.')
  .action(async (o: { trace: string; switch: Address; rate?: number; speed?: number; secretFile?: string; tlsDir?: string }) => {
    if (o.rate && o.speed) program.error('error: --rate and --speed cannot be used together');
    const log = createLogger('replay');
    const { packets } = readCaptureFile(o.trace);
    const pace: Pace = o.rate ? { kind: 'rate', pps: o.rate } : o.speed ? { kind: 'timing', speed: o.speed } : { kind: 'asap' };
    const bar = progressBar('replay', packets.length);
    const r = await replay(packets, { switchAddress: o.switch, secret: loadSecret(o.secretFile), tls: tlsFromOption(o.tlsDir), pace, log, onProgress: (n) => bar.update(n) });
    bar.stop();
    process.stdout.write(`${JSON.stringify({ sent: r.sent, durationMs: Math.round(r.durationMs), pps: Math.round(r.sent / (r.durationMs / 1000)) })}\n`);
  });

program.addCommand(describeCommand());
program.addCommand(localCommand());
program.addCommand(sinkCommand());
program.addCommand(operatorCommand());

// A reader that goes away (`openmb local | head`) is not an error of ours.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

program.parseAsync().catch((e: Error) => {
  process.stderr.write(`openmb: ${e.message}\n`);
  process.exit(1);
});
