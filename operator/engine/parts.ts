/**
 * A held move in parts: the move's buckets cut into runs, each held, copied, routed with its
 * release and deleted at the source before the next, so a packet of the moved flows waits at the
 * switch for one part's copy, not the whole move's. Pure: the journal's part and the move's
 * filter say everything.
 */
import type { FlowFilter } from '../../shims/flow/filter.js';
import type { Scope } from '../../shims/protocol/messages.js';
import type { OperationStatus } from './operation.js';

/** A held move is split into parts of about this many flows. */
export const FLOWS_PER_PART = 4000;

/**
 * How many parts a held move of `flows` flows (an estimate) goes in: one per FLOWS_PER_PART, at
 * most one per bucket. A filter that is not a bucket set, or state that does not split by bucket
 * (all-flows state, or multi-flow state under another key than host), goes in one.
 */
export function moveParts(filter: FlowFilter, scopes: readonly Scope[], flows: number): number {
  const b = filter.buckets;
  if (!b || b.ids.length < 2) return 1;
  if (scopes.some((s) => s === 'all-flows' || (s === 'multi-flow' && b.key !== 'host'))) return 1;
  return Math.max(1, Math.min(b.ids.length, Math.ceil(flows / FLOWS_PER_PART)));
}

/** The filter of the part under way: the move's buckets cut into `parts` runs of about equal size. */
export function partFilter(s: Pick<OperationStatus, 'filter' | 'parts' | 'part'>): FlowFilter {
  return partsFilter(s, (s.part ?? 0) + 1);
}

/** The filter of the part under way and those after it: what a source that died leaves unmoved. */
export function unmovedFilter(s: Pick<OperationStatus, 'filter' | 'parts' | 'part'>): FlowFilter {
  return partsFilter(s, s.parts ?? 1);
}

function partsFilter(s: Pick<OperationStatus, 'filter' | 'parts' | 'part'>, until: number): FlowFilter {
  const parts = s.parts ?? 1;
  const b = s.filter.buckets;
  if (parts <= 1 || !b) return s.filter;
  const n = b.ids.length;
  return { ...s.filter, buckets: { ...b, ids: b.ids.slice(Math.floor(((s.part ?? 0) * n) / parts), Math.floor((until * n) / parts)) } };
}

/** The switch's hold of the part under way. */
export function partHoldId(s: Pick<OperationStatus, 'id' | 'parts' | 'part'>): string {
  return (s.parts ?? 1) > 1 ? `${s.id}/${s.part ?? 0}` : s.id;
}
