/**
 * The operator's process runtime with `outlive`, across real processes: a pool engine one
 * operator lets go of (SIGTERM, a lost lease) keeps running, and the next operator's engine on
 * the same state directory adopts it and re-learns the switch's routes instead of reinstalling.
 */
import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MiddleboxPool } from '../api/types.js';
import { silentLogger } from '../../shims/log/logger.js';
import { readRecord } from '../runtime/data-plane-record.js';
import { stopRecordedDataPlane } from '../runtime/local-cluster.js';
import { isAlive } from '../runtime/processes.js';
import { ProcessRuntime } from './process-runtime.js';
import type { EngineSpec } from './runtime.js';

test('a detached pool engine keeps running and the next one adopts it: the same processes, and a router that owns what the switch does', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'openmb-process-runtime-'));
  const poolDir = join(dir, 'ns', 'p');
  t.teardown(() => stopRecordedDataPlane(poolDir));
  // The process runtime reads nothing of the resource (a Pod runtime takes its template from it).
  const spec: EngineSpec = { pool: 'ns/p', resource: {} as MiddleboxPool, mbType: 'monitor', config: {}, partitioning: { key: 'flow', buckets: 8 } };
  const runtime = () => new ProcessRuntime({ secret: 'process-runtime-secret', logDir: dir, log: silentLogger, outlive: true, adoptTimeoutMs: 5000 });

  const first = await runtime().open(spec);
  await first.instances.start('m-0');
  await first.instances.start('m-1');
  const owner = ['m-0', 'm-0', 'm-0', 'm-1', 'm-1', 'm-1', 'm-1', 'm-1'];
  owner.forEach((o, b) => { first.router.owner[b] = o; });
  await first.router.apply();
  const recorded = readRecord(poolDir)!;
  t.deepEqual(recorded.instances.map((i) => i.name), ['m-0', 'm-1']);
  await first.detach();
  const pids = [recorded.switch.pid, ...recorded.instances.map((i) => i.pid)];
  t.true(pids.every(isAlive), 'detach leaves the switch and the instances running');

  const second = await runtime().open(spec);
  t.deepEqual(second.router.owner, owner, 'the router learned the routes from the switch');
  t.is(second.switchAddress, recorded.switch.socket);
  t.truthy(second.session('m-0'));
  t.truthy(second.session('m-1'));
  t.deepEqual(readRecord(poolDir)?.instances.map((i) => i.pid), recorded.instances.map((i) => i.pid), 'the same instance processes');
  await second.stop();
  t.false(pids.some(isAlive), 'a pool engine stopped (the pool is deleted) ends its processes');
  t.is(readRecord(poolDir), null);
});
