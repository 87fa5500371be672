/**
 * Moving all state mid-trace across real processes: replay part of a capture into one monitor,
 * `get` every scope from it, `put` it into a fresh instance, steer traffic there, replay the
 * rest. The final flow and host records equal those of one uninterrupted instance.
 */
import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCluster } from '../../../operator/runtime/local-cluster.js';
import { silentLogger } from '../../log/logger.js';
import { readCaptureFile } from '../../flow/pcap.js';
import type { Chunk } from '../../protocol/messages.js';
import { SCOPES } from '../../protocol/messages.js';
import { tracePath } from '../../traffic/trace-dir.js';

async function withCluster<T>(fn: (c: LocalCluster) => Promise<T>): Promise<T> {
  const c = await LocalCluster.start({ log: silentLogger, logDir: mkdtempSync(join(tmpdir(), 'openmb-move-')) });
  try {
    return await fn(c);
  } finally {
    await c.stop();
  }
}

for (const [trace, fraction] of [['tryzeek_sumstat.pcap', 0.5], ['zeek_http-1000-requests.pcap', 0.3], ['tryzeek_ssh.pcapng', 0.7], ['suri_output-eve-ftp-data.pcap', 0.5]] as const) {
  test.serial(`moving all state at ${fraction * 100}% of ${trace} changes no output`, async (t) => {
    const { packets } = readCaptureFile(tracePath(trace));
    const cut = Math.floor(packets.length * fraction);

    const reference = await withCluster(async (c) => {
      await c.addInstance('monitor', 'm0');
      await c.routeAll('m0');
      await c.replay(packets, { kind: 'asap' });
      await c.settle();
      return c.session('m0').outputs();
    });

    const moved = await withCluster(async (c) => {
      const src = await c.addInstance('monitor', 'm0');
      const dst = await c.addInstance('monitor', 'm1');
      await c.routeAll('m0');
      await c.replay(packets.slice(0, cut), { kind: 'asap' });
      await c.settle();
      let chunks = 0;
      for (const scope of SCOPES) {
        const got: Chunk[] = [];
        const n = await src.get(scope, {}, (cs) => got.push(...cs));
        t.is(n, got.length);
        t.is(await dst.put(scope, got), got.length);
        chunks += got.length;
      }
      t.true(chunks > 1, 'some state was moved');
      await c.routeAll('m1');
      for (const scope of SCOPES) await src.del(scope, {});
      await c.replay(packets.slice(cut), { kind: 'asap' });
      const settled = await c.settle();
      t.is(settled.processed, packets.length);
      const leftover = await src.stats();
      t.is(leftover.entries['per-flow'], 0, 'the source kept no flow state');
      return dst.outputs();
    });

    t.deepEqual(moved.flows, reference.flows);
    t.deepEqual(moved.hosts, reference.hosts);
    t.deepEqual(moved.totals, reference.totals);
  });
}
