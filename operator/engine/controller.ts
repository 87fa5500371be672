/**
 * The MB controller: runs northbound operations over the live southbound sessions, and recovers
 * when a party dies mid-way.
 */
import type { FlowFilter } from '../../shims/flow/filter.js';
import type { Scope } from '../../shims/protocol/messages.js';
import type { Logger } from '../../shims/log/logger.js';
import type { PoolSessions } from './pool-sessions.js';
import { moveParts, partFilter, partHoldId, unmovedFilter } from './parts.js';
import { type Guarantee, type Journal, newOperationStatus, Operation, type OperationStatus, type Optimizations, ALL_OPTIMIZATIONS, type Transfer, type Routing, type Step } from './operation.js';
import type { MbSession } from './session.js';

export interface OperationOptions {
  guarantee?: Guarantee;
  optimizations?: Optimizations;
  transfer?: Transfer;
  onProgress?: (s: OperationStatus) => void;
  /** Where each step is recorded before it runs (a StateOperation's status), so another controller can resume it. */
  journal?: Journal;
  /** The lease of a move's hold at the switch (default HOLD_LEASE_MS). */
  leaseMs?: number;
  /** How many parts a held move goes in (default: by its flows, see moveParts); 1 holds all its flows for the whole copy. */
  parts?: number;
}

/** Finished operations kept for the timeline and reports: the latest ones, so a long-lived controller does not grow. */
export const MAX_FINISHED = 1000;

export class MbController {
  private readonly running = new Set<Operation>();
  readonly finished: OperationStatus[] = [];

  constructor(readonly sessions: PoolSessions, readonly routing: Routing, private readonly log: Logger) {}

  /** The statuses of the operations running now (the timeline polls them). */
  get runningStatuses(): OperationStatus[] {
    return [...this.running].map((op) => op.status);
  }

  private readonly watchers = new Set<(s: OperationStatus) => void>();

  /** Calls `fn` at every step of every operation this controller runs (a live timeline); returns the unsubscribe. */
  watchOperations(fn: (s: OperationStatus) => void): () => void {
    this.watchers.add(fn);
    return () => this.watchers.delete(fn);
  }

  private progressOf(o: OperationOptions): (s: OperationStatus) => void {
    return (s) => {
      o.onProgress?.(s);
      for (const fn of this.watchers) fn(s);
    };
  }

  session(instance: string): MbSession {
    const s = this.sessions.instances.get(instance);
    if (!s || s.closed) throw new Error(`instance "${instance}" is not connected`);
    return s;
  }

  private async execute(op: Operation, step?: Step): Promise<OperationStatus> {
    this.running.add(op);
    try {
      return await op.run((o, err) => this.recover(o, err), step);
    } finally {
      this.running.delete(op);
      this.keepFinished(op.status);
    }
  }

  private operation(status: OperationStatus, sources: MbSession[], to: MbSession, o: OperationOptions): Operation {
    return new Operation(status, {
      sources, to, routing: status.kind === 'move' ? this.routing : null, optimizations: o.optimizations ?? ALL_OPTIMIZATIONS, transfer: o.transfer,
      onProgress: this.progressOf(o), journal: o.journal, leaseMs: o.leaseMs,
    });
  }

  async move(src: string, dst: string, filter: FlowFilter, scopes: Scope[], o: OperationOptions = {}): Promise<OperationStatus> {
    // So a failure can say how many flows the source held, and the move be cut in parts by them.
    const held = (await this.session(src).stats()).entries['per-flow'];
    const status = newOperationStatus('move', [src], dst, filter, scopes, o.guarantee ?? 'loss-free');
    const share = filter.buckets ? filter.buckets.ids.length / filter.buckets.of : 1;
    const parts = status.guarantee === 'none' ? 1 : o.parts ?? moveParts(filter, scopes, held * share);
    if (parts > 1) Object.assign(status, { parts, part: 0 });
    return this.execute(this.operation(status, [this.session(src)], this.session(dst), o));
  }

