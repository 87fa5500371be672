/** The `openmb sink` command line: a pool's egress receiver, with a middlebox's egress check. */
import { Command, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { loadSecret } from '../shims/protocol/auth.js';
import { formatAddress, type Address } from '../shims/protocol/address.js';
import { tlsFromOption } from '../shims/protocol/tls.js';
import { createLogger } from '../shims/log/logger.js';
import { checkable, Sink } from '../shims/egress/sink.js';
import { addressOption, jsonObject, positiveNumber } from './options.js';

const HELP = `
A MiddleboxPool whose spec.egress.address names this sink's --listen address (as its switch
reaches it: from a Pod, this machine's node IP) has its switch dial here and send every packet
its instances emit: the NAT's translated packets, the RE's encoded ones. The switch sends them
in order per flow and the sink acknowledges each batch, so a switch that reconnects resends
exactly what is missing; the pool's status.egress counts what was sent, delivered, is queued
and could not be delivered, and why.

The connection is authenticated like the switch's own listener: the pool's shared secret, and
under the Pod runtime mutual TLS with the pool namespace's openmb-tls Secret (--tls-dir).

With --check, each switch's packets go through the middlebox's own egress checker, the one
\`openmb local\` attaches to its switch:
  nat  every translated packet's IPv4 and TCP/UDP checksums recomputed in full
       (badChecksumPackets, to compare with the NAT's inputBadChecksums: a checksum that was
       already wrong on capture stays wrong), and every external address:port watched for a
       second flow while the first is alive (sharedPairs)
  re   a decoder that learns its chunk cache from the packets alone, as the far end of a link
       does, and rebuilds every encoded payload against its length and CRC-32 (decodeFailures)
Give the pool's middlebox configuration with --config (the NAT's externalAddresses and
timeouts, the RE's cacheBytes): the checker must know what the middlebox was told.

Counters: packets, bytes, batches, reordered (a packet older than one already received of its
flow), and per switch ("namespace/pool/switch") packets, connected, connections and the
check's report. They are printed as one JSON line every --print-every seconds while they
change and once more on SIGINT/SIGTERM, and served at GET /counters of --http.

Example (the switch Pod reaches this machine at 10.250.0.1):
  OPENMB_SECRET=$(cat secret) openmb sink --listen 10.250.0.1:7300 --tls-dir tls --check nat \\
    --http 127.0.0.1:7301
  kubectl patch mbp nat --type merge -p '{"spec":{"egress":{"address":"10.250.0.1:7300"}}}'
  curl -s 127.0.0.1:7301/counters
`;

export function sinkCommand(): Command {
  return new Command('sink')
    .description('receive a pool\'s egress (every packet its instances emit, from its switch) and check it: NAT checksums and shared external pairs, RE decoding')
    .requiredOption('--listen <address>', 'where switches connect (host:port or socket path)', addressOption('--listen'))
    .addOption(new Option('--check <type>', 'check the packets with this middlebox\'s egress checker').choices(checkable()))
    .option('--config <json>', 'the pool\'s middlebox configuration values, as a JSON object', jsonObject('--config'), {})
    .option('--config-file <path>', 'configuration values from a JSON file (merged under --config)')
    .option('--http <address>', 'serve GET /counters (JSON) and /healthz here', addressOption('--http'))
    .option('--print-every <seconds>', 'print the counters as a JSON line this often while they change (0: only at exit)', positiveOrZero, 5)
    .option('--secret-file <path>', 'file holding the shared secret (default: $OPENMB_SECRET)')
    .option('--tls-dir <dir>', 'mutual TLS under the shared secret (ca.crt, tls.crt, tls.key, as a mounted kubernetes.io/tls Secret); switches must use certificates from the same CA (default: $OPENMB_TLS_DIR)')
    .addHelpText('after', HELP)
    .action(async (o: { listen: Address; check?: string; config: Record<string, unknown>; configFile?: string; http?: Address; printEvery: number; secretFile?: string; tlsDir?: string }) => {
      const log = createLogger('sink');
      const fromFile = o.configFile ? jsonObject('--config-file')(readFileSync(o.configFile, 'utf8')) : {};
      const sink = new Sink({
        listen: o.listen, secret: loadSecret(o.secretFile), tls: tlsFromOption(o.tlsDir), log, ...(o.http ? { http: o.http } : {}),
        ...(o.check ? { check: { type: o.check, config: { ...fromFile, ...o.config } } } : {}),
      });
      const bound = await sink.start();
      log.info({ listen: formatAddress(bound.listen), http: bound.http, check: o.check ?? null }, 'sink listening');
      // A machine-readable line for scripts that start it with port 0.
      process.stdout.write(`${JSON.stringify({ listen: formatAddress(bound.listen), ...(bound.http ? { http: bound.http } : {}) })}\n`);
      let printed = '';
      const print = (always: boolean) => {
        const line = JSON.stringify(sink.report());
        if (always || line !== printed) process.stdout.write(`${line}\n`);
        printed = line;
      };
      const timer = o.printEvery > 0 ? setInterval(() => print(false), o.printEvery * 1000) : undefined;
      const end = () => {
        clearInterval(timer);
        print(true);
        sink.stop();
        process.exit(0);
      };
      for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, end);
      // Started by another openmb process (a test): end with it.
      if (process.env.OPENMB_EXIT_WITH_PARENT === '1') {
        process.stdin.on('end', end);
        process.stdin.resume();
      }
    });
}

function positiveOrZero(v: string): number {
  return v === '0' ? 0 : positiveNumber('--print-every')(v);
}
