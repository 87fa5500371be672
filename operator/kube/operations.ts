/**
 * StateOperation objects as the engine runs them: one tracker per operation writes its status
 * (Running with live progress, at most every `intervalMs`, then Succeeded or Failed with the
 * final numbers) and records Events on the operation and on its pool. Shared by the pool
 * reconciler (its own steps) and the operation reconciler (operations users create).
 */
import { API_VERSION, MIDDLEBOX_POOL, STATE_OPERATION, type MiddleboxPool, type OperationPhase, type StateOperation, type StateOperationStatus } from '../api/types.js';
import type { OperationStatus } from '../engine/operation.js';
import type { Logger } from '../../shims/log/logger.js';
import { apiMessage, type KubeClient } from './client.js';
import { operatorMetrics } from './metrics.js';
import { operationStatus } from './status.js';

export const MANAGED_BY = 'app.kubernetes.io/managed-by';

/** Serializes async work: one holder at a time, in arrival order. */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.catch(() => {});
    return result;
  }
}

export function ownerReference(pool: MiddleboxPool) {
  return { apiVersion: API_VERSION, kind: MIDDLEBOX_POOL.kind, name: pool.metadata.name, uid: pool.metadata.uid!, controller: true, blockOwnerDeletion: true };
}

const describe = (op: Pick<StateOperation, 'spec'>) => `${op.spec.kind} ${op.spec.from.join(',')} → ${op.spec.to}`;

export class OperationTracker {
  private latest: OperationStatus | null = null;
  private phase: OperationPhase = 'Pending';
  private readonly startedAt = Date.now();
  private written: StateOperationStatus | undefined;
  private timer: NodeJS.Timeout | null = null;
  private chain: Promise<void> = Promise.resolve();
  private lastWrite = 0;

  constructor(private readonly client: KubeClient, private readonly log: Logger, private readonly pool: MiddleboxPool,
    readonly op: StateOperation, private readonly flowsTotal: number, private readonly intervalMs = 250) {
    this.written = op.status;
  }

  get name(): string {
    return this.op.metadata.name;
  }

  /** Marks the operation Running and records the start. */
  async begin(): Promise<void> {
    this.phase = 'Running';
    await this.write();
    await this.events('Normal', 'OperationStarted', `${describe(this.op)} started (${this.op.metadata.name})`);
  }

  /** Marks an operation another operator left Running as taken over here, at its journal's step. */
  async resumed(step: string): Promise<void> {
    this.phase = 'Running';
    await this.events('Normal', 'OperationResumed', `${describe(this.op)} taken over at step ${step} from an operator that stopped (${this.op.metadata.name})`);
  }

  /** The engine's progress callback: writes are coalesced to one per interval. */
  progress(s: OperationStatus): void {
    this.latest = s;
    if (this.timer || this.phase !== 'Running') return;
    const wait = Math.max(0, this.lastWrite + this.intervalMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.write();
    }, wait);
  }

  /**
   * The engine's journal: the step about to run is written now, before it runs (not coalesced);
   * rejects when the API server did not take it, and the step does not run.
   */
  readonly journal = async (s: OperationStatus): Promise<void> => {
    this.latest = s;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const err = await this.write();
    if (err) throw new Error(`could not record step ${s.step} of ${this.op.metadata.name}: ${apiMessage(err)}`);
  };

  /** Writes the final status and records the outcome. */
  async finish(phase: 'Succeeded' | 'Failed', message?: string): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.phase = phase;
    await this.write(message);
    const s = this.latest;
    operatorMetrics.operationFinished({
      pool: `${this.pool.metadata.namespace}/${this.pool.metadata.name}`, kind: this.op.spec.kind, result: phase, from: this.op.spec.from, to: this.op.spec.to,
      seconds: ((s?.timeline.end ?? Date.now()) - (s?.timeline.start ?? this.startedAt)) / 1000, eventsHeld: s?.eventsHeld ?? 0, eventsReleased: s?.eventsReleased ?? 0,
      eventsDropped: s?.eventsDropped ?? 0,
    });
    const what = `${describe(this.op)} ${phase === 'Succeeded' ? 'succeeded' : 'failed'} (${this.op.metadata.name})`;
    const dropped = s?.eventsDropped ? `, ${s.eventsDropped} dropped (the move held its maximum)` : '';
    const numbers = s ? `: ${s.flows} flows, ${s.bytes} bytes, ${s.eventsHeld} events held, ${s.eventsReleased} released${dropped}` : '';
    await this.events(phase === 'Succeeded' ? 'Normal' : 'Warning', phase === 'Succeeded' ? 'OperationSucceeded' : 'OperationFailed',
      `${what}${numbers}${message && phase === 'Failed' ? `: ${message}` : ''}`);
  }

  /** The engine status this tracker last saw. */
  get status(): OperationStatus | null {
    return this.latest;
  }

  /** Resolves with the error when the write failed (logged). */
  private write(message?: string): Promise<unknown> {
    const done = this.chain.then(async () => {
      const status = operationStatus(this.latest, {
        phase: this.phase, startedAt: this.latest?.timeline.start ?? this.startedAt, flowsTotal: this.flowsTotal,
        generation: this.op.metadata.generation ?? 1, message, previous: this.written, now: new Date(),
      });
      this.lastWrite = Date.now();
      try {
        await this.client.applyOperationStatus(this.op.metadata.namespace!, this.op.metadata.name, status);
        this.written = status;
        return null;
      } catch (e) {
        this.log.warn({ op: this.op.metadata.name, err: apiMessage(e) }, 'could not write operation status');
        return e;
      }
    });
    this.chain = done.then(() => {});
    return done;
  }

  private async events(type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    for (const obj of [{ kind: STATE_OPERATION.kind, metadata: this.op.metadata }, { kind: MIDDLEBOX_POOL.kind, metadata: this.pool.metadata }]) {
      await this.client.event(obj, { type, reason, message }).catch((e: unknown) => this.log.warn({ err: apiMessage(e) }, 'could not record event'));
    }
  }
}