  clone(src: string, dst: string, filter: FlowFilter, scopes: Scope[], o: OperationOptions = {}): Promise<OperationStatus> {
    const status = newOperationStatus('clone', [src], dst, filter, scopes, 'none');
    return this.execute(this.operation(status, [this.session(src)], this.session(dst), o));
  }

  merge(srcs: string[], dst: string, filter: FlowFilter, scopes: Scope[], o: OperationOptions = {}): Promise<OperationStatus> {
    const status = newOperationStatus('merge', srcs, dst, filter, scopes, 'none');
    return this.execute(this.operation(status, srcs.map((s) => this.session(s)), this.session(dst), o));
  }

  /**
   * Takes over an operation another controller left Running, from its journal (DESIGN §6's crash
   * table): a move whose hold is still at the switch, or that had not held anything yet, goes
   * on from its step; one whose route change took effect only deletes at the source; one whose
   * hold lapsed (its packets went back to the source) is rolled back: the destination's partial
   * copy is deleted and it ends Failed, for a new plan to redo. Clones and merges go on from
   * their step (their puts are skipped where already taken).
   */
  async resume(journal: OperationStatus, o: OperationOptions = {}): Promise<OperationStatus> {
    const status: OperationStatus = { ...journal, phase: 'Running', resumed: true, timeline: { ...journal.timeline } };
    delete status.error;
    const step = journal.step ?? 'hold';
    const missing = [...journal.from, journal.to].filter((i) => !this.sessions.instances.get(i) || this.sessions.instances.get(i)!.closed);
    if (missing.length > 0) return this.finishResumed(status, o, `could not resume: ${missing.join(', ')} not connected`, () => this.putBack(status));
    const op = this.operation(status, journal.from.map((s) => this.session(s)), this.session(journal.to), o);
    if (status.kind !== 'move' || status.guarantee === 'none' || step === 'hold' || step === 'delete') return this.execute(op, step);
    const hold = await this.routing.holdState(partHoldId(status));
    if (hold.state === 'held') return this.execute(op, step);
    if (hold.state === 'released') return this.execute(op, 'delete');
    const part = status.parts !== undefined ? ` (part ${(status.part ?? 0) + 1} of ${status.parts}; the parts before it moved)` : '';
    return this.finishResumed(status, o, `rolled back${part}: its hold at the switch ${hold.state === 'lapsed' ? 'lapsed' : 'is gone'} while no controller ran it, so its packets went on to ${journal.from[0]}, which keeps the state`,
      () => this.deleteCopy(status));
  }

  /** Ends a resumed operation that could not go on, after `undo`, as Failed with the reason. */
  private async finishResumed(status: OperationStatus, o: OperationOptions, reason: string, undo: () => Promise<void>): Promise<OperationStatus> {
    const notify = this.progressOf(o);
    status.error = reason;
    await undo().catch((e: Error) => { status.error += `; recovery: ${e.message}`; });
    status.timeline.end = Date.now();
    status.phase = 'Failed';
    notify(status);
    this.keepFinished(status);
    this.log.warn({ op: status.id, reason: status.error }, 'resumed operation rolled back');
    return status;
  }

  /** Deletes what the part of a move that did not happen put at its destination (it had none of those flows before). */
  private async deleteCopy(status: OperationStatus): Promise<void> {
    const dst = this.sessions.instances.get(status.to);
    if (status.kind !== 'move' || !dst || dst.closed) return;
    for (const scope of status.scopes) await dst.del(scope, partFilter(status));
  }

