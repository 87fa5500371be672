/**
 * The full correctness matrix (not part of `npm test`, which runs a slice): every shared capture
 * × every middlebox × every guarantee, each scaled 1 -> 2 -> 3 -> 2 under traffic and checked
 * against the unscaled run (and tshark, for the monitor). Guarantee `none` is expected to show
 * differences; loss-free and order-preserving must show none. Exits non-zero on any failure.
 *
 *   npm run oracle                       # everything (about 15 minutes here)
 *   npm run oracle -- --middlebox ids --trace ndpi_synscan.pcap
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { checkScaled, unscaledRun } from '../cli/local/acceptance.js';
import { MIDDLEBOXES } from '../shims/middleboxes/registry.js';
import { tracesDir } from '../shims/traffic/trace-dir.js';
import { GUARANTEES } from '../operator/engine/operation.js';

const { values } = parseArgs({ options: { middlebox: { type: 'string', multiple: true }, trace: { type: 'string', multiple: true } } });
const types = values.middlebox ?? Object.keys(MIDDLEBOXES);
const traces = values.trace ?? readdirSync(tracesDir()).filter((f) => /\.pcap(ng)?$/.test(f)).sort();

let failures = 0;
let checks = 0;
const noneDiffers: string[] = [];
console.log(`OpenMB oracle matrix: ${traces.length} captures × ${types.length} middleboxes × ${GUARANTEES.length} guarantees, scaled 1→2→3→2`);
for (const trace of traces) {
  for (const type of types) {
    const file = join(tracesDir(), trace);
    const reference = await unscaledRun(type, file);
    for (const guarantee of GUARANTEES) {
      const v = await checkScaled(type, file, guarantee, reference);
      const ok = v.problems.length === 0;
      if (guarantee === 'none') {
        if (!ok) noneDiffers.push(`${type}/${trace}`);
        console.log(`${ok ? 'same' : 'DIFF'}  ${type.padEnd(8)} ${guarantee.padEnd(17)} ${trace}${ok ? '' : `: ${v.problems[0].slice(0, 160)}`}`);
        continue;
      }
      checks++;
      if (!ok) failures++;
      console.log(`${ok ? 'ok  ' : 'FAIL'}  ${type.padEnd(8)} ${guarantee.padEnd(17)} ${trace} ${JSON.stringify(v.notes).slice(0, 120)}`);
      for (const p of v.problems) console.log(`        ${p.slice(0, 400)}`);
    }
  }
}
console.log(`\n${checks - failures} passed, ${failures} failed (loss-free and order-preserving); with none, ${noneDiffers.length} of ${traces.length * types.length} runs differed from the unscaled run`);
process.exitCode = failures > 0 ? 1 : 0;
