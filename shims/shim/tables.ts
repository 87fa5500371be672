/** The three state tables of a middlebox instance, and get/put/del over them by filter. */
import { type CompiledFilter, isMatchAll, MATCH_ALL, matchFlowKey, matchHost } from '../flow/filter.js';
import { canonicalKey, flowId, type FlowKey, parseFlowId } from '../flow/key.js';
import { parseIp } from '../flow/address.js';
import { keyHash } from '../flow/hash.js';
import { shown } from '../flow/shown.js';
import type { Chunk, Scope } from '../protocol/messages.js';
import type { AnyMiddlebox, MbState, MultiFlowTable, PerFlowTable } from './definition.js';

export class StateError extends Error {
  constructor(readonly code: 'malformed' | 'unknown-key', message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'StateError';
  }
}

type BucketSelection = NonNullable<CompiledFilter['buckets']>;

/** A partitioning's identity: its key, bucket count and inside prefixes. */
function partitionSignature(b: BucketSelection): string {
  return `${b.key} ${b.of} ${b.inside.map((p) => `${Buffer.from(p.bytes).toString('hex')}/${p.length}`).join(',')}`;
}

/** The flows of each bucket under one partitioning, kept in step with the table. */
class BucketIndex {
  readonly buckets: Set<string>[];

  constructor(readonly signature: string, private readonly b: BucketSelection, flows: Iterable<[string, { key: FlowKey }]>) {
    this.buckets = Array.from({ length: b.of }, () => new Set<string>());
    for (const [id, e] of flows) this.add(id, e.key);
  }

  private bucketOf(key: FlowKey): number {
    return keyHash(this.b.key, this.b.inside, key) % this.b.of;
  }

  add(id: string, key: FlowKey): void {
    this.buckets[this.bucketOf(key)].add(id);
  }

  remove(id: string, key: FlowKey): void {
    this.buckets[this.bucketOf(key)].delete(id);
  }
}

class FlowTable<F> implements PerFlowTable<F> {
  readonly map = new Map<string, { key: FlowKey; state: F }>();
  /**
   * The flows per bucket of the latest partitioning a filter asked for (a pool has one), built
   * on first use: a move in parts exports and deletes a few buckets at a time, and scanning the
   * whole table for each part would cost the table's size per part.
   */
  private index: BucketIndex | null = null;

  get(id: string): F | undefined {
    return this.map.get(id)?.state;
  }
  set(id: string, key: FlowKey, state: F): void {
    const e = this.map.get(id);
    if (e) {
      e.state = state;
    } else {
      this.map.set(id, { key, state });
      this.index?.add(id, key);
    }
  }
  delete(id: string): void {
    const e = this.map.get(id);
    if (!e) return;
    this.map.delete(id);
    this.index?.remove(id, e.key);
  }
  entries() {
    return this.map.entries();
  }
  get size() {
    return this.map.size;
  }

  /** The entries a filter may match: those of its buckets when it selects some, else all. */
  *candidates(f: CompiledFilter): Generator<[string, { key: FlowKey; state: F }]> {
    if (!f.buckets) {
      yield* this.map;
      return;
    }
    const signature = partitionSignature(f.buckets);
    if (this.index?.signature !== signature) this.index = new BucketIndex(signature, f.buckets, this.map);
    for (const b of f.buckets.ids) {
      const ids = this.index.buckets[b];
      if (!ids) continue;
      for (const id of ids) {
        const e = this.map.get(id);
        if (e) yield [id, e];
      }
    }
  }
}

class GroupTable<M> implements MultiFlowTable<M> {
  readonly map = new Map<string, M>();
  get(key: string) {
    return this.map.get(key);
  }
  set(key: string, state: M) {
    this.map.set(key, state);
  }
  entries() {
    return this.map.entries();
  }
  get size() {
    return this.map.size;
  }
}

export class StateTables<F, M, A> implements MbState<F, M, A> {
  readonly flows = new FlowTable<F>();
  readonly groups = new GroupTable<M>();
  private allState: A;

  constructor(private readonly def: AnyMiddlebox) {
    this.allState = def.allFlows.init();
  }

  get all(): A {
    return this.allState;
  }

