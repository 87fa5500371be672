/**
 * The page's model of a timeline: the messages folded into samples, operations (each with how its
 * events grew) and the placement, and what the charts draw from them (packet rates, an
 * operation's window and steps). Pure: no DOM, so it is tested in Node.
 */
import type { OperationStatus } from '../../engine/operation.js';
import type { HelloMessage, PlacementMessage, RunSummary, SampleMessage, TimelineMessage } from '../messages.js';

/** An operation and its events over time (one point per message about it). */
export interface OperationTrack {
  status: OperationStatus;
  points: { t: number; held: number; released: number }[];
}

export interface Model {
  hello: HelloMessage | null;
  samples: SampleMessage[];
  operations: Map<string, OperationTrack>;
  placement: PlacementMessage | null;
  /** Every instance ever seen, in order of appearance (their colours stay put). */
  instances: string[];
  ended: boolean;
  summary: RunSummary | null;
}

export function emptyModel(): Model {
  return { hello: null, samples: [], operations: new Map(), placement: null, instances: [], ended: false, summary: null };
}

function seen(m: Model, names: Iterable<string>): void {
  for (const n of names) if (!m.instances.includes(n)) m.instances.push(n);
}

export function apply(m: Model, msg: TimelineMessage): void {
  switch (msg.type) {
    case 'hello':
      m.hello = msg;
      return;
    case 'sample': {
      const last = m.samples[m.samples.length - 1];
      // Samples are read in order; one that shares a millisecond with the last adds no rate.
      if (last && msg.t <= last.t) return;
      m.samples.push(msg);
      seen(m, Object.keys(msg.processed));
      return;
    }
    case 'placement':
      m.placement = msg;
      seen(m, msg.instances);
      return;
    case 'operation': {
      const track = m.operations.get(msg.op.id) ?? { status: msg.op, points: [] };
      track.status = msg.op;
      track.points.push({ t: msg.t, held: msg.op.eventsHeld, released: msg.op.eventsReleased });
      m.operations.set(msg.op.id, track);
      seen(m, [...msg.op.from, msg.op.to]);
      return;
    }
    case 'end':
      m.ended = true;
      m.summary = msg.summary;
      return;
  }
}

/** Packets per second of each instance at each sample time: over the samples within `windowMs` before it. */
export interface Rates {
  t: number[];
  byInstance: Record<string, (number | null)[]>;
}

/**
 * Rates at every sample whose time is in [from, to]. An instance not connected at either end of
 * a window, or whose count went down (a new process under its name), has no rate there.
 */
export function rates(samples: readonly SampleMessage[], instances: readonly string[], windowMs: number, from = -Infinity, to = Infinity): Rates {
  const out: Rates = { t: [], byInstance: Object.fromEntries(instances.map((n) => [n, []])) };
  let j = 0;
  for (let i = 1; i < samples.length; i++) {
    const b = samples[i];
    if (b.t < from || b.t > to) continue;
    while (j < i - 1 && samples[j + 1].t <= b.t - windowMs) j++;
    const a = samples[j];
    const dt = (b.t - a.t) / 1000;
    out.t.push(b.t);
    for (const n of instances) {
      const pa = a.processed[n];
      const pb = b.processed[n];
      out.byInstance[n].push(pa === undefined || pb === undefined || pb < pa ? null : (pb - pa) / dt);
    }
  }
  return out;
}

/** When the timeline starts: its first sample or operation, whichever is earlier (the hello's time before either). */
export function origin(m: Model): number {
  const starts = [...m.operations.values()].map((o) => o.status.timeline.start);
  const first = Math.min(m.samples[0]?.t ?? Infinity, ...starts);
  return Number.isFinite(first) ? first : (m.hello?.t ?? 0);
}

/** The operation's window: it, and a few seconds either side (at least its own length). */
export function operationWindow(s: OperationStatus, now: number): { from: number; to: number } {
  const end = s.timeline.end ?? now;
  const pad = Math.max(2000, end - s.timeline.start);
  return { from: s.timeline.start - pad, to: end + pad };
}

export type StepName = 'get' | 'put' | 'route' | 'release' | 'delete';

export interface Step {
  name: StepName;
  from: number;
  to: number;
}

/** The steps of an operation that have begun, in the order they run; a route change is an instant. */
export function steps(s: OperationStatus, now: number): Step[] {
  const t = s.timeline;
  const end = t.end ?? now;
  const out: Step[] = [];
  const span = (name: StepName, a: number | undefined, b: number | undefined) => { if (a !== undefined) out.push({ name, from: a, to: b ?? end }); };
  span('get', t.getStart, t.getEnd);
  span('put', t.putStart, t.putEnd);
  if (t.route !== undefined) out.push({ name: 'route', from: t.route, to: t.route });
  span('release', t.releaseStart, t.releaseEnd);
  span('delete', t.deleteStart, t.end);
  return out;
}

/** The hash buckets an operation is for, or null when it is for other flows (a server's, all of them). */
export function bucketsOf(s: OperationStatus): number[] | null {
  return s.filter.buckets ? [...s.filter.buckets.ids] : null;
}

/** Buckets each instance is routed, in the placement's instance order. */
export function bucketCounts(p: PlacementMessage): { instance: string; buckets: number }[] {
  return p.instances.map((instance) => ({ instance, buckets: p.owner.filter((o) => o === instance).length }));
}

/** Buckets that operations running now are moving. */
export function movingBuckets(m: Model): Set<number> {
  const out = new Set<number>();
  for (const { status } of m.operations.values()) {
    if (status.phase === 'Running' && status.kind === 'move') for (const b of bucketsOf(status) ?? []) out.add(b);
  }
  return out;
}

/** A short list of bucket ids: runs of consecutive ids as ranges. */
export function bucketRanges(ids: readonly number[]): string {
  const sorted = [...ids].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(j === i ? `${sorted[i]}` : `${sorted[i]}–${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(', ');
}

export function durationText(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}
