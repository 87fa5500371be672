/**
 * The long fuzz run (not a test): every property of the `*.fuzz.ts` modules for a share of the
 * given time rather than the tests' 3000 cases. Prints how many inputs each took; exits 1 with
 * fast-check's report (seed and shrunk counterexample) on the first failure, or on a hang: each
 * property runs in a worker thread that counts its inputs, and one input that takes longer than
 * --hang seconds ends the run with the seed and the input's path, which replay it
 * (fc.assert(property, { seed, path })).
 *
 *   npm run fuzz                       # 60 s in all
 *   npm run fuzz -- --seconds 600      # 600 s in all, shared evenly by the properties
 */
import fc from 'fast-check';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type { Properties } from './fuzz-properties.js';

/** Each target: the module (relative to this file) whose PROPERTIES it runs. */
const TARGETS: Record<string, string> = {
  pcap: '../shims/flow/pcap.fuzz.js',
  decode: '../shims/flow/decode.fuzz.js',
  framing: '../shims/protocol/framing.fuzz.js',
  messages: '../shims/protocol/messages.fuzz.js',
  filter: '../shims/flow/filter.fuzz.js',
  table: '../shims/switch/table.fuzz.js',
  middleboxes: '../shims/middleboxes/state.fuzz.js',
  pools: '../operator/kube/snapshot.fuzz.js',
};

interface Job { module: string; name: string; ms: number; seed: number; counter: SharedArrayBuffer }
type Outcome = { ok: true; inputs: number } | { ok: false; inputs: number; report: string };

async function propertiesOf(module: string): Promise<Properties> {
  return ((await import(new URL(module, import.meta.url).href)) as { PROPERTIES: Properties }).PROPERTIES;
}

/** In the worker: the property, counting each input it runs into the shared counter. */
async function work(job: Job): Promise<Outcome> {
  const property = (await propertiesOf(job.module))[job.name];
  const inputs = new Int32Array(job.counter);
  const counted = new Proxy(property, {
    get(target, key) {
      const value = Reflect.get(target, key, target) as unknown;
      if (key === 'run') return (...args: unknown[]) => { Atomics.add(inputs, 0, 1); return (value as (...a: unknown[]) => unknown).apply(target, args); };
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  // The time limit ends the run; the run count only has to be out of its way.
  const details = fc.check(counted, { seed: job.seed, numRuns: Number.MAX_SAFE_INTEGER, interruptAfterTimeLimit: job.ms, markInterruptAsFailure: false });
  return details.failed ? { ok: false, inputs: details.numRuns, report: fc.defaultReportMessage(details) ?? 'failed' } : { ok: true, inputs: details.numRuns };
}

/** Runs one property in a worker; resolves with its outcome, or a hang report when an input stalls. */
function runInWorker(job: Omit<Job, 'counter'>, hangMs: number): Promise<Outcome> {
  const counter = new SharedArrayBuffer(4);
  const inputs = new Int32Array(counter);
  const worker = new Worker(new URL(import.meta.url), { workerData: { ...job, counter } });
  return new Promise((resolve, reject) => {
    let seen = -1;
    let since = Date.now();
    const watch = setInterval(() => {
      const now = Atomics.load(inputs, 0);
      if (now !== seen) {
        seen = now;
        since = Date.now();
      } else if (Date.now() - since > hangMs) {
        clearInterval(watch);
        void worker.terminate();
        // Input number `now` (1-based) is the one still running: path `now - 1` replays it.
        resolve({ ok: false, inputs: now, report: `input ${now} ran for more than ${hangMs / 1000} s: replay with fc.assert(property, { seed: ${job.seed}, path: "${now - 1}" })` });
      }
    }, 250);
    worker.once('message', (o: Outcome) => {
      clearInterval(watch);
      resolve(o);
    });
    worker.once('error', (e) => {
      clearInterval(watch);
      reject(e);
    });
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '60' }, hang: { type: 'string', default: '10' }, seed: { type: 'string' } } });
  const seconds = Number(values.seconds);
  const hangS = Number(values.hang);
  if (!(seconds > 0)) throw new Error(`--seconds must be a positive number, got ${values.seconds}`);
  if (!(hangS > 0)) throw new Error(`--hang must be a positive number, got ${values.hang}`);
  const jobs: { target: string; module: string; name: string }[] = [];
  for (const [target, module] of Object.entries(TARGETS)) {
    for (const name of Object.keys(await propertiesOf(module))) jobs.push({ target, module, name });
  }
  const ms = Math.max(1000, Math.floor((seconds * 1000) / jobs.length));
  const seed = values.seed === undefined ? Date.now() ^ (Math.random() * 0x7fffffff) : Number(values.seed);
  console.log(`${jobs.length} properties, ${ms / 1000} s each (${seconds} s in all), seed ${seed}, a hang is an input running over ${hangS} s`);
  for (const { target, module, name } of jobs) {
    const outcome = await runInWorker({ module, name, ms, seed }, hangS * 1000).catch((e: Error): Outcome => ({ ok: false, inputs: 0, report: `the property could not run: ${e.message}` }));
    if (!outcome.ok) {
      console.error(`${target}: ${name}: FAILED after ${outcome.inputs} inputs`);
      console.error(outcome.report);
      process.exit(1);
    }
    console.log(`${target}: ${name}: ${outcome.inputs} inputs, no failure`);
  }
}

if (isMainThread) await main();
else parentPort!.postMessage(await work(workerData as Job));
