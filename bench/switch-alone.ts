/**
 * The steering switch alone: packets/s from a replay source through the switch process to N
 * instances, each a data connection that only counts what arrives, so the switch's own work per
 * packet (decode, flow table, batching) is what is measured. The table is the one a pool's
 * bucket router installs: one bucket rule per instance, owners round-robin over the buckets, and
 * the catch-all for packets without IP. Besides packets/s it reports the switch process's CPU time
 * per packet (from /proc), which other load on the machine disturbs far less than wall time.
 */
import { readFileSync } from 'node:fs';
import { connectPeer, type Peer } from '../shims/protocol/connection.js';
import type { CapturedPacket } from '../shims/flow/pcap.js';
import { silentLogger } from '../shims/log/logger.js';
import { BucketRouter } from '../operator/routing/bucket-router.js';
import type { LocalCluster } from '../operator/runtime/local-cluster.js';

export interface SwitchAloneFigure {
  instances: number;
  packets: number;
  pps: number;
  /** CPU time (user + system) the switch process spent per packet, in microseconds. */
  cpuUsPerPacket: number;
}

/** Clock ticks per second of /proc/<pid>/stat's times (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** CPU seconds a process has used so far: utime + stime, the 14th and 15th fields of /proc/<pid>/stat. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) is in parentheses and may hold spaces: count fields after it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** Counts packets from the count field of each batch frame's header, without decoding records. */
function counter(peers: Peer[]): { total: () => number; reset: () => void } {
  let n = 0;
  for (const p of peers) p.on('packets', (payload: Buffer) => { n += payload.readUInt32LE(1); });
  return { total: () => n, reset: () => { n = 0; } };
}

async function until(done: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > deadline) throw new Error('switch benchmark: not every packet reached an instance in time');
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** Routes `buckets` buckets round-robin to the first `n` instances, as the pool's router would. */
async function routeTo(c: LocalCluster, n: number, buckets: number): Promise<void> {
  const router = new BucketRouter(() => [c.sw], { key: 'flow', buckets });
  for (let b = 0; b < buckets; b++) router.owner[b] = `i${b % n}`;
  await router.apply();
}

/**
 * For each instance count, the median over `rounds` of one replay of `packets`, all in one switch
 * process; one unmeasured replay first so that every count runs on a warmed-up switch.
 */
export async function switchAlone(c: LocalCluster, packets: readonly CapturedPacket[], counts: readonly number[], rounds: number, buckets = 64): Promise<SwitchAloneFigure[]> {
  const peers: Peer[] = [];
  for (let i = 0; i < Math.max(...counts); i++) {
    peers.push(await connectPeer({ path: c.switchSock }, { secret: c.secret, role: 'mb-data', name: `i${i}` }, silentLogger));
  }
  const count = counter(peers);
  try {
    const run = async (): Promise<{ pps: number; cpuUsPerPacket: number }> => {
      count.reset();
      const cpu0 = cpuSeconds(c.switchPid);
      const start = performance.now();
      await c.replay(packets, { kind: 'asap' });
      await until(() => count.total() >= packets.length, 120_000);
      const secs = (performance.now() - start) / 1000;
      return { pps: packets.length / secs, cpuUsPerPacket: ((cpuSeconds(c.switchPid) - cpu0) * 1e6) / packets.length };
    };
    await routeTo(c, Math.max(...counts), buckets);
    await run();
    const figures: SwitchAloneFigure[] = [];
    for (const n of counts) {
      await routeTo(c, n, buckets);
      const runs: { pps: number; cpuUsPerPacket: number }[] = [];
      for (let r = 0; r < rounds; r++) runs.push(await run());
      const mid = Math.floor(runs.length / 2);
      // Each figure's own median: the two need not come from the same run.
      figures.push({ instances: n, packets: packets.length, pps: Math.round(runs.map((x) => x.pps).sort((a, b) => a - b)[mid]),
        cpuUsPerPacket: Number(runs.map((x) => x.cpuUsPerPacket).sort((a, b) => a - b)[mid].toFixed(3)) });
    }
    return figures;
  } finally {
    for (const p of peers) p.close('benchmark over');
  }
}
