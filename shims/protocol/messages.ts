/**
 * Every JSON message of the southbound (controller <-> middlebox) and switch protocols, as zod
 * schemas; the TypeScript types are inferred from them so the two cannot drift apart.
 */
import { z } from 'zod';
import { compileFilter, FilterError, type FlowFilter } from '../flow/filter.js';
import { middleboxDescriptor } from './descriptor.js';

const filterSchema = z.custom<FlowFilter>().superRefine((v, ctx) => {
  try {
    compileFilter(v, '');
  } catch (e) {
    const err = e as FilterError;
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: err.detail, path: err.field.replace(/^\./, '').split('.').filter(Boolean) });
  }
});

const id = z.number().int().nonnegative();
/** The three state scopes of OpenNF: one flow's state, a group's (a host's), everything's. */
export const SCOPES = ['per-flow', 'multi-flow', 'all-flows'] as const;
const scope = z.enum(SCOPES);
export type Scope = z.infer<typeof scope>;


/**
 * One piece of state. `key` is the flow's key in its string form ("6 10.0.0.1 1234 10.0.0.2 80")
 * for per-flow state, the group's key (a host address) for multi-flow state, null for all-flows.
 * `state` is the middlebox's own serialization: the controller never looks inside. Chunks are
 * checked by the middlebox that imports them (shim/tables.ts), not here: a put may carry 100k.
 */
export interface Chunk {
  scope: Scope;
  key: string | null;
  state: unknown;
  /** Per-flow only: the highest switch sequence number the flow has been processed at (set by the shim). */
  seq?: number;
}
const chunks = z.array(z.custom<Chunk>());

/** The first message on every connection: who the peer is, and the shared secret. */
export const hello = z.object({
  type: z.literal('hello'),
  secret: z.string(),
  role: z.enum(['mb', 'mb-data', 'mb-peer', 'switch', 'source', 'controller', 'sink', 'egress']),
  name: z.string().min(1).max(253),
  pool: z.string().optional(),
  mbType: z.string().optional(),
  /** Set once per process of an instance: the switch counts what it forwards per incarnation, not per name. */
  incarnation: z.string().max(64).optional(),
  /**
   * An instance's: what the operator needs to know of its middlebox. One this side cannot read
   * (another version's) is dropped rather than refusing the instance: the operator then goes by
   * the descriptor it asked for before the instance ran.
   */
  descriptor: middleboxDescriptor.optional().catch(undefined),
  /** An instance's: where its peers reach it to put state straight into it (a direct transfer), host:port. */
  peerAddress: z.string().min(1).max(512).optional(),
});
export type Hello = z.infer<typeof hello>;

export const mbRequest = z.discriminatedUnion('type', [
  z.object({ type: z.literal('get'), id, scope, filter: filterSchema }),
  /**
   * `op` names the operation the chunks belong to: a chunk whose key this instance already took
   * under the same op is skipped, so an operation resumed after a controller crash never applies
   * merged state twice.
   */
  z.object({ type: z.literal('put'), id, scope, chunks, op: z.string().min(1).max(128).optional() }),
  z.object({ type: z.literal('del'), id, scope, filter: filterSchema }),
  /**
   * A direct transfer: the instance gets the matching state and puts it, under `op`, straight
   * into the instance at `to.address` (its peer listener), reporting progress as it is acked.
   */
  z.object({
    type: z.literal('transfer'), id, scope, filter: filterSchema, op: z.string().min(1).max(128),
    to: z.object({ instance: z.string().min(1).max(253), address: z.string().min(1).max(512) }),
  }),
  z.object({ type: z.literal('get-config'), id }),
  /** `generation` numbers the configuration (a pool's metadata.generation), so the controller can tell which one an instance runs. */
  z.object({ type: z.literal('put-config'), id, values: z.record(z.unknown()), generation: z.number().int().min(0).optional() }),
  /** `bytes` asks for the serialized size of each scope too, which walks every table. */
  z.object({ type: z.literal('get-stats'), id, bytes: z.boolean().optional() }),
  z.object({ type: z.literal('get-outputs'), id }),
]);
export type MbRequest = z.infer<typeof mbRequest>;
export const MB_REQUEST_TYPES: ReadonlySet<string> = new Set(mbRequest.options.map((o) => o.shape.type.value));

