/**
 * Northbound operations over southbound sessions: move, clone and merge of state by filter, with
 * the guarantees of DESIGN §6.
 *
 *   none              get, put, re-route, delete at the source. Updates made at the source
 *                     between its get and its delete are lost.
 *   loss-free         the source turns every packet of the moved flows into an event that this
 *                     operation holds; after every put is acked the flows are re-routed, the held
 *                     packets are processed at the destination, and late events are forwarded
 *                     until the source has seen the last packet the switch sent it.
 *   order-preserving  loss-free, and the destination buffers what the switch sends it until the
 *                     last held packet is in, so each flow is processed in the switch's order.
 *
 * Optimizations, each selectable: parallel puts (put each batch as it arrives), early release
 * (release a flow's held packets once its own put is acked), late locking (lock flows as part
 * of the export instead of a separate request first).
 */
import { compileFilter, type CompiledFilter, type FlowFilter, matchFlowKey } from '../../shims/flow/filter.js';
import { flowId } from '../../shims/flow/key.js';
import type { Chunk, Scope } from '../../shims/protocol/messages.js';
import type { WirePacket } from '../../shims/protocol/packets.js';
import type { MbSession, ReprocessEvent } from './session.js';

export const GUARANTEES = ['none', 'loss-free', 'order-preserving'] as const;
export type Guarantee = (typeof GUARANTEES)[number];

export interface Optimizations {
  parallelPuts: boolean;
  earlyRelease: boolean;
  lateLocking: boolean;
}

export const ALL_OPTIMIZATIONS: Optimizations = { parallelPuts: true, earlyRelease: true, lateLocking: true };
export const NO_OPTIMIZATIONS: Optimizations = { parallelPuts: false, earlyRelease: false, lateLocking: false };
/** How long a loss-free move waits, after its route change, for the source to receive what the switch sent it. */
const DRAIN_DEADLINE_MS = 30_000;

export type OperationKind = 'move' | 'clone' | 'merge';
export type Phase = 'Pending' | 'Running' | 'Succeeded' | 'Failed';

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
  id: string;
  kind: OperationKind;
  guarantee: Guarantee;
  from: string[];
  to: string;
  filter: FlowFilter;
  scopes: Scope[];
  phase: Phase;
  flows: number;
  bytes: number;
  eventsHeld: number;
  eventsReleased: number;
  /** Events that came while MAX_HELD were held: their packets are lost (see MAX_HELD). */
  eventsDropped: number;
  timeline: Timeline;
  /** Flows whose state was lost (the source died before it was copied). */
  lostFlows?: number;
  error?: string;
}

/** How an operation changes routing; resolves once the change is in effect at every switch. */
export interface Routing {
  route(filter: FlowFilter, instance: string): Promise<void>;
  /** Packets the switches have forwarded to an instance so far. */
  forwardedTo(instance: string): Promise<number>;
}

export class OperationError extends Error {}

let counter = 0;

/** A new operation's status, Pending, numbered after every earlier operation of this process. */
export function newOperationStatus(kind: OperationKind, from: string[], to: string, filter: FlowFilter, scopes: Scope[], guarantee: Guarantee): OperationStatus {
  return {
    id: `${kind}-${++counter}`, kind, guarantee, from, to, filter, scopes,
    phase: 'Pending', flows: 0, bytes: 0, eventsHeld: 0, eventsReleased: 0, eventsDropped: 0, timeline: { start: Date.now() },
  };
}

/**
 * Packets one operation holds at most. Past it an event's packet is dropped and counted
 * (eventsDropped, in the StateOperation's progress): a move whose destination takes longer than
 * this many packets to take its state is better lossy than the controller out of memory.
 */
export const MAX_HELD = 200_000;

function chunkBytes(chunks: Chunk[]): number {
  return Buffer.byteLength(JSON.stringify(chunks));
}

/** One running operation. The controller feeds it the source's events. */
export class Operation {
  readonly status: OperationStatus;
  private readonly compiled: CompiledFilter;
  private held: WirePacket[] = [];
  private readonly heldByFlow = new Map<string, WirePacket[]>();
  private readonly releasedFlows = new Set<string>();
  private forwardAll = false;
  private readonly forwards: Promise<unknown>[] = [];
  private readonly onProgress: (s: OperationStatus) => void;

  constructor(kind: OperationKind, from: MbSession[], readonly to: MbSession, filter: FlowFilter, scopes: Scope[], guarantee: Guarantee,
    private readonly opts: Optimizations, onProgress?: (s: OperationStatus) => void, private readonly maxHeld = MAX_HELD) {
    this.compiled = compileFilter(filter);
    this.onProgress = onProgress ?? (() => {});
    this.status = newOperationStatus(kind, from.map((s) => s.instance), to.instance, filter, scopes, guarantee);
  }

  /** True when this operation holds events of the given source for this packet's flow. */
  wants(source: string, ev: ReprocessEvent): boolean {
    return this.status.phase === 'Running' && this.status.from.includes(source) && ev.flowKey !== null && matchFlowKey(this.compiled, ev.flowKey);
  }

  /** An event from the source: hold it, or pass it on once its flow may be processed at the destination. */
  onEvent(ev: ReprocessEvent): void {
    const id = ev.flowKey ? flowId(ev.flowKey) : '';
    if (this.forwardAll || this.releasedFlows.has(id)) {
      this.status.eventsHeld++;
      this.forward([ev.packet]);
      return;
    }
    if (this.held.length >= this.maxHeld) {
      this.status.eventsDropped++;
      return;
    }
    this.status.eventsHeld++;
    this.held.push(ev.packet);
    if (this.opts.earlyRelease) {
      const list = this.heldByFlow.get(id);
      if (list) list.push(ev.packet);
      else this.heldByFlow.set(id, [ev.packet]);
    }
  }

