/**
 * Northbound operations over southbound sessions: move, clone and merge of state by filter, with
 * the guarantees of DESIGN §6, each step recorded in a journal before it runs so that a controller
 * that takes over after a crash resumes or rolls back the operation (resume(); docs/moves.md).
 *
 *   none              copy, re-route, delete at the source. Updates made at the source between its
 *                     get and its delete are lost.
 *   loss-free         the switch holds every packet of the moved flows (a leased hold); once the
 *   order-preserving  source has received everything sent to it before, its state is copied, and
 *                     the route change and the release of the held packets to the destination are
 *                     one step at the switch, so every packet is processed once, in the switch's
 *                     order, and none waits in the controller. The two guarantees are met alike. A
 *                     move of many flows does this part by part (parts.ts), so a packet waits for
 *                     one part's copy only.
 *
 * State is copied `direct` (the source puts it straight into the destination's peer listener)
 * or `brokered` (through the controller, as the source's binary batches, never parsed here).
 * A merge copies and then deletes at the source, so a merge resumed or planned again finds
 * nothing left to add twice; puts carry the operation's id, so a chunk put again is skipped.
 */
import { randomBytes } from 'node:crypto';
import type { FlowFilter } from '../../shims/flow/filter.js';
import type { Scope } from '../../shims/protocol/messages.js';
import type { StateBatch } from '../../shims/protocol/state-frames.js';
import type { MbSession, TransferProgress } from './session.js';
import { partFilter, partHoldId } from './parts.js';

export const GUARANTEES = ['none', 'loss-free', 'order-preserving'] as const;
export type Guarantee = (typeof GUARANTEES)[number];

/**
 * How state travels: `direct` streams it from the source instance to the destination's peer
 * listener, so no state byte passes through the controller; `brokered` passes it through the
 * controller (for instances that cannot reach each other, and for comparison).
 */
export const TRANSFERS = ['direct', 'brokered'] as const;
export type Transfer = (typeof TRANSFERS)[number];

export interface Optimizations {
  /** Put each batch of state as it arrives from the source, rather than after the whole get. */
  parallelPuts: boolean;
}

export const ALL_OPTIMIZATIONS: Optimizations = { parallelPuts: true };
export const NO_OPTIMIZATIONS: Optimizations = { parallelPuts: false };
/** How long a move waits, once the switch holds its flows, for the source to receive what was sent to it before. */
const DRAIN_DEADLINE_MS = 30_000;
/**
 * A move's hold at the switch lapses this long after the controller last renewed it (every
 * third of it): long enough for a standby to take over, short enough that flows do not wait
 * for a controller that is gone.
 */
export const HOLD_LEASE_MS = 30_000;

export type OperationKind = 'move' | 'clone' | 'merge';
export type Phase = 'Pending' | 'Running' | 'Succeeded' | 'Failed';
/** The journal's steps, in order (see the crash table in docs/moves.md). */
export const STEPS = ['hold', 'copy', 'route', 'delete'] as const;
export type Step = (typeof STEPS)[number];

/** Milliseconds since the epoch of each step, for the timeline. */
export interface Timeline {
  start: number;
  getStart?: number;
  getEnd?: number;
  putStart?: number;
  putEnd?: number;
  route?: number;
  releaseStart?: number;
  releaseEnd?: number;
  drained?: number;
  /** The source's copy of the moved state starts being deleted (the move's last step). */
  deleteStart?: number;
  end?: number;
}

export interface OperationStatus {
  /** Unique across controllers and restarts: it names the switch's hold and the destination's puts. */
  id: string;
  kind: OperationKind;
  guarantee: Guarantee;
  from: string[];
  to: string;
  filter: FlowFilter;
  scopes: Scope[];
  phase: Phase;
  /** How the state travelled (set as the copy starts). */
  transfer?: Transfer;
  /** The step under way (recorded before it runs). */
  step?: Step;
  /**
   * A held move of many flows goes in `parts` (see moveParts), each held and released on its
   * own; `part` is the one under way (from 0). Absent: one part.
   */
  parts?: number;
  part?: number;
  /** The switch table's version the route change installed. */
  routeVersion?: number;
  /** Set when this operation was taken over from a controller that stopped mid-way. */
  resumed?: boolean;
  flows: number;
  bytes: number;
  /** Packets the switch held for the moved flows, and released to the destination. */
  eventsHeld: number;
  eventsReleased: number;
  /** Packets that came while the switch's hold was full (see the switch's MAX_HELD): lost. */
  eventsDropped: number;
  timeline: Timeline;
  /** Flows whose state was lost (the source died before it was copied). */
  lostFlows?: number;
  error?: string;
}

/** How the hold of an operation stands at the switch. */
export type HoldState = { state: 'held' } | { state: 'released' | 'lapsed'; version: number } | { state: 'unknown' };