export interface MbCounters {
  packetsProcessed: number;
  packetsReceived: number;
  packetsEmitted: number;
  packetsReordered: number;
  entries: Record<Scope, number>;
  /** Histogram of switch-ingress-to-processed latency (bucket i: [1.25^i, 1.25^(i+1)) µs). */
  latencyUs: number[];
  /** Present when asked for (get-stats with bytes). */
  bytes?: Record<Scope, number>;
}

export const errorCause = z.enum(['malformed', 'unsupported', 'unknown-key', 'internal', 'unauthorized']);
export type ErrorCause = z.infer<typeof errorCause>;

export const mbReply = z.discriminatedUnion('type', [
  z.object({ type: z.literal('state'), id, chunks }),
  /** `bytes`: of the state frames' bodies the get sent. */
  z.object({ type: z.literal('get-ack'), id, count: z.number().int(), bytes: z.number().int().optional() }),
  /** A transfer's chunks and body bytes the destination has acked so far, and those it skipped (already taken under the op). */
  z.object({ type: z.literal('transfer-progress'), id, count: z.number().int(), bytes: z.number().int(), skipped: z.number().int() }),
  z.object({ type: z.literal('transfer-ack'), id, count: z.number().int(), bytes: z.number().int(), skipped: z.number().int() }),
  /** `skipped`: chunks of the put's op this instance had already taken. */
  z.object({ type: z.literal('put-ack'), id, count: z.number().int(), skipped: z.number().int().optional() }),
  z.object({ type: z.literal('del-ack'), id, count: z.number().int() }),
  z.object({ type: z.literal('config'), id, values: z.record(z.unknown()), generation: z.number().int().min(0).optional() }),
  z.object({ type: z.literal('put-config-ack'), id, generation: z.number().int().min(0).optional() }),
  z.object({ type: z.literal('stats'), id, counters: z.custom<MbCounters>((v) => typeof v === 'object' && v !== null) }),
  z.object({ type: z.literal('outputs'), id, outputs: z.record(z.unknown()) }),
  z.object({ type: z.literal('error'), id: id.nullable(), cause: errorCause, message: z.string() }),
]);
export type MbReply = z.infer<typeof mbReply>;

const forward = z.object({ type: z.literal('forward'), instance: z.string().min(1) });
const action = z.discriminatedUnion('type', [forward, z.object({ type: z.literal('drop') })]);
export type RuleAction = z.infer<typeof action>;

export const rule = z.object({
  id: z.string().min(1),
  priority: z.number().int().min(0).max(65535),
  match: filterSchema,
  action,
});
export type Rule = z.infer<typeof rule>;

const ruleChange = z.discriminatedUnion('op', [
  z.object({ op: z.literal('add'), rule }),
  z.object({ op: z.literal('delete'), ruleId: z.string() }),
  z.object({ op: z.literal('replace-all'), rules: z.array(rule) }),
]);
export type RuleChange = z.infer<typeof ruleChange>;

export const switchRequest = z.discriminatedUnion('type', [
  z.object({ type: z.literal('flow-mod'), id, changes: z.array(ruleChange).min(1) }),
  /**
   * Holds every packet the filter matches, in order, until released. Repeating it renews the
   * hold; with `renew` it only renews, and is refused (unknown-key) when the hold is not there. With
   * `leaseMs` the hold lapses when not renewed for that long: its packets then go where the table
   * routes them, in order, as if released.
   */
  z.object({ type: z.literal('hold'), id, holdId: z.string().min(1).max(128), filter: filterSchema, leaseMs: z.number().int().min(10).max(3_600_000).optional(), renew: z.boolean().optional() }),
  /**
   * Ends a hold: `changes` are applied first, atomically with the release, so the held packets and
   * every later one go by the new table. Refused (unknown-key) when the hold is not there.
   */
  z.object({ type: z.literal('release'), id, holdId: z.string().min(1).max(128), changes: z.array(ruleChange).optional() }),
  /** The holds in place, and how the latest ones ended (released or lapsed). */
  z.object({ type: z.literal('get-holds'), id }),
  z.object({ type: z.literal('barrier'), id }),
  z.object({ type: z.literal('get-stats'), id }),
  z.object({ type: z.literal('get-rules'), id }),
  /** Where the switch sends what the instances emit (host:port or a socket path); null: nowhere. */
  z.object({ type: z.literal('set-egress'), id, address: z.string().min(1).max(512).nullable() }),
]);
export type SwitchRequest = z.infer<typeof switchRequest>;
export const SWITCH_REQUEST_TYPES: ReadonlySet<string> = new Set(switchRequest.options.map((o) => o.shape.type.value));