  private forward(packets: WirePacket[]): void {
    if (packets.length === 0) return;
    this.status.eventsReleased += packets.length;
    this.forwards.push(this.to.process(packets));
  }

  /** Releases the held packets of these flows (their state is at the destination). */
  private releaseFlows(ids: string[]): void {
    const batch: WirePacket[] = [];
    for (const id of ids) {
      this.releasedFlows.add(id);
      const list = this.heldByFlow.get(id);
      if (list) {
        batch.push(...list);
        this.heldByFlow.delete(id);
      }
    }
    if (batch.length === 0) return;
    const released = new Set(batch);
    this.held = this.held.filter((p) => !released.has(p));
    this.forward(batch.sort((a, b) => a.seq - b.seq));
  }

  private progress(patch: Partial<OperationStatus> = {}): void {
    Object.assign(this.status, patch);
    this.onProgress(this.status);
  }

  /** Copies `scopes` matching the filter from one source to the destination. */
  private async copy(src: MbSession, lock: boolean): Promise<void> {
    const t = this.status.timeline;
    t.getStart ??= Date.now();
    for (const scope of this.status.scopes) {
      const collected: Chunk[][] = [];
      const puts: Promise<unknown>[] = [];
      const put = (chunks: Chunk[]) => {
        t.putStart ??= Date.now();
        const p = this.to.put(scope, chunks).then(() => {
          this.status.flows += scope === 'per-flow' ? chunks.length : 0;
          this.progress();
          if (this.opts.earlyRelease && scope === 'per-flow') this.releaseFlows(chunks.map((c) => c.key as string));
        });
        puts.push(p);
        return p;
      };
      await src.get(scope, this.status.filter, (chunks) => {
        this.status.bytes += chunkBytes(chunks);
        if (this.opts.parallelPuts) void put(chunks).catch(() => {});
        else collected.push(chunks);
      }, lock && scope === 'per-flow');
      t.getEnd = Date.now();
      for (const chunks of collected) await put(chunks);
      await Promise.all(puts);
    }
    t.putEnd = Date.now();
  }

  async moveRun(routing: Routing): Promise<void> {
    const src = this.sources[0];
    const lossFree = this.status.guarantee !== 'none';
    const t = this.status.timeline;
    if (lossFree && !this.opts.lateLocking) await src.enableEvents(this.status.filter, 'drop');
    await this.copy(src, lossFree && this.opts.lateLocking);
    if (this.status.guarantee === 'order-preserving') await this.to.enableEvents(this.status.filter, 'buffer');
    await routing.route(this.status.filter, this.to.instance);
    t.route = Date.now();
    this.progress();
    if (lossFree) {
      // Everything the switch sent the source before the change is in its socket; once it has
      // received that many packets, every late event is already in our hands.
      const sentToSource = await routing.forwardedTo(src.instance);
      t.releaseStart = Date.now();
      this.forwardAll = true;
      const rest = this.held.sort((a, b) => a.seq - b.seq);
      this.held = [];
      this.heldByFlow.clear();
      this.forward(rest);
      const deadline = Date.now() + DRAIN_DEADLINE_MS;
      for (;;) {
        const s = await src.stats();
        if (s.packetsReceived >= sentToSource) break;
        if (Date.now() > deadline) {
          throw new Error(`source ${src.instance} received ${s.packetsReceived} of the ${sentToSource} packets the switch sent it within ${DRAIN_DEADLINE_MS} ms of the route change`);
        }
        await new Promise((r) => setTimeout(r, 2));
      }
      t.drained = Date.now();
      await Promise.all(this.forwards);
      t.releaseEnd = Date.now();
      await src.disableEvents(this.status.filter);
      if (this.status.guarantee === 'order-preserving') await this.to.disableEvents(this.status.filter);
    }
    t.deleteStart = Date.now();
    for (const scope of this.status.scopes) await src.del(scope, this.status.filter);
  }

  private sources: MbSession[] = [];

  /** Runs the operation to its end; never throws (a failure ends in phase Failed with the cause). */
  async run(sources: MbSession[], routing: Routing | null, onFailure: (op: Operation, err: Error) => Promise<void>): Promise<OperationStatus> {
    this.sources = sources;
    this.progress({ phase: 'Running' });
    try {
      if (this.status.kind === 'move') {
        if (!routing) throw new OperationError('a move needs routing');
        await this.moveRun(routing);
      } else {
        for (const src of sources) await this.copy(src, false);
      }
      this.status.timeline.end = Date.now();
      this.progress({ phase: 'Succeeded' });
    } catch (e) {
      this.status.timeline.end = Date.now();
      this.status.error = (e as Error).message;
      await onFailure(this, e as Error).catch((e2: Error) => { this.status.error += `; recovery: ${e2.message}`; });
      this.progress({ phase: 'Failed' });
    }
    return this.status;
  }

  /** Packets taken from the source and not yet processed anywhere: they go back on failure. */
  takeHeld(): WirePacket[] {
    const rest = this.held.sort((a, b) => a.seq - b.seq);
    this.held = [];
    this.heldByFlow.clear();
    return rest;
  }
}
