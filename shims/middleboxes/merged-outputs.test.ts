/**
 * Each middlebox's merge rules (its descriptor's `outputs`) against its own outputs, in process on
 * every shared capture: merging one instance's outputs gives them back unchanged (its lists are in
 * the order the rules sort by, every field has a rule); and a trace split over three instances by
 * the middlebox's partition key merges to what one instance reports (the monitor whole, its host
 * records split and added up; the ids's connections and packet counts).
 */
import test from 'ava';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { decode } from '../flow/decode.js';
import { packetHash } from '../flow/hash.js';
import { readCaptureFile, type CapturedPacket } from '../flow/pcap.js';
import type { AnyMiddlebox } from '../shim/definition.js';
import { poolInstanceConfig } from '../shim/descriptor.js';
import { MiddleboxInstance } from '../shim/runtime.js';
import { tracesDir } from '../traffic/trace-dir.js';
import { mergeOutputs } from '../../operator/engine/merged-outputs.js';
import { MIDDLEBOXES } from './registry.js';

const BUCKETS = 64;
const traces = readdirSync(tracesDir()).filter((f) => /\.pcap(ng)?$/.test(f)).sort();

/** The outputs of `n` instances, each given the packets of the buckets it owns (bucket mod n). */
function split(def: AnyMiddlebox, packets: readonly CapturedPacket[], n: number): Record<string, unknown>[] {
  const partitioning = { key: def.partitionKey, buckets: BUCKETS };
  const mbs = Array.from({ length: n }, () => new MiddleboxInstance(def, poolInstanceConfig(def, {}, partitioning)));
  packets.forEach((p, i) => {
    const bucket = packetHash(def.partitionKey, [], p.data, decode(p.data, p.linkType)) % BUCKETS;
    mbs[bucket % n].receive({ ...p, seq: i + 1, ingressMs: 0 });
  });
  return mbs.map((mb) => mb.outputs());
}

for (const trace of traces) {
  const { packets } = readCaptureFile(join(tracesDir(), trace));
  for (const [type, def] of Object.entries(MIDDLEBOXES)) {
    test(`${type}: one instance's outputs merge to themselves on ${trace}`, (t) => {
      const [single] = split(def, packets, 1);
      t.deepEqual(mergeOutputs(def.outputs, [single]), single);
    });
  }

  test(`monitor: three instances' outputs merge to one instance's on ${trace}`, (t) => {
    const { monitor } = MIDDLEBOXES;
    const [single] = split(monitor, packets, 1);
    t.deepEqual(mergeOutputs(monitor.outputs, split(monitor, packets, 3)), single);
  });

  test(`ids: three instances' connections and packet counts merge to one instance's on ${trace}`, (t) => {
    const { ids } = MIDDLEBOXES;
    const [single] = split(ids, packets, 1);
    const merged = mergeOutputs(ids.outputs, split(ids, packets, 3));
    t.deepEqual(merged.connections, single.connections);
    t.is((merged.counters as { packets: number }).packets, (single.counters as { packets: number }).packets);
  });
}