export interface SwitchStats {
  received: number;
  /** Packets each instance emitted back to the switch's egress (e.g. NAT-rewritten). */
  egress: Record<string, number>;
  forwarded: Record<string, number>;
  dropped: number;
  /** Of `dropped`, per instance: packets queued for it that were dropped (its queue was full, or it died and no rule routed to it any more). */
  droppedQueued: Record<string, number>;
  held: number;
  rules: { id: string; packets: number; bytes: number }[];
  version: number;
  /** The link to the pool's egress receiver, when one is set (see switch/egress-link.ts). */
  egressLink?: EgressLinkStats;
}

/** What a switch delivered to its egress receiver, and what it could not deliver and why. */
export interface EgressLinkStats {
  address: string;
  connected: boolean;
  /** Packets written to the receiver (each once; a resend after a reconnect is counted in `resent`). */
  sent: number;
  /** Packets the receiver acknowledged. */
  delivered: number;
  /** Written and not acknowledged yet. */
  inFlight: number;
  /** Waiting for the receiver to be reachable. */
  queued: number;
  resent: number;
  /** Packets given up on, by reason: the queue was full while the receiver was unreachable, or the egress was removed with packets queued. */
  undeliverable: { queueFull: number; egressRemoved: number };
  connects: number;
  /** Why the last connection failed or ended, while not connected. */
  lastError?: string;
  /** Milliseconds since the epoch when the link last went up or down. */
  sinceMs: number;
}

/** A hold in place at a switch. */
export interface HoldInfo {
  holdId: string;
  packets: number;
  dropped: number;
  leaseMs: number | null;
}

/** How a hold ended: released by the controller (with the table version it installed), or lapsed. */
export interface EndedHold {
  holdId: string;
  how: 'released' | 'lapsed';
  packets: number;
  dropped: number;
  version: number;
}

export const switchReply = z.discriminatedUnion('type', [
  z.object({ type: z.literal('flow-mod-ack'), id, version: z.number().int() }),
  /** `packets`: what the hold keeps now. */
  z.object({ type: z.literal('hold-ack'), id, renewed: z.boolean().optional(), packets: z.number().int().optional() }),
  /** `dropped`: packets the hold could not keep (it was full, see the switch's MAX_HELD). */
  z.object({ type: z.literal('release-ack'), id, count: z.number().int(), version: z.number().int().optional(), dropped: z.number().int().optional() }),
  z.object({ type: z.literal('holds'), id, holds: z.array(z.custom<HoldInfo>()), ended: z.array(z.custom<EndedHold>()) }),
  z.object({ type: z.literal('barrier-ack'), id }),
  z.object({ type: z.literal('stats'), id, stats: z.custom<SwitchStats>((v) => typeof v === 'object' && v !== null) }),
  z.object({ type: z.literal('rules'), id, rules: z.array(rule), version: z.number().int() }),
  z.object({ type: z.literal('set-egress-ack'), id }),
  z.object({ type: z.literal('error'), id: id.nullable(), cause: errorCause, message: z.string() }),
]);
export type SwitchReply = z.infer<typeof switchReply>;

/** A readable one-line description of a zod failure: "path.to.field: what is wrong; ...". */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join('.') : '(message)'}: ${i.message}`)
    .join('; ');
}

/** A request as read at a server's boundary: validated, or the error reply it earns. */
export type ReadRequest<T> = { ok: true; request: T } | { ok: false; reply: { type: 'error'; id: number | null; cause: ErrorCause; message: string } };

/**
 * Validates one request against `schema`: a frame that did not decode (an Error) or a value that
 * does not validate is `malformed`, a type the server does not know is `unsupported`, each reply
 * carrying the request's id when it had one.
 */
export function readRequest<T>(schema: z.ZodType<T>, types: ReadonlySet<string>, msg: unknown): ReadRequest<T> {
  if (msg instanceof Error) return { ok: false, reply: { type: 'error', id: null, cause: 'malformed', message: msg.message } };
  const m = msg !== null && typeof msg === 'object' ? (msg as { id?: unknown; type?: unknown }) : {};
  const id = typeof m.id === 'number' ? m.id : null;
  if (typeof m.type === 'string' && !types.has(m.type)) return { ok: false, reply: { type: 'error', id, cause: 'unsupported', message: `unknown message type "${m.type}"` } };
  const parsed = schema.safeParse(msg);
  if (!parsed.success) return { ok: false, reply: { type: 'error', id, cause: 'malformed', message: describeIssues(parsed.error) } };
  return { ok: true, request: parsed.data };
}
