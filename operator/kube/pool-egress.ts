/**
 * A pool's egress as the operator keeps it: on every status write it points the pool's switch at
 * spec.egress (a no-op at the switch when unchanged, and a switch that was replaced gets it
 * again), reads the switch's link counters into status.egress, sets the EgressReachable
 * condition, and names the Events to record when the receiver becomes unreachable, is reached
 * again, or packets could not be delivered.
 */
import type { EgressStatus, MiddleboxPool, MiddleboxPoolStatus } from '../api/types.js';
import type { EgressLinkStats } from '../../shims/protocol/messages.js';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SwitchSession } from '../routing/switch-session.js';
import { rfc3339, setCondition, shownLoad } from './status.js';

export const EGRESS_CONDITION = 'EgressReachable';

/** What the switch says of its egress link; null when the pool has no egress or no switch answers. */
export async function syncEgress(switches: SwitchSession[], pool: MiddleboxPool): Promise<{ link: EgressLinkStats | null; error?: string }> {
  const address = pool.spec.egress?.address ?? null;
  const [sw] = switches;
  if (!sw) return { link: null, ...(address ? { error: 'the pool\'s switch is not connected' } : {}) };
  try {
    await sw.setEgress(address);
    return { link: address ? (await sw.stats()).egressLink ?? null : null };
  } catch (e) {
    return { link: null, error: `the switch did not take spec.egress: ${(e as Error).message}` };
  }
}

const total = (u: EgressLinkStats['undeliverable'] | EgressStatus['undeliverable']) => (u?.queueFull ?? 0) + (u?.egressRemoved ?? 0);

/**
 * `status` with the egress counters and condition added (when the pool has an egress). Packet
 * counts that merely grew by less than a tenth keep the figure shown (so a pool under steady
 * traffic is not rewritten on every resync); undeliverable counts are always exact.
 */
export function withEgress(status: MiddleboxPoolStatus, pool: MiddleboxPool, read: { link: EgressLinkStats | null; error?: string },
  previous: MiddleboxPoolStatus | undefined, now: Date): MiddleboxPoolStatus {
  const address = pool.spec.egress?.address;
  if (!address) return status;
  const l = read.link;
  const shown = previous?.egress?.address === address ? previous.egress : undefined;
  const egress: EgressStatus = l
    ? {
      address, connected: l.connected,
      sent: shownLoad(shown?.sent, l.sent), delivered: shownLoad(shown?.delivered, l.delivered), queued: shownLoad(shown?.queued, l.queued + l.inFlight),
      undeliverable: { ...l.undeliverable }, ...(l.lastError ? { lastError: l.lastError } : {}), since: rfc3339(l.sinceMs),
    }
    : { ...shown, address, connected: false, lastError: read.error ?? 'the switch reports no egress link' };
  const gen = status.observedGeneration;
  const lost = total(egress.undeliverable);
  const c = egress.connected
    ? { status: 'True' as const, reason: 'Connected', message: `the switch delivers emitted packets to ${address}${lost > 0 ? `; ${lost} were undeliverable earlier` : ''}` }
    : { status: 'False' as const, reason: 'Unreachable', message: `${address} cannot be reached: ${egress.lastError}; ${l ? l.queued + l.inFlight : 0} packets wait for it, ${lost} were undeliverable` };
  const condition = setCondition(previous?.conditions, { type: EGRESS_CONDITION, ...c, ...(gen !== undefined ? { observedGeneration: gen } : {}) }, now);
  return { ...status, egress, conditions: [...(status.conditions ?? []), condition] };
}

export interface EgressEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

/** The Events a change of status from `previous` to `next` calls for. */
export function egressEvents(previous: MiddleboxPoolStatus | undefined, next: MiddleboxPoolStatus): EgressEvent[] {
  const was = previous?.conditions?.find((c) => c.type === EGRESS_CONDITION);
  const is = next.conditions?.find((c) => c.type === EGRESS_CONDITION);
  const out: EgressEvent[] = [];
  if (is && is.status !== was?.status) {
    if (is.status === 'False') out.push({ type: 'Warning', reason: 'EgressUnreachable', message: is.message });
    else if (was) out.push({ type: 'Normal', reason: 'EgressReachable', message: is.message });
  }
  const before = previous?.egress?.address === next.egress?.address ? total(previous?.egress?.undeliverable) : 0;
  const after = total(next.egress?.undeliverable);
  if (after > before) {
    out.push({ type: 'Warning', reason: 'EgressPacketsUndeliverable', message: `${after - before} emitted packets could not be delivered to ${next.egress?.address} (${JSON.stringify(next.egress?.undeliverable)} in all)` });
  }
  return out;
}

/**
 * The egress link's counters once what the instances emitted has left the switch: nothing queued
 * or unacknowledged, and no new emitted packet for 200 ms (or `timeoutMs` passed: then as they
 * are). Null when the switch has no egress.
 */
export async function settledEgress(switches: SwitchSession[], timeoutMs = 10_000): Promise<EgressLinkStats | null> {
  const [sw] = switches;
  if (!sw) return null;
  const deadline = Date.now() + timeoutMs;
  let last = -1;
  for (;;) {
    const s = await sw.stats();
    const l = s.egressLink;
    if (!l) return null;
    const emitted = Object.values(s.egress).reduce((a, b) => a + b, 0);
    if ((l.queued + l.inFlight === 0 && emitted === last) || Date.now() > deadline) return l;
    last = l.queued + l.inFlight === 0 ? emitted : -1;
    await sleep(200);
  }
}
