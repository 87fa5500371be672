/**
 * Waiting until a pool's instances have received every packet its switch forwarded to them: the
 * one settle loop, for a process runtime's LocalCluster (openmb local, the tests) and for the
 * operator's engines (both runtimes) before a step that must see every packet.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { MbSession } from '../engine/session.js';
import type { SwitchSession } from '../routing/switch-session.js';
import type { MbCounters, SwitchStats } from '../../shims/protocol/messages.js';

/** What the switch and the live instances said when the wait ended. */
export interface SettleReading {
  stats: SwitchStats;
  sessions: MbSession[];
  counters: MbCounters[];
  /** False when the deadline came first (only with onDeadline: 'return'). */
  settled: boolean;
}

export interface SettleOptions {
  timeoutMs: number;
  /** Also wait for this (e.g. a sink to have every packet the instances emitted). */
  until?: (r: Omit<SettleReading, 'settled'>) => boolean;
  /** At the deadline: throw (default), or return the last reading with settled false. */
  onDeadline?: 'throw' | 'return';
}

export async function settleInstances(sw: () => SwitchSession | undefined, sessions: () => MbSession[], o: SettleOptions): Promise<SettleReading> {
  const deadline = Date.now() + o.timeoutMs;
  for (;;) {
    const s = sw();
    if (!s) throw new Error('the pool\'s switch is not connected');
    const stats = await s.stats();
    const live = sessions();
    const counters = await Promise.all(live.map((m) => m.stats()));
    const reading = { stats, sessions: live, counters };
    const received = live.every((m, i) => counters[i].packetsReceived >= (stats.forwarded[m.instance] ?? 0));
    if (received && (o.until?.(reading) ?? true)) return { ...reading, settled: true };
    if (Date.now() > deadline) {
      if (o.onDeadline === 'return') return { ...reading, settled: false };
      throw new Error(`instances did not receive every forwarded packet within ${o.timeoutMs} ms`);
    }
    await sleep(10);
  }
}
