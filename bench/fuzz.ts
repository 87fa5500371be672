/**
 * The long fuzz run (not a test): every property of the `*.fuzz.ts` modules, each for the given
 * number of seconds rather than the tests' 3000 cases. Prints how many inputs each took; exits 1
 * with fast-check's report (seed and shrunk counterexample) on the first failure.
 *
 *   npm run fuzz                 # 10 s per property
 *   npm run fuzz -- --seconds 600
 */
import fc from 'fast-check';
import { parseArgs } from 'node:util';
import type { Properties } from './fuzz-properties.js';
import { PROPERTIES as decode } from '../shims/flow/decode.fuzz.js';
import { PROPERTIES as filter } from '../shims/flow/filter.fuzz.js';
import { PROPERTIES as pcap } from '../shims/flow/pcap.fuzz.js';
import { PROPERTIES as framing } from '../shims/protocol/framing.fuzz.js';
import { PROPERTIES as messages } from '../shims/protocol/messages.fuzz.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' } } });
const seconds = Number(values.seconds);
if (!(seconds > 0)) throw new Error(`--seconds must be a positive number, got ${values.seconds}`);

const TARGETS: Record<string, Properties> = { pcap, decode, framing, messages, filter };
const count = Object.values(TARGETS).reduce((n, ps) => n + Object.keys(ps).length, 0);
console.log(`${count} properties, ${seconds} s each (about ${Math.ceil((count * seconds) / 60)} min)`);

for (const [target, properties] of Object.entries(TARGETS)) {
  for (const [name, property] of Object.entries(properties)) {
    // The time limit ends the run; the run count only has to be out of its way.
    const details = fc.check(property, { numRuns: Number.MAX_SAFE_INTEGER, interruptAfterTimeLimit: seconds * 1000, markInterruptAsFailure: false });
    if (details.failed) {
      console.error(`${target}: ${name}: FAILED after ${details.numRuns} inputs`);
      console.error(fc.defaultReportMessage(details));
      process.exit(1);
    }
    console.log(`${target}: ${name}: ${details.numRuns} inputs, no failure`);
  }
}