  /** A resumed move whose parties are not all there: what a live controller's recover would do. */
  private async putBack(status: OperationStatus): Promise<void> {
    if (status.kind !== 'move' || status.step === 'delete') return;
    const src = this.sessions.instances.get(status.from[0]);
    const dst = this.sessions.instances.get(status.to);
    const hold = status.guarantee === 'none' ? { state: 'unknown' as const } : await this.routing.holdState(partHoldId(status));
    if (hold.state === 'released') return;
    if (src && !src.closed) {
      await this.deleteCopy(status);
      if (hold.state === 'held') await this.routing.release(partHoldId(status));
    } else if (dst && !dst.closed) {
      if (hold.state === 'held') await this.routing.routeAndRelease(partFilter(status), status.to, partHoldId(status));
      await this.routing.route(unmovedFilter(status), status.to);
    }
  }

  /**
   * The source died (a failover): its flows go to `dst` without their state, which died with it.
   * Recorded as a move that carried nothing, with the flows the source held when it last said.
   */
  async failover(src: string, dst: string, filter: FlowFilter, scopes: Scope[], lostFlows: number, o: OperationOptions = {}): Promise<OperationStatus> {
    const status = newOperationStatus('move', [src], dst, filter, scopes, 'none');
    const notify = this.progressOf(o);
    const progress = (patch: Partial<OperationStatus>) => {
      Object.assign(status, patch);
      notify(status);
    };
    progress({ phase: 'Running', lostFlows });
    try {
      this.session(dst);
      await this.routing.route(filter, dst);
      status.timeline.route = Date.now();
      status.timeline.end = Date.now();
      progress({ phase: 'Succeeded' });
    } catch (e) {
      status.timeline.end = Date.now();
      progress({ phase: 'Failed', error: (e as Error).message });
    }
    this.keepFinished(status);
    return status;
  }

  private keepFinished(s: OperationStatus): void {
    this.finished.push(s);
    if (this.finished.length > MAX_FINISHED) this.finished.splice(0, this.finished.length - MAX_FINISHED);
  }

  /**
   * An operation failed before its end. Before the route change: the destination's partial copy
   * is deleted (if it lives) and the hold released, so the held packets go on to the source, which
   * has all its state (nothing is deleted before success); if the source died, its flows go to
   * the destination with the held packets, and those not copied are counted lost. After the route
   * change the destination has everything; only the source's delete is left undone.
   */
  private async recover(op: Operation, err: Error): Promise<void> {
    const status = op.status;
    const src = op.sources[0];
    this.log.warn({ op: status.id, err: err.message }, 'operation failed; recovering');
    const routed = status.kind === 'move' && status.step === 'delete';
    if (status.kind === 'move' && !routed) {
      const srcAlive = !src.closed;
      // A switch that died took its holds with it ('gone': none is connected).
      const hold = status.guarantee === 'none' ? 'none' : await this.routing.holdState(partHoldId(status)).then((h) => h.state, () => 'gone');
      const held = hold === 'held';
      if ((hold === 'gone' || hold === 'unknown') && status.step !== 'hold') {
        status.eventsDropped = Math.max(status.eventsDropped, status.eventsHeld);
        status.error = `the switch lost the move's hold (it died or restarted) with the packets it held, ${status.eventsHeld} at the last renewal: ${err.message}`;
      }
      if (srcAlive) {
        if (!op.to.closed) await this.deleteCopy(status);
        if (held) await this.routing.release(partHoldId(status));
      } else if (!op.to.closed) {
        if (held) await this.routing.routeAndRelease(partFilter(status), op.to.instance, partHoldId(status));
        // The parts not moved yet go to the destination too: their source is gone.
        await this.routing.route(unmovedFilter(status), op.to.instance);
      }
    }
    if (op.to.closed) status.error = `destination ${op.to.instance} failed: ${err.message}`;
    if (status.kind === 'move' && (status.part ?? 0) > 0) status.error += `; the first ${status.part} of its ${status.parts} parts had moved`;
    else if (src.closed) {
      if (status.kind === 'move' && !routed) status.lostFlows = Math.max(0, (src.lastEntries ?? 0) - status.flows);
      status.error = `source ${src.instance} failed: ${err.message}`;
    }
  }
}
