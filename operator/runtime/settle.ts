/** Waiting until a pool's instances have received every packet its switch forwarded to them. */
import { setTimeout as sleep } from 'node:timers/promises';
import type { MbSession } from '../engine/session.js';
import type { SwitchSession } from '../routing/switch-session.js';

export async function settleInstances(sw: () => SwitchSession | undefined, sessions: () => MbSession[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = sw();
    if (!s) throw new Error('the pool\'s switch is not connected');
    const stats = await s.stats();
    const live = sessions();
    const counters = await Promise.all(live.map((m) => m.stats()));
    if (!live.some((m, i) => counters[i].packetsReceived < (stats.forwarded[m.instance] ?? 0))) return;
    if (Date.now() > deadline) throw new Error(`instances did not receive every forwarded packet within ${timeoutMs} ms`);
    await sleep(10);
  }
}
