/**
 * The full correctness matrix (not part of `npm test`, which runs a slice): every shared capture
 * × every middlebox × every guarantee × every transfer, each scaled 1 -> 2 -> 3 -> 2 under
 * traffic and checked against the unscaled run (and tshark, for the monitor). Guarantee `none` is
 * expected to show differences; loss-free and order-preserving must show none, with either
 * transfer. Exits non-zero on any failure.
 *
 *   npm run oracle                       # everything (about 20 minutes per transfer here)
 *   npm run oracle -- --transfer direct  # one transfer
 *   npm run oracle -- --middlebox ids --trace ndpi_synscan.pcap --guarantee loss-free
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { checkScaled, unscaledRun } from '../cli/local/acceptance.js';
import { MIDDLEBOXES } from '../shims/middleboxes/registry.js';
import { tracesDir } from '../shims/traffic/trace-dir.js';
import { GUARANTEES, TRANSFERS, type Guarantee, type Transfer } from '../operator/engine/operation.js';

const { values } = parseArgs({
  options: {
    middlebox: { type: 'string', multiple: true },
    trace: { type: 'string', multiple: true },
    guarantee: { type: 'string', multiple: true },
    transfer: { type: 'string', default: 'both' },
  },
});

function refuse(message: string): never {
  console.error(`oracle: ${message}`);
  process.exit(2);
}

/** The values of a repeatable option, each checked against the ones it may take. */
function chosen<T extends string>(flag: string, given: string[] | undefined, known: readonly T[]): T[] {
  if (!given) return [...known];
  for (const v of given) if (!known.includes(v as T)) refuse(`--${flag}: unknown "${v}" (known: ${known.join(', ')})`);
  return given as T[];
}

const types = chosen('middlebox', values.middlebox, Object.keys(MIDDLEBOXES));
const allTraces = readdirSync(tracesDir()).filter((f) => /\.pcap(ng)?$/.test(f)).sort();
const traces = chosen('trace', values.trace, allTraces);
const guarantees: Guarantee[] = chosen('guarantee', values.guarantee, GUARANTEES);
if (values.transfer !== 'both' && !TRANSFERS.includes(values.transfer as Transfer)) {
  refuse(`--transfer: unknown "${values.transfer}" (known: both, ${TRANSFERS.join(', ')})`);
}
const transfers: Transfer[] = values.transfer === 'both' ? [...TRANSFERS] : [values.transfer as Transfer];

interface Tally { checks: number; failures: number; noneRuns: number; noneDiffers: string[] }
const tally = new Map<Transfer, Tally>(transfers.map((t) => [t, { checks: 0, failures: 0, noneRuns: 0, noneDiffers: [] }]));

console.log(`OpenMB oracle matrix: ${traces.length} captures × ${types.length} middleboxes × ${guarantees.length} guarantees × ${transfers.length} transfers (${transfers.join(', ')}), scaled 1→2→3→2`);
for (const trace of traces) {
  for (const type of types) {
    const file = join(tracesDir(), trace);
    // One unscaled run per capture and middlebox: it has no operation, so no transfer.
    const reference = await unscaledRun(type, file);
    for (const transfer of transfers) {
      const t = tally.get(transfer)!;
      for (const guarantee of guarantees) {
        const v = await checkScaled(type, file, guarantee, { transfer, reference });
        const ok = v.problems.length === 0;
        const what = `${type.padEnd(8)} ${transfer.padEnd(9)} ${guarantee.padEnd(17)} ${trace}`;
        if (guarantee === 'none') {
          t.noneRuns++;
          if (!ok) t.noneDiffers.push(`${type}/${trace}`);
          console.log(`${ok ? 'same' : 'DIFF'}  ${what}${ok ? '' : `: ${v.problems[0].slice(0, 160)}`}`);
          continue;
        }
        t.checks++;
        if (!ok) t.failures++;
        console.log(`${ok ? 'ok  ' : 'FAIL'}  ${what} ${JSON.stringify(v.notes).slice(0, 120)}`);
        for (const p of v.problems) console.log(`        ${p.slice(0, 400)}`);
      }
    }
  }
}
const checked = guarantees.filter((g) => g !== 'none').join(' and ');
console.log('');
for (const [transfer, t] of tally) {
  const none = t.noneRuns > 0 ? `; with none, ${t.noneDiffers.length} of ${t.noneRuns} runs differed from the unscaled run` : '';
  console.log(`${transfer}: ${t.checks - t.failures} passed, ${t.failures} failed (${checked})${none}`);
}
process.exitCode = [...tally.values()].some((t) => t.failures > 0) ? 1 : 0;
