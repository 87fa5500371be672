/* global process, console */
// stop-data-planes.mjs DIR: stops the processes of every data plane recorded under DIR (each
// data-plane.json the operator's process runtime leaves in its --state-dir), which outlive the
// operator by design, so a suite leaves nothing running. Prints one line per data plane stopped.
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const { stopRecordedDataPlane } = await import(join(root, 'dist/operator/runtime/local-cluster.js'));
const { RECORD_FILE } = await import(join(root, 'dist/operator/runtime/data-plane-record.js'));

const dir = process.argv[2];
if (!dir) {
  console.error('usage: stop-data-planes.mjs STATE_DIR');
  process.exit(2);
}
let entries = [];
try {
  entries = readdirSync(dir, { recursive: true });
} catch (e) {
  if (e.code !== 'ENOENT') throw e;
}
for (const entry of entries) {
  if (!entry.endsWith(RECORD_FILE)) continue;
  const stateDir = join(dir, dirname(entry));
  const pids = await stopRecordedDataPlane(stateDir);
  console.log(`${stateDir}: stopped ${pids.length} processes${pids.length ? ` (${pids.join(' ')})` : ''}`);
}
