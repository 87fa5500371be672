/**
 * What the validating webhook decides about a MiddleboxPool: its spec.middlebox.config is checked
 * by the middlebox's own validator, with the partitioning the pool's instances would derive from
 * (a NAT's port classes), so that `kubectl apply` of a configuration an instance would refuse
 * fails with the middlebox's message naming the field. Everything else is let through: other
 * resources, deletions, a pool being deleted, and updates that leave the configuration and the
 * partitioning as they were (the operator's own metadata writes among them).
 */
import { DEFAULTS, GROUP, MIDDLEBOX_POOLS, type MiddleboxPool, type PartitionKey } from '../../api/types.js';
import type { Partitioning } from '../../../shims/protocol/descriptor.js';
import type { ConfigVerdict } from '../../runtime/check-config.js';
import type { Admission, AdmissionRequest } from './review.js';

export interface PoolValidator {
  check(type: string, values: Record<string, unknown>, partitioning: Partitioning): Promise<ConfigVerdict>;
  /** The partition key a pool of this middlebox has when its spec names none. */
  partitionKeyOf(type: string): Promise<PartitionKey>;
}

const ALLOW: Admission = { allowed: true };

function samePart(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

export async function admitPool(req: AdmissionRequest, v: PoolValidator): Promise<Admission> {
  if (req.resource.group !== GROUP || req.resource.resource !== MIDDLEBOX_POOLS || req.subResource) return ALLOW;
  if (req.operation !== 'CREATE' && req.operation !== 'UPDATE') return ALLOW;
  const pool = req.object as MiddleboxPool | undefined;
  const spec = pool?.spec;
  if (!spec?.middlebox || pool?.metadata?.deletionTimestamp) return ALLOW;
  const old = req.oldObject as MiddleboxPool | undefined;
  if (req.operation === 'UPDATE' && old?.spec && samePart(old.spec.middlebox, spec.middlebox) && samePart(old.spec.partitioning, spec.partitioning)) return ALLOW;
  const type = spec.middlebox.type;
  const p = spec.partitioning ?? {};
  const partitioning: Partitioning = {
    key: p.key ?? await v.partitionKeyOf(type), buckets: p.buckets ?? DEFAULTS.buckets, ...(p.inside && p.inside.length > 0 ? { inside: p.inside } : {}),
  };
  const verdict = await v.check(type, spec.middlebox.config ?? {}, partitioning);
  if (verdict.valid) return ALLOW;
  // The middlebox names the field under its configuration ("config.rules[1]: ..."); the spec holds that under spec.middlebox.
  return { allowed: false, code: 422, reason: 'Invalid', message: `spec.middlebox.${verdict.message}` };
}