/** How an operation changes routing; each call resolves once the change is in effect at every switch. */
export interface Routing {
  route(filter: FlowFilter, instance: string): Promise<void>;
  /** Packets the switches have forwarded to an instance so far. */
  forwardedTo(instance: string): Promise<number>;
  /** Holds (or renews the hold); resolves with the packets held so far. */
  hold(holdId: string, filter: FlowFilter, o: { leaseMs?: number; renew?: boolean }): Promise<number>;
  /** Re-routes and ends the hold in one step; rejects, changing nothing, when the hold lapsed. */
  routeAndRelease(filter: FlowFilter, instance: string, holdId: string): Promise<{ count: number; version: number; dropped: number }>;
  /** Ends the hold with no route change. */
  release(holdId: string): Promise<number>;
  holdState(holdId: string): Promise<HoldState>;
}

export class OperationError extends Error {}

let counter = 0;
/** Operation ids of this process: numbered, with a random part so another controller's never collide. */
const PROCESS_TAG = randomBytes(3).toString('hex');

/** A new operation's status, Pending, numbered after every earlier operation of this process. */
export function newOperationStatus(kind: OperationKind, from: string[], to: string, filter: FlowFilter, scopes: Scope[], guarantee: Guarantee): OperationStatus {
  return {
    id: `${kind}-${++counter}.${PROCESS_TAG}`, kind, guarantee, from, to, filter, scopes,
    phase: 'Pending', flows: 0, bytes: 0, eventsHeld: 0, eventsReleased: 0, eventsDropped: 0, timeline: { start: Date.now() },
  };
}

/** Records a step durably before it runs (a StateOperation's status); resolves once recorded. */
export type Journal = (s: OperationStatus) => Promise<void>;

export interface OperationContext {
  sources: MbSession[];
  to: MbSession;
  routing: Routing | null;
  optimizations: Optimizations;
  /** Default direct; brokered where the destination has no peer listener. */
  transfer?: Transfer;
  onProgress?: (s: OperationStatus) => void;
  journal?: Journal;
  leaseMs?: number;
}

/** One running operation. */
export class Operation {
  private readonly onProgress: (s: OperationStatus) => void;
  private renewal: NodeJS.Timeout | null = null;
  /** Why renewing the hold failed, once it has: the move must not route its flows away. */
  private renewFailure: Error | null = null;

  constructor(readonly status: OperationStatus, private readonly c: OperationContext) {
    this.onProgress = c.onProgress ?? (() => {});
  }

  get to(): MbSession {
    return this.c.to;
  }

  get sources(): readonly MbSession[] {
    return this.c.sources;
  }

  private get leaseMs(): number {
    return this.c.leaseMs ?? HOLD_LEASE_MS;
  }

  private progress(patch: Partial<OperationStatus> = {}): void {
    Object.assign(this.status, patch);
    this.onProgress(this.status);
  }

  /** Records the step in the journal, then lets it run. */
  private async enter(step: Step): Promise<void> {
    this.status.step = step;
    await this.c.journal?.(this.status);
    this.progress();
  }

  /** What the step under way works on: the part of the move's filter under way (all of it, unless split). */
  private get filter(): FlowFilter {
    return partFilter(this.status);
  }

  /** Whether state goes straight from source to destination: asked for, and the destination listens for peers. */
  private get direct(): boolean {
    return (this.c.transfer ?? 'direct') === 'direct' && this.to.peerAddress !== undefined;
  }

  /** Copies `scopes` matching the filter from one source to the destination; puts name this operation. */
  private async copy(src: MbSession): Promise<void> {
    const t = this.status.timeline;
    t.getStart ??= Date.now();
    this.status.transfer = this.direct ? 'direct' : 'brokered';
    for (const scope of this.status.scopes) {
      if (this.direct) await this.transferScope(src, scope);
      else await this.brokerScope(src, scope);
    }
    t.getEnd ??= Date.now();
    t.putEnd = Date.now();
  }

  /** The source puts straight into the destination; the controller only follows the acks. */
  private async transferScope(src: MbSession, scope: Scope): Promise<void> {
    const t = this.status.timeline;
    const seen = { count: 0, bytes: 0 };
    const account = (p: TransferProgress) => {
      t.putStart ??= Date.now();
      if (scope === 'per-flow') this.status.flows += p.count - seen.count;
      this.status.bytes += p.bytes - seen.bytes;
      seen.count = p.count;
      seen.bytes = p.bytes;
      this.progress();
    };
    account(await src.transfer(scope, this.filter, this.status.id, this.to, account));
  }

  /** State passes through the controller, batch by batch, as the source encoded it (never parsed here). */
  private async brokerScope(src: MbSession, scope: Scope): Promise<void> {
    const t = this.status.timeline;
    const collected: StateBatch[] = [];
    const puts: Promise<unknown>[] = [];
    const put = (batch: StateBatch) => {
      t.putStart ??= Date.now();
      const p = this.to.putBatch(batch, this.status.id).then(() => {
        this.status.flows += scope === 'per-flow' ? batch.count : 0;
        this.progress();
      });
      puts.push(p);
      return p;
    };
    await src.getBatches(scope, this.filter, (batch) => {
      this.status.bytes += batch.body.length;
      if (this.c.optimizations.parallelPuts) void put(batch).catch(() => {});
      else collected.push(batch);
    });
    t.getEnd = Date.now();
    for (const batch of collected) await put(batch);
    await Promise.all(puts);
  }

