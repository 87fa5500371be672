/**
 * Rewrites the README's benchmark tables from the benchmarks' saved JSON (not a test): each
 * section between its markers (bench/report/splice.ts), the prose around them left as it is.
 *
 *   npm run -s bench:moves -- --json > docs/bench/moves.json
 *   npm run -s bench -- --json > docs/bench/dataplane.json
 *   npm run bench:readme
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { renderDataplane, renderMoves } from './report/render.js';
import { dataplaneReportSchema, movesReportSchema, parseReport } from './report/shapes.js';
import { spliceSection } from './report/splice.js';

const { values } = parseArgs({ options: {
  readme: { type: 'string', default: 'README.md' },
  moves: { type: 'string', default: 'docs/bench/moves.json' },
  dataplane: { type: 'string', default: 'docs/bench/dataplane.json' },
} });
const read = (file: string) => readFileSync(file, 'utf8');

let readme = read(values.readme!);
readme = spliceSection(readme, 'dataplane', renderDataplane(parseReport(dataplaneReportSchema, read(values.dataplane!), values.dataplane!), values.dataplane!));
readme = spliceSection(readme, 'moves', renderMoves(parseReport(movesReportSchema, read(values.moves!), values.moves!), values.moves!));
writeFileSync(values.readme!, readme);
console.log(`${values.readme}: tables from ${values.dataplane} and ${values.moves}`);
