/**
 * Test support: a process that starts a data plane that outlives it (a LocalCluster on a state
 * directory: a switch and two instances of a middlebox, the buckets split between them) and then only
 * reports, so a test can SIGKILL it and see what survives.
 *
 * Usage: node data-plane-harness.js STATE_DIR LOG_DIR POOL MB_TYPE BUCKETS (the secret in $OPENMB_SECRET)
 * Prints one JSON line {"ready": ...} with the pids, the switch socket and the owner of each
 * bucket, then every 100 ms {"processed": {instance: packetsProcessed}}.
 */
import { silentLogger } from '../../shims/log/logger.js';
import { SECRET_ENV } from '../../shims/protocol/auth.js';
import { BucketRouter } from '../routing/bucket-router.js';
import { LocalCluster } from './local-cluster.js';

const INSTANCES = ['m-0', 'm-1'];

async function main(): Promise<void> {
  const [stateDir, logDir, pool, mbType, bucketsArg] = process.argv.slice(2);
  const secret = process.env[SECRET_ENV];
  const buckets = Number(bucketsArg);
  if (!stateDir || !logDir || !pool || !mbType || !Number.isInteger(buckets) || buckets < 2 || !secret) {
    throw new Error(`usage: data-plane-harness.js STATE_DIR LOG_DIR POOL MB_TYPE BUCKETS with $${SECRET_ENV} set`);
  }
  const c = await LocalCluster.start({ log: silentLogger, logDir, stateDir, pool, secret });
  const partitioning = { key: 'flow' as const, buckets };
  for (const name of INSTANCES) await c.addInstance(mbType, name, {}, partitioning);
  const router = new BucketRouter(() => [c.sw], partitioning);
  router.owner.forEach((_, b) => { router.owner[b] = INSTANCES[b % INSTANCES.length]; });
  await router.apply();
  const pids = Object.fromEntries([...c.instances].map(([name, i]) => [name, i.child.proc.pid]));
  process.stdout.write(`${JSON.stringify({ ready: { switchPid: c.switchPid, switchSocket: c.switchSock, instances: pids, owner: router.owner } })}\n`);
  const report = async () => {
    const processed: Record<string, number> = {};
    for (const name of INSTANCES) processed[name] = (await c.session(name).stats()).packetsProcessed;
    process.stdout.write(`${JSON.stringify({ processed })}\n`);
    setTimeout(() => { void report(); }, 100);
  };
  await report();
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
