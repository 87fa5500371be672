/**
 * Taking over a StateOperation that a stopped operator left Running: the engine resumes or rolls
 * it back from the journal in its status (MbController.resume, docs/moves.md), its progress and
 * outcome are written as for any operation, and a move that went through changes the placement.
 */
import type { MiddleboxPool, StateOperation } from '../api/types.js';
import type { MbController, OperationOptions } from '../engine/controller.js';
import type { OperationStatus } from '../engine/operation.js';
import type { Placement } from '../placement/plan.js';
import type { Logger } from '../../shims/log/logger.js';
import type { KubeClient } from './client.js';
import { OperationTracker } from './operations.js';
import { journaledOperation } from './status.js';

/** Whether a StateOperation can be taken over: Running, with a journal. */
export function resumable(op: StateOperation): boolean {
  return op.status?.phase === 'Running' && op.status.journal !== undefined;
}

/** Resumes (or rolls back) the operation, run as the pool's spec.migration says (`how`), and records how it ended. */
export async function takeOver(client: KubeClient, log: Logger, pool: MiddleboxPool, op: StateOperation, controller: MbController,
  how: Pick<OperationOptions, 'optimizations' | 'transfer'>): Promise<OperationStatus> {
  const status = op.status!;
  const tracker = new OperationTracker(client, log, pool, op, status.progress?.flowsTotal ?? 0);
  await tracker.resumed(status.journal!.step);
  const s = await controller.resume(journaledOperation(status.journal!, status), { journal: tracker.journal, onProgress: (x) => tracker.progress(x), ...how });
  tracker.progress(s);
  await tracker.finish(s.phase === 'Succeeded' ? 'Succeeded' : 'Failed', s.error);
  return s;
}

/** The placement after a resumed move of whole buckets went through: they are its destination's. */
export function placementAfter(placement: Placement, s: OperationStatus, partitioning: { key: string; buckets: number }): Placement {
  const b = s.filter.buckets;
  if (s.phase !== 'Succeeded' || s.kind !== 'move' || !b || b.key !== partitioning.key || b.of !== partitioning.buckets) return placement;
  const ids = new Set(b.ids);
  return {
    ...placement,
    instances: placement.instances.includes(s.to) ? placement.instances : [...placement.instances, s.to],
    owner: placement.owner.map((o, i) => (ids.has(i) ? s.to : o)),
  };
}