  /** Exports matching state in batches. */
  *get(scope: Scope, f: CompiledFilter, batch: number): Generator<Chunk[]> {
    let out: Chunk[] = [];
    if (scope === 'per-flow') {
      const all = isMatchAll(f);
      for (const [id, e] of this.flows.candidates(f)) {
        if (!all && !matchFlowKey(f, e.key)) continue;
        out.push({ scope, key: id, state: this.def.perFlow.encode(e.state) });
        if (out.length >= batch) { yield out; out = []; }
      }
    } else if (scope === 'multi-flow') {
      for (const [key, state] of this.groups.map) {
        if (!matchHost(f, key)) continue;
        out.push({ scope, key, state: this.def.multiFlow.encode(state) });
        if (out.length >= batch) { yield out; out = []; }
      }
    } else {
      out.push({ scope, key: null, state: this.def.allFlows.encode(this.allState) });
    }
    if (out.length > 0) yield out;
  }

  /**
   * Imports chunks. Per-flow state replaces what is there; multi-flow and all-flows state merges.
   * Every chunk is decoded before any is applied, so a bad chunk leaves the tables untouched.
   */
  put(scope: Scope, chunks: readonly Chunk[]): number {
    const decoded: { key: string | null; flow?: FlowKey; state: unknown }[] = chunks.map((c, i) => {
      if (c === null || typeof c !== 'object') throw new StateError('malformed', `chunks[${i}]: must be an object {scope, key, state}`);
      if (c.scope !== scope) throw new StateError('malformed', `chunks[${i}].scope: ${shown(c.scope)} differs from the request's scope "${scope}"`);
      try {
        if (scope === 'per-flow') {
          if (typeof c.key !== 'string') throw new Error('per-flow state needs a flow key string');
          const flow = canonicalKey(parseFlowId(c.key));
          return { key: flowId(flow), flow, state: this.def.perFlow.decode(c.state) };
        }
        if (scope === 'multi-flow') {
          if (typeof c.key !== 'string' || !parseIp(c.key)) throw new Error('multi-flow state needs a host address key');
          return { key: c.key, state: this.def.multiFlow.decode(c.state) };
        }
        return { key: null, state: this.def.allFlows.decode(c.state) };
      } catch (e) {
        throw new StateError('malformed', `chunks[${i}]: ${(e as Error).message}`, { cause: e });
      }
    });
    const keys: string[] = [];
    for (const c of decoded) if (c.key !== null) keys.push(c.key);
    for (const c of decoded) {
      if (scope === 'per-flow') {
        this.flows.set(c.key!, c.flow!, c.state as F);
      } else if (scope === 'multi-flow') {
        const have = this.groups.get(c.key!);
        this.groups.set(c.key!, have === undefined ? (c.state as M) : this.def.multiFlow.merge(have, c.state));
      } else {
        this.allState = this.def.allFlows.merge(this.allState, c.state);
      }
    }
    this.def.onPut?.(this, scope, keys);
    return decoded.length;
  }

  /** Deletes the matching state; `onDeleted` hears the keys deleted (not for all-flows state). */
  del(scope: Scope, f: CompiledFilter, onDeleted?: (keys: readonly string[]) => void): number {
    if (scope === 'all-flows') {
      this.def.onDelete?.(this, scope, []);
      this.allState = this.def.allFlows.init();
      return 1;
    }
    const keys: string[] = [];
    if (scope === 'per-flow') {
      const all = isMatchAll(f);
      for (const [id, e] of this.flows.candidates(f)) if (all || matchFlowKey(f, e.key)) keys.push(id);
    } else {
      for (const key of this.groups.map.keys()) if (matchHost(f, key)) keys.push(key);
    }
    if (keys.length > 0) this.def.onDelete?.(this, scope, keys);
    if (scope === 'per-flow') for (const k of keys) this.flows.delete(k);
    else for (const k of keys) this.groups.map.delete(k);
    onDeleted?.(keys);
    return keys.length;
  }

  entries(scope: Scope): number {
    return scope === 'per-flow' ? this.flows.size : scope === 'multi-flow' ? this.groups.size : 1;
  }

  /** Serialized size of a scope, computed on demand (it walks the whole table). */
  bytes(scope: Scope): number {
    let n = 0;
    for (const batch of this.get(scope, MATCH_ALL, 4096)) n += Buffer.byteLength(JSON.stringify(batch));
    return n;
  }
}
