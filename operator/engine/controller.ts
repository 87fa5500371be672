/**
 * The MB controller: runs northbound operations over the live southbound sessions, hands each
 * source's events to the operation that holds them, and recovers when a party dies mid-way.
 */
import type { FlowFilter } from '../../shims/flow/filter.js';
import type { Scope } from '../../shims/protocol/messages.js';
import type { Logger } from '../../shims/log/logger.js';
import type { PoolSessions } from './pool-sessions.js';
import { type Guarantee, newOperationStatus, Operation, type OperationStatus, type Optimizations, ALL_OPTIMIZATIONS, type Routing } from './operation.js';
import type { MbSession, ReprocessEvent } from './session.js';

export interface OperationOptions {
  guarantee?: Guarantee;
  optimizations?: Optimizations;
  onProgress?: (s: OperationStatus) => void;
  /** Packets the operation holds at most (default MAX_HELD); past it they are dropped and counted. */
  maxHeld?: number;
}

/** Finished operations kept for the timeline and reports: the latest ones, so a long-lived controller does not grow. */
export const MAX_FINISHED = 1000;

export class MbController {
  private readonly running = new Set<Operation>();
  readonly finished: OperationStatus[] = [];
  /** Events no running operation wanted (should stay 0; counted so a report can show it). */
  orphanEvents = 0;

  constructor(readonly sessions: PoolSessions, readonly routing: Routing, private readonly log: Logger) {
    for (const s of sessions.instances.values()) this.watch(s);
    sessions.on('mb', (s) => this.watch(s));
  }

  private watch(s: MbSession): void {
    s.on('reprocess', (ev) => this.dispatch(s, ev));
  }

  private dispatch(s: MbSession, ev: ReprocessEvent): void {
    for (const op of this.running) {
      if (op.wants(s.instance, ev)) {
        op.onEvent(ev);
        return;
      }
    }
    this.orphanEvents++;
    this.log.warn({ instance: s.instance, flow: ev.flowKey }, 'event with no operation to take it');
  }

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

  private async execute(op: Operation, sources: MbSession[], routing: Routing | null): Promise<OperationStatus> {
    this.running.add(op);
    try {
      return await op.run(sources, routing, (o, err) => this.recover(o, err, sources));
    } finally {
      this.running.delete(op);
      this.keepFinished(op.status);
    }
  }

  async move(src: string, dst: string, filter: FlowFilter, scopes: Scope[], o: OperationOptions = {}): Promise<OperationStatus> {
    await this.session(src).stats(); // so a failure can say how many flows the source held
    const op = new Operation('move', [this.session(src)], this.session(dst), filter, scopes, o.guarantee ?? 'loss-free', o.optimizations ?? ALL_OPTIMIZATIONS, this.progressOf(o), o.maxHeld);
    return this.execute(op, [this.session(src)], this.routing);
  }

  clone(src: string, dst: string, filter: FlowFilter, scopes: Scope[], o: OperationOptions = {}): Promise<OperationStatus> {
    const op = new Operation('clone', [this.session(src)], this.session(dst), filter, scopes, 'none', o.optimizations ?? ALL_OPTIMIZATIONS, this.progressOf(o));
    return this.execute(op, [this.session(src)], null);
  }

  merge(srcs: string[], dst: string, filter: FlowFilter, scopes: Scope[], o: OperationOptions = {}): Promise<OperationStatus> {
    const sources = srcs.map((s) => this.session(s));
    const op = new Operation('merge', sources, this.session(dst), filter, scopes, 'none', o.optimizations ?? ALL_OPTIMIZATIONS, this.progressOf(o));
    return this.execute(op, sources, null);
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
   * Destination died: traffic goes back to the source, which still has all its state (nothing is
   * deleted before success), and gets back the packets held for it. Source died: its flows'
   * state is gone; traffic goes to the destination, and the flows not copied are counted lost.
   */
  private async recover(op: Operation, err: Error, sources: MbSession[]): Promise<void> {
    const src = sources[0];
    const status = op.status;
    this.log.warn({ op: status.id, err: err.message }, 'operation failed; recovering');
    if (op.to.closed && !src.closed) {
      if (status.kind === 'move') {
        await this.routing.route(status.filter, src.instance);
        const held = op.takeHeld();
        if (held.length > 0) await src.process(held);
        await src.disableEvents(status.filter);
      }
      status.error = `destination ${op.to.instance} failed: ${err.message}`;
    } else if (src.closed) {
      if (status.kind === 'move' && !op.to.closed) {
        await this.routing.route(status.filter, op.to.instance);
        const held = op.takeHeld();
        if (held.length > 0) await op.to.process(held);
      }
      status.lostFlows = Math.max(0, (src.lastEntries ?? 0) - status.flows);
      status.error = `source ${src.instance} failed: ${err.message}`;
    }
  }
}
