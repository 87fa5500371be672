/**
 * For every middlebox and every shared capture: the trace through one instance, and the same
 * trace with all state moved to a fresh instance halfway, give identical outputs (and identical
 * egress reports for middleboxes that emit packets). Real switch and middlebox processes.
 */
import test from 'ava';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCluster } from '../../operator/runtime/local-cluster.js';
import { silentLogger } from '../log/logger.js';
import { readCaptureFile, type CapturedPacket } from '../flow/pcap.js';
import { type Chunk, SCOPES } from '../protocol/messages.js';
import { tracesDir } from '../traffic/trace-dir.js';
import { MIDDLEBOXES } from './registry.js';

const traces = readdirSync(tracesDir()).filter((f) => /\.pcap(ng)?$/.test(f)).sort();

async function run(type: string, packets: readonly CapturedPacket[], moveAt: number | null): Promise<Record<string, unknown>> {
  const def = MIDDLEBOXES[type];
  const c = await LocalCluster.start({ log: silentLogger, logDir: mkdtempSync(join(tmpdir(), `openmb-eq-${type}-`)) });
  try {
    const egress = def.createEgress?.(def.parseConfig(def.defaultConfig));
    if (egress) await c.attachSink((p) => egress.receive(p));
    const src = await c.addInstance(type, 'i0');
    await c.routeAll('i0');
    const cut = moveAt === null ? packets.length : Math.floor(packets.length * moveAt);
    await c.replay(packets.slice(0, cut), { kind: 'asap' });
    let outputsFrom = 'i0';
    if (moveAt !== null) {
      const dst = await c.addInstance(type, 'i1');
      await c.settle();
      for (const scope of SCOPES) {
        const chunks: Chunk[] = [];
        await src.get(scope, {}, (cs) => chunks.push(...cs));
        await dst.put(scope, chunks);
      }
      await c.routeAll('i1');
      for (const scope of SCOPES) await src.del(scope, {});
      await c.stopInstance('i0');
      await c.replay(packets.slice(cut), { kind: 'asap' });
      outputsFrom = 'i1';
    }
    const settled = await c.settle();
    if (settled.processed !== (moveAt === null ? packets.length : packets.length - cut)) {
      throw new Error(`processed ${settled.processed} packets`);
    }
    const outputs = await c.session(outputsFrom).outputs();
    return egress ? { ...outputs, egress: egress.report() } : outputs;
  } finally {
    await c.stop();
  }
}

for (const type of Object.keys(MIDDLEBOXES)) {
  for (const trace of traces) {
    test.serial(`${type}: moving all state halfway through ${trace} changes no output`, async (t) => {
      const { packets } = readCaptureFile(join(tracesDir(), trace));
      const reference = await run(type, packets, null);
      const moved = await run(type, packets, 0.5);
      t.deepEqual(moved, reference);
    });
  }
}
