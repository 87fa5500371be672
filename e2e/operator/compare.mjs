#!/usr/bin/env node
/* global process, console */
// Compares a pool's outputs with a reference run's, output by output (lists as multisets).
//   node compare.mjs POOL.json REFERENCE.json [NAME...]   exit 0 when equal, 1 when not
//   node compare.mjs --busiest-server OUTPUTS.json        prints the address in the most flows on a port < 1024
// POOL.json: the operator's GET /pools/NS/NAME/outputs ({outputs, duplicateFlows}).
// REFERENCE.json: `openmb local`'s report.json ({outputs, ...}).
import { readFileSync } from 'node:fs';

const load = (f) => JSON.parse(readFileSync(f, 'utf8'));
const args = process.argv.slice(2);

if (args[0] === '--busiest-server') {
  const counts = new Map();
  for (const f of load(args[1]).outputs.flows ?? []) {
    const server = f.a.port < 1024 ? f.a.ip : f.b.port < 1024 ? f.b.ip : null;
    if (server) counts.set(server, (counts.get(server) ?? 0) + 1);
  }
  const best = [...counts].sort((x, y) => y[1] - x[1])[0];
  if (!best) process.exit(1);
  console.log(best[0]);
  process.exit(0);
}

const [poolFile, refFile, ...names] = args;
if (!poolFile || !refFile) {
  console.error('usage: compare.mjs POOL.json REFERENCE.json [NAME...]');
  process.exit(2);
}
const pool = load(poolFile);
const ref = load(refFile).outputs;
const got = pool.outputs;
let equal = true;
for (const name of names.length ? names : Object.keys(ref)) {
  const a = got[name];
  const b = ref[name];
  if (!Array.isArray(a) || !Array.isArray(b)) {
    const same = JSON.stringify(a) === JSON.stringify(b);
    console.log(`${same ? 'equal' : 'DIFFERENT'} ${name}: ${JSON.stringify(a)}${same ? '' : ` vs reference ${JSON.stringify(b)}`}`);
    equal &&= same;
    continue;
  }
  const left = new Map();
  for (const r of b) left.set(JSON.stringify(r), (left.get(JSON.stringify(r)) ?? 0) + 1);
  const onlyPool = [];
  for (const r of a) {
    const k = JSON.stringify(r);
    const n = left.get(k) ?? 0;
    if (n > 0) left.set(k, n - 1);
    else onlyPool.push(r);
  }
  const onlyRef = [...left].flatMap(([k, n]) => Array(n).fill(k));
  const same = onlyPool.length === 0 && onlyRef.length === 0;
  console.log(`${same ? 'equal' : 'DIFFERENT'} ${name}: ${a.length} in the pool, ${b.length} in the reference` +
    (same ? '' : `; ${onlyPool.length} only in the pool, ${onlyRef.length} only in the reference`));
  for (const r of onlyPool.slice(0, 3)) console.log(`  only in the pool: ${JSON.stringify(r)}`);
  for (const r of onlyRef.slice(0, 3)) console.log(`  only in the reference: ${r}`);
  equal &&= same;
}
if (pool.duplicateFlows) {
  console.log(`DIFFERENT: ${pool.duplicateFlows} flows have state on more than one instance`);
  equal = false;
}
process.exit(equal ? 0 : 1);