  private routing(): Routing {
    if (!this.c.routing) throw new OperationError('a move needs routing');
    return this.c.routing;
  }

  /** Renews the hold every third of its lease until stopped; a failed renewal is kept for the route step. */
  private keepHolding(): void {
    const routing = this.routing();
    this.renewal = setInterval(() => {
      routing.hold(partHoldId(this.status), this.filter, { leaseMs: this.leaseMs, renew: true })
        .then((held) => { this.status.eventsHeld = this.status.eventsReleased + this.status.eventsDropped + held; }, (e: Error) => { this.renewFailure ??= e; });
    }, Math.max(5, Math.floor(this.leaseMs / 3)));
    // Renewing is no reason for a process to stay up.
    this.renewal.unref();
  }

  private stopHolding(): void {
    if (this.renewal) clearInterval(this.renewal);
    this.renewal = null;
  }

  /** Waits until the source has received every packet the switch sent it (after the hold, no more of the moved flows come). */
  private async drain(src: MbSession): Promise<void> {
    const sentToSource = await this.routing().forwardedTo(src.instance);
    const deadline = Date.now() + DRAIN_DEADLINE_MS;
    for (;;) {
      const s = await src.stats();
      if (s.packetsReceived >= sentToSource) break;
      if (Date.now() > deadline) {
        throw new Error(`source ${src.instance} received ${s.packetsReceived} of the ${sentToSource} packets the switch sent it within ${DRAIN_DEADLINE_MS} ms of the hold`);
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    this.status.timeline.drained = Date.now();
  }

  private async routeAndRelease(): Promise<void> {
    if (this.renewFailure) throw new Error(`the switch's hold was lost: ${this.renewFailure.message}`);
    const t = this.status.timeline;
    t.releaseStart = Date.now();
    const r = await this.routing().routeAndRelease(this.filter, this.to.instance, partHoldId(this.status));
    this.stopHolding();
    t.route = t.releaseEnd = Date.now();
    const released = this.status.eventsReleased + r.count;
    const dropped = this.status.eventsDropped + r.dropped;
    this.progress({ routeVersion: r.version, eventsHeld: released + dropped, eventsReleased: released, eventsDropped: dropped });
  }

  private async deleteAtSource(src: MbSession): Promise<void> {
    this.status.timeline.deleteStart = Date.now();
    for (const scope of this.status.scopes) await src.del(scope, this.filter);
  }

  /**
   * The move from `src`, part by part (the journal's part and step onwards, when resumed): each
   * part is held, copied, routed with its release, and deleted at the source before the next.
   */
  private async moveFrom(step: Step, src: MbSession): Promise<void> {
    const start = this.status.part ?? 0;
    for (let p = start; p < (this.status.parts ?? 1); p++) {
      if (this.status.parts !== undefined) this.status.part = p;
      this.renewFailure = null;
      await this.movePart(p === start ? step : 'hold', src);
    }
  }

  private async movePart(step: Step, src: MbSession): Promise<void> {
    const held = this.status.guarantee !== 'none';
    const at = STEPS.indexOf(step);
    if (at <= STEPS.indexOf('copy')) {
      if (held) {
        if (at === 0) await this.enter('hold');
        await this.routing().hold(partHoldId(this.status), this.filter, { leaseMs: this.leaseMs, renew: at > 0 });
        this.keepHolding();
        await this.drain(src);
      }
      await this.enter('copy');
      await this.copy(src);
    }
    if (at <= STEPS.indexOf('route')) {
      await this.enter('route');
      if (held) {
        await this.routeAndRelease();
      } else {
        await this.routing().route(this.filter, this.to.instance);
        this.status.timeline.route = Date.now();
      }
    }
    await this.enter('delete');
    await this.deleteAtSource(src);
  }

  private async copyFrom(step: Step): Promise<void> {
    if (STEPS.indexOf(step) <= STEPS.indexOf('copy')) {
      await this.enter('copy');
      for (const src of this.c.sources) await this.copy(src);
    }
    if (this.status.kind === 'merge') {
      await this.enter('delete');
      for (const src of this.c.sources) await this.deleteAtSource(src);
    }
  }

  /**
   * Runs the operation to its end from `step` (the first, or where a journal says another
   * controller stopped); never throws: a failure ends in phase Failed with the cause, after
   * `onFailure` put things back.
   */
  async run(onFailure: (op: Operation, err: Error) => Promise<void>, step: Step = 'hold'): Promise<OperationStatus> {
    this.progress({ phase: 'Running' });
    try {
      if (this.status.kind === 'move') await this.moveFrom(step, this.c.sources[0]);
      else await this.copyFrom(step);
      this.status.timeline.end = Date.now();
      this.progress({ phase: 'Succeeded' });
    } catch (e) {
      this.stopHolding();
      this.status.timeline.end = Date.now();
      this.status.error = (e as Error).message;
      await onFailure(this, e as Error).catch((e2: Error) => { this.status.error += `; recovery: ${e2.message}`; });
      this.progress({ phase: 'Failed' });
    }
    return this.status;
  }
}
