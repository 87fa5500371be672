/**
 * What the operator knows of a middlebox without running it: its type, the partition key its
 * multi-flow state needs, whether its all-flows state is shared knowledge to clone into new
 * instances, its default configuration, and how each output merges across instances. An
 * instance sends it in its hello; `openmb describe --type T` prints it before any instance runs.
 *
 * Configuration derived from the pool's partitioning (a NAT's port class per bucket) is not
 * part of it: every instance is started with the pool's partitioning and derives it itself.
 */
import { z } from 'zod';
import { PARTITION_KEYS } from '../flow/hash.js';

/**
 * How one output field merges across instances:
 * - `sum`, `min`, `max`: numbers;
 * - `union`: lists of strings, as a sorted set, the smallest `max` when bounded;
 * - `concat`: lists of records, all of them, sorted by `orderBy` (see compareByFields);
 * - `keyed`: lists of records, those with the same value of the field `key` merged field by field,
 *   sorted by it;
 * - `record`: an object with these fields, each merged by its rule;
 * - `map`: an object of any keys (a count per rule name), keys united and sorted, values by `values`;
 * - `ratio`: derived, `numerator` / `denominator` of the merged sibling fields (0 when it is 0).
 */
export type FieldMerge =
  | { merge: 'sum' | 'min' | 'max' }
  | { merge: 'union'; max?: number }
  | { merge: 'concat'; orderBy: string[] }
  | { merge: 'keyed'; key: string; fields: Record<string, FieldMerge> }
  | { merge: 'record'; fields: Record<string, FieldMerge> }
  | { merge: 'map'; values: FieldMerge }
  | { merge: 'ratio'; numerator: string; denominator: string };

/** The merge rule of every output a middlebox reports, by name. */
export type OutputMerge = Record<string, FieldMerge>;

const path = z.string().min(1);
const fieldMerge: z.ZodType<FieldMerge> = z.lazy(() => z.discriminatedUnion('merge', [
  z.object({ merge: z.enum(['sum', 'min', 'max']) }).strict(),
  z.object({ merge: z.literal('union'), max: z.number().int().positive().optional() }).strict(),
  z.object({ merge: z.literal('concat'), orderBy: z.array(path).min(1) }).strict(),
  z.object({ merge: z.literal('keyed'), key: path, fields: z.record(fieldMerge) }).strict(),
  z.object({ merge: z.literal('record'), fields: z.record(fieldMerge) }).strict(),
  z.object({ merge: z.literal('map'), values: fieldMerge }).strict(),
  z.object({ merge: z.literal('ratio'), numerator: path, denominator: path }).strict(),
]));

export const partitionKey = z.enum(PARTITION_KEYS);

/** How a pool splits its flows: what every instance is started with. */
export const partitioning = z.object({
  key: partitionKey,
  buckets: z.number().int().min(1).max(1 << 20),
  inside: z.array(z.string()).optional(),
}).strict();
export type Partitioning = z.infer<typeof partitioning>;

export const middleboxDescriptor = z.object({
  type: z.string().min(1),
  description: z.string(),
  partitionKey,
  sharedAllFlows: z.boolean(),
  defaultConfig: z.record(z.unknown()),
  outputs: z.record(fieldMerge),
}).strict();
export type MiddleboxDescriptor = z.infer<typeof middleboxDescriptor>;

/** The value at a dotted path ("flow.a.ip"), or undefined. */
export function valueAt(record: unknown, dotted: string): unknown {
  let v = record;
  for (const part of dotted.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

function compareValues(x: unknown, y: unknown): number {
  if (x === y) return 0;
  if (x === undefined) return -1;
  if (y === undefined) return 1;
  if (typeof x === 'number' && typeof y === 'number') return x - y;
  if (typeof x === 'boolean' && typeof y === 'boolean') return Number(x) - Number(y);
  const a = String(x);
  const b = String(y);
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The order of a `concat` list: by each path in turn, an absent value first, numbers by value,
 * false before true, anything else as text by UTF-16 code units. Middleboxes sort their own
 * lists with it, so one instance's list and the pool's merged list are in the same order.
 */
export function compareByFields(orderBy: readonly string[]): (x: unknown, y: unknown) => number {
  return (x, y) => {
    for (const p of orderBy) {
      const c = compareValues(valueAt(x, p), valueAt(y, p));
      if (c !== 0) return c;
    }
    return 0;
  };
}
