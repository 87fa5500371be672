/**
 * `npm run references`: runs tshark on every capture in data/traces (or $OPENMB_TRACES) and
 * writes each one's reference to data/traces/references/<capture>.tshark.json. With `--check`
 * it writes nothing and exits 1 naming every stored reference that differs from what tshark
 * says now (or is missing).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { tracesDir } from '../traffic/trace-dir.js';
import { captures, liveReference, readStoredReference, referencePath, referencesDir, type StoredReference } from './stored.js';
import { tsharkAvailable } from './tshark.js';

/** JSON a reader can diff: one flow, request pair or command per line. */
function format(ref: StoredReference): string {
  const section = (o: Record<string, unknown>) => Object.entries(o).map(([k, v]) => Array.isArray(v) && k !== 'command'
    ? `  ${JSON.stringify(k)}: [${v.length === 0 ? '' : `\n${v.map((x) => `   ${JSON.stringify(x)}`).join(',\n')}\n  `}]`
    : `  ${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(',\n');
  const top = Object.entries(ref).map(([k, v]) => typeof v === 'object'
    ? ` ${JSON.stringify(k)}: {\n${section(v as Record<string, unknown>)}\n }`
    : ` ${JSON.stringify(k)}: ${JSON.stringify(v)}`);
  return `{\n${top.join(',\n')}\n}\n`;
}

function main(check: boolean): number {
  if (!tsharkAvailable()) {
    console.error('references: tshark is not installed (apt-get install tshark)');
    return 2;
  }
  mkdirSync(referencesDir(), { recursive: true });
  let differ = 0;
  for (const capture of captures()) {
    const live = liveReference(join(tracesDir(), capture));
    const stored = readStoredReference(capture);
    // The tshark version line is a record, not part of the dissection: a newer tshark that says the same agrees.
    const same = stored !== undefined && isDeepStrictEqual({ ...stored, tshark: '' }, { ...live, tshark: '' });
    if (check) {
      if (!same) {
        differ++;
        console.error(`${capture}: ${stored ? 'stored reference differs from' : 'no stored reference for'} what ${live.tshark} says`);
      }
      continue;
    }
    writeFileSync(referencePath(capture), format(live));
    console.log(`${capture}: ${live.flows.flows.length} flows, ${live.httpRequests.requests.length} HTTP pairs, ${live.badChecksumFrames.frames.length} bad-checksum frames${stored === undefined ? ' (new)' : same ? '' : ' (changed)'}`);
  }
  if (check) console.log(`references: ${captures().length - differ} of ${captures().length} stored references agree with tshark`);
  return differ > 0 ? 1 : 0;
}

process.exitCode = main(process.argv.includes('--check'));
