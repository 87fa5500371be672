/**
 * The control applications `openmb local` runs mid-trace besides scaling: a server's migration
 * and a failover. Each runs its operations through the pool's executor, which records every one
 * of them for the report and the timeline as it does a scaling plan's.
 */
import { decode, dstText, srcText } from '../../shims/flow/decode.js';
import type { FlowFilter } from '../../shims/flow/filter.js';
import type { CapturedPacket } from '../../shims/flow/pcap.js';
import type { MbController } from '../../operator/engine/controller.js';
import type { PoolExecutor } from '../../operator/engine/pool.js';
import type { MbSession } from '../../operator/engine/session.js';
import { plan } from '../../operator/placement/plan.js';
import type { BucketRouter } from '../../operator/routing/bucket-router.js';
import type { SwitchSession } from '../../operator/routing/switch-session.js';
import type { Kill } from './losses.js';
import type { ClusterInstances } from '../../operator/runtime/cluster-instances.js';

/** Where a migrated server's flows are at the end of the trace. */
export interface Migration {
  server: string;
  to: string;
  /** Per live instance: its per-flow entries of the server's flows (all at `to` when the pins held). */
  flowsAt: Record<string, number>;
  /** Packets the pins to `to` forwarded since the flow table last changed (the migration's last change, unless the pool scaled after it). */
  pinnedPackets: number;
}

/** The address that receives the most packets on a well-known port: a server worth migrating. */
export function busiestServer(packets: readonly CapturedPacket[]): string | null {
  const counts = new Map<string, number>();
  for (const p of packets) {
    const d = decode(p.data, p.linkType);
    if (!d.hasPorts) continue;
    const ip = d.dport < 1024 ? dstText(p.data, d) : d.sport < 1024 ? srcText(p.data, d) : null;
    if (ip) counts.set(ip, (counts.get(ip) ?? 0) + 1);
  }
  let best: string | null = null;
  for (const [ip, n] of counts) if (!best || n > counts.get(best)!) best = ip;
  return best;
}

const serverFilter = (server: string): FlowFilter => ({ nwDst: server, bidirectional: true });

/** Moves every flow of one server to the last instance and pins it there. */
export async function migrateServer(pool: PoolExecutor, server: string | null): Promise<{ server: string; to: string }> {
  if (!server) throw new Error('no server found in the trace to migrate');
  const instances = pool.placement.instances;
  if (instances.length < 2) throw new Error('server migration needs at least two instances');
  const to = instances[instances.length - 1];
  await pool.migrate(serverFilter(server), to);
  return { server, to };
}

export async function whereMigrated(m: { server: string; to: string }, sessions: MbSession[], sw: SwitchSession): Promise<Migration> {
  const flowsAt: Record<string, number> = {};
  for (const s of sessions) flowsAt[s.instance] = await s.get('per-flow', serverFilter(m.server), () => {});
  const pins = new Set((await sw.rules()).filter((r) => r.id.startsWith('pin-') && r.action.type === 'forward' && r.action.instance === m.to).map((r) => r.id));
  const pinnedPackets = (await sw.stats()).rules.filter((r) => pins.has(r.id)).reduce((n, r) => n + r.packets, 0);
  return { ...m, flowsAt, pinnedPackets };
}

/**
 * Kills the newest instance, as a crash would, right after its last report (added to `kills`);
 * its flows go to a survivor (their state is lost), then the survivors are balanced again by
 * ordinary moves. `rulesAtStart`: the switch's rules when the trace began, to tell whether its
 * routes changed.
 */
export async function killAndFailOver(pool: PoolExecutor, controller: MbController, runtime: ClusterInstances, router: BucketRouter,
  rulesAtStart: string, namePrefix: string, kills: Kill[]): Promise<void> {
  const instances = pool.placement.instances;
  if (instances.length < 2) throw new Error('failover needs at least two instances');
  const instance = instances[instances.length - 1];
  const rules = router.rules();
  const last = await controller.session(instance).stats();
  await runtime.kill(instance);
  kills.push({ instance, last, rules, routesUnchanged: JSON.stringify(rules) === rulesAtStart });
  await pool.failover(instance, last.entries['per-flow']);
  await pool.run(plan({ current: pool.placement, replicas: pool.placement.instances.length, namePrefix }));
}
