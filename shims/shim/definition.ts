/**
 * What a middlebox author writes against. A middlebox declares its three state scopes with their
 * serialization (and, for multi-flow and all-flows state, how two values merge), parses its
 * configuration, and supplies packet logic that reads and writes state only through the tables.
 */
import type { Decoded } from '../flow/decode.js';
import type { PartitionKeyKind } from '../flow/hash.js';
import type { FlowKey, PacketFlow } from '../flow/key.js';
import type { OutputMerge, Partitioning } from '../protocol/descriptor.js';
import type { Scope } from '../protocol/messages.js';
import type { WirePacket } from '../protocol/packets.js';

export { compareByFields, type OutputMerge } from '../protocol/descriptor.js';

export class ConfigError extends Error {
  constructor(readonly field: string, message: string) {
    super(`config.${field}: ${message}`);
    this.name = 'ConfigError';
  }
}

/** Turns a state value into JSON and back; `decode` throws on a value its own `encode` could not give. */
export interface StateCodec<S> {
  encode(state: S): unknown;
  decode(json: unknown): S;
}

export interface MergeableCodec<S> extends StateCodec<S> {
  /** Folds `from` into `into` (counters add, sets union) and returns the result. */
  merge(into: S, from: S): S;
}

export interface PacketInput {
  packet: WirePacket;
  d: Decoded;
  /** Null for packets without an IP header. */
  flow: PacketFlow | null;
  /** Capture timestamp in seconds. */
  ts: number;
}

export interface PerFlowTable<F> {
  get(id: string): F | undefined;
  set(id: string, key: FlowKey, state: F): void;
  delete(id: string): void;
  entries(): IterableIterator<[string, { key: FlowKey; state: F }]>;
  readonly size: number;
}

export interface MultiFlowTable<M> {
  get(key: string): M | undefined;
  set(key: string, state: M): void;
  entries(): IterableIterator<[string, M]>;
  readonly size: number;
}

export interface MbState<F, M, A> {
  flows: PerFlowTable<F>;
  groups: MultiFlowTable<M>;
  /** All-flows state: one value per instance, replaced by merges, so read it through this getter. */
  readonly all: A;
}

/** Where a middlebox sends the packets it emits (rewritten by a NAT, encoded by an RE, ...). */
export interface MbOutput {
  emit(packet: WirePacket): void;
}

/**
 * The egress side of a middlebox that changes packets: it receives what every instance emitted,
 * checks it independently of the middlebox (a NAT's checksums, an RE decoder), and reports.
 */
export interface EgressChecker {
  receive(packet: WirePacket): void;
  report(): Record<string, unknown>;
}

export interface MiddleboxLogic {
  process(input: PacketInput): void;
  /** The middlebox's outputs, derived from its state (so they move with the state). */
  outputs(): Record<string, unknown>;
}

export interface MiddleboxDefinition<C, F, M, A> {
  readonly type: string;
  readonly description: string;
  /** The partition key that keeps each of its multi-flow groups on one instance. */
  readonly partitionKey: PartitionKeyKind;
  readonly defaultConfig: Record<string, unknown>;
  /**
   * True when all-flows state is shared knowledge (a cache) that a new instance should start
   * with, rather than a per-instance tally (counters), which would be counted twice if copied.
   */
  readonly sharedAllFlows?: boolean;
  parseConfig(values: Record<string, unknown>): C;
  /**
   * Configuration values a pool derives from its partitioning; merged into every instance's
   * configuration (after the pool's own values, so these win). For middleboxes whose state must
   * agree with how the switch splits traffic, e.g. a NAT's port classes per hash bucket.
   */
  poolConfig?(p: Partitioning): Record<string, unknown>;
  /**
   * How each of the outputs merges across the pool's instances, so that the pool reports what
   * one instance would for all of its traffic (see FieldMerge in protocol/descriptor.ts).
   */
  readonly outputs: OutputMerge;
  readonly perFlow: StateCodec<F>;
  readonly multiFlow: MergeableCodec<M>;
  readonly allFlows: MergeableCodec<A> & { init(): A };
  createLogic(state: MbState<F, M, A>, config: () => C, out: MbOutput): MiddleboxLogic;
  /**
   * Called after a `put` is applied, with the keys it wrote (flow ids, host keys; none for
   * all-flows): for state that must be reserved where it lands, e.g. a NAT's external ports. A
   * per-flow put replaces what a key held without a call to `onDelete`.
   */
  onPut?(state: MbState<F, M, A>, scope: Scope, keys: readonly string[]): void;
  /** Called before a `del` removes state, with the keys it removes (none for all-flows); their state is still there. */
  onDelete?(state: MbState<F, M, A>, scope: Scope, keys: readonly string[]): void;
  /**
   * Called after a put-config took a new configuration, for state that must follow it at once
   * (an RE's cache shrinks to its new bound). Packet logic reads the new configuration through
   * `config()` from the next packet on; what a change does to existing state each middlebox
   * documents in its README.
   */
  reconfigure?(state: MbState<F, M, A>, config: C): void;
  /** For middleboxes that emit packets: a fresh checker for the egress side. */
  createEgress?(config: C): EgressChecker;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyMiddlebox = MiddleboxDefinition<any, any, any, any>;
