/** Fuzz properties of the message schemas: run briefly by messages.fuzz.test.ts, at length by bench/fuzz.ts. */
import fc from 'fast-check';
import type { z } from 'zod';
import type { Properties } from '../../bench/fuzz-properties.js';
import { describeIssues, hello, mbReply, mbRequest, switchReply, switchRequest } from './messages.js';

const SCHEMAS: [name: string, schema: z.ZodTypeAny, types: string[]][] = [
  ['hello', hello, ['hello']],
  ...([['mbRequest', mbRequest], ['mbReply', mbReply], ['switchRequest', switchRequest], ['switchReply', switchReply]] as const)
    .map(([name, s]): [string, z.ZodTypeAny, string[]] => [name, s, s.options.map((o) => o.shape.type.value as string)]),
];

/**
 * Parses without a throw; a refusal carries issues, each naming a path inside the message
 * unless `rootMayFail` (a value that is not a message object at all fails at its root).
 */
function acceptOrRefuse(schema: z.ZodTypeAny, v: unknown, rootMayFail: boolean): void {
  const r = schema.safeParse(v);
  if (r.success) return;
  if (r.error.issues.length === 0 || describeIssues(r.error).length === 0) throw new Error('refused with no issue');
  if (!rootMayFail && r.error.issues.some((i) => i.path.length === 0)) throw new Error(`an issue names no field: ${describeIssues(r.error)}`);
}

// Values near what the fields take, so parsing gets past the first check of each.
const near = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.integer({ min: -1, max: 70000 }),
  fc.constantFrom('per-flow', 'multi-flow', 'all-flows', 'tcp', '10.0.0.0/8', 'forward', 'drop', 'mb', 'switch', 'malformed', 'add', 'x'),
);
const jsonFilter = fc.letrec((tie) => ({
  filter: fc.record({
    nwSrc: near, nwDst: near, tpSrc: near, tpDst: near, nwProto: near, dlType: near, vlan: near, inPort: near, bidirectional: near,
    buckets: fc.oneof(near, fc.record({ key: near, of: near, ids: fc.array(near, { maxLength: 3 }), inside: near }, { requiredKeys: [] })),
    except: fc.oneof({ depthSize: 'small' }, near, fc.array(tie('filter'), { maxLength: 2 })),
  }, { requiredKeys: [] }),
})).filter;
const fields = {
  id: near, scope: near, filter: fc.oneof(near, jsonFilter), match: fc.oneof(near, jsonFilter), op: near,
  chunks: fc.oneof(near, fc.array(near, { maxLength: 3 })), values: near, action: fc.oneof(near, fc.record({ type: near, instance: near })),
  bytes: near, count: near, skipped: near, generation: near, address: near,
  counters: near, outputs: near, cause: near, message: near, version: near, stats: near,
  rules: fc.oneof(near, fc.array(fc.record({ id: near, priority: near, match: jsonFilter, action: near }, { requiredKeys: [] }), { maxLength: 2 })),
  changes: fc.oneof(near, fc.array(fc.record({ op: near, rule: near, ruleId: near, rules: near }, { requiredKeys: [] }), { maxLength: 2 })),
  holdId: near, leaseMs: near, renew: near, renewed: near, dropped: near, holds: near, ended: near, secret: near, role: near, name: near, pool: near, mbType: near, incarnation: near, descriptor: near, peerAddress: near,
  to: fc.oneof(near, fc.record({ instance: near, address: near }, { requiredKeys: [] })),
};

export const PROPERTIES: Properties = Object.fromEntries(SCHEMAS.flatMap(([name, schema, types]) => {
  const message = fc.tuple(fc.constantFrom(...types), fc.record(fields, { requiredKeys: [] })).map(([type, rest]) => ({ ...rest, type }));
  return [
    [`${name}: arbitrary JSON values are accepted or refused with issues`, fc.property(fc.jsonValue(), (v) => acceptOrRefuse(schema, v, true))],
    [`${name}: messages of each type with arbitrary fields are accepted or refused with issues naming a field`, fc.property(message, (v) => acceptOrRefuse(schema, v, false))],
  ];
}));
