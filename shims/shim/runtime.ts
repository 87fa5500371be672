/**
 * One middlebox instance, independent of any socket: packets in, southbound requests in, replies
 * and emitted packets out. The network side (node.ts) only moves bytes to and from this object.
 */
import { decode } from '../flow/decode.js';
import { type CompiledFilter, compileFilter } from '../flow/filter.js';
import { packetFlow } from '../flow/key.js';
import type { Chunk, MbCounters, MbRequest, Scope } from '../protocol/messages.js';
import { SCOPES } from '../protocol/messages.js';
import type { WirePacket } from '../protocol/packets.js';
import type { Partitioning } from '../protocol/descriptor.js';
import { decodeChunks, type StateBatch, StateBatchWriter } from '../protocol/state-frames.js';
import { type AnyMiddlebox, ConfigError, type MiddleboxLogic, type PacketInput } from './definition.js';
import { poolInstanceConfig } from './descriptor.js';
import { StateError, StateTables } from './tables.js';

const GET_BATCH = 512;

/** Latency buckets grow by 25%: bucket i holds [1.25^i, 1.25^(i+1)) µs, up to about 10 minutes. */
export const LATENCY_BUCKETS = 92;
export function latencyBucket(us: number): number {
  return us < 1 ? 0 : Math.min(LATENCY_BUCKETS - 1, Math.floor(Math.log(us) / Math.log(1.25)));
}

/** The value at quantile q (0..1) of a latency histogram, in µs (the bucket's upper bound). */
export function latencyQuantile(hist: readonly number[], q: number): number {
  const total = hist.reduce((a, b) => a + b, 0);
  if (total === 0) return 0;
  let seen = 0;
  for (let i = 0; i < hist.length; i++) {
    seen += hist[i];
    if (seen >= q * total) return 1.25 ** (i + 1);
  }
  return 1.25 ** hist.length;
}

/**
 * Operations whose puts an instance remembers. An operation is resumed by the controller that
 * takes over from a crashed one, and an instance takes part in few at once: a resumed one is
 * always among the latest.
 */
export const MAX_OPERATIONS_REMEMBERED = 16;

export type Reply = (message: Record<string, unknown>) => void;

export class MiddleboxInstance {
  readonly tables: StateTables<unknown, unknown, unknown>;
  private readonly logic: MiddleboxLogic;
  private configValues: Record<string, unknown>;
  private config: unknown;
  /** Which configuration this is, as the controller numbered it (a pool's generation); 0 until a put-config says. */
  private configGeneration = 0;
  /**
   * The highest switch sequence number processed per flow, to count packets a flow saw out of the
   * switch's order. It travels with the flow's state (as the chunk's `seq`), so a move keeps it.
   */
  private readonly lastSeq = new Map<string, number>();
  /** Switch ingress to processed here, as a histogram (see latencyBucket). */
  private readonly latency = new Array<number>(LATENCY_BUCKETS).fill(0);
  /** Per operation and scope, the chunks' keys this instance took (see the put message's `op`): the latest MAX_OPERATIONS_REMEMBERED operations. */
  private readonly taken = new Map<string, Map<Scope, Set<string | null>>>();
  private readonly counters = { packetsReceived: 0, packetsProcessed: 0, packetsEmitted: 0, packetsReordered: 0 };

  /**
   * `emit` gets each packet the middlebox sends on (the node batches them back to the switch).
   * `partitioning`: the pool's, from which every configuration this instance takes derives what
   * the middlebox needs of it (see poolInstanceConfig).
   */
  constructor(readonly def: AnyMiddlebox, configValues: Record<string, unknown>,
    emit: (packet: WirePacket) => void = () => {}, private readonly partitioning?: Partitioning) {
    this.configValues = { ...def.defaultConfig, ...poolInstanceConfig(def, configValues, partitioning) };
    this.config = def.parseConfig(this.configValues);
    this.tables = new StateTables(def);
    this.logic = def.createLogic(this.tables, () => this.config, {
      emit: (p) => {
        this.counters.packetsEmitted++;
        emit(p);
      },
    });
  }

  private input(p: WirePacket): PacketInput {
    const d = decode(p.data, p.linkType);
    return { packet: p, d, flow: packetFlow(p.data, d), ts: p.tsSec + p.tsNsec / 1e9 };
  }

  private process(input: PacketInput): void {
    this.logic.process(input);
    this.counters.packetsProcessed++;
    if (input.packet.ingressMs > 0) {
      const us = (performance.timeOrigin + performance.now() - input.packet.ingressMs) * 1000;
      this.latency[latencyBucket(us)]++;
    }
    const seq = input.packet.seq;
    if (input.flow && seq > 0) {
      const last = this.lastSeq.get(input.flow.id) ?? 0;
      if (seq < last) this.counters.packetsReordered++;
      else this.lastSeq.set(input.flow.id, seq);
    }
  }

  /** A packet from the switch. */
  receive(p: WirePacket): void {
    this.counters.packetsReceived++;
    this.process(this.input(p));
  }

  /** The chunks this instance has not taken yet under operation `op`. */
  private notTaken(op: string, scope: Scope, chunks: Chunk[]): Chunk[] {
    const taken = this.taken.get(op)?.get(scope);
    return taken ? chunks.filter((c) => !taken.has(c.key)) : chunks;
  }

  /** Only after the put succeeded: a refused put took nothing. */
  private markTaken(op: string, scope: Scope, chunks: Chunk[]): void {
    let scopes = this.taken.get(op);
    if (scopes) this.taken.delete(op);
    else scopes = new Map();
    this.taken.set(op, scopes); // the latest operation last, so the oldest goes first
    let taken = scopes.get(scope);
    if (!taken) scopes.set(scope, (taken = new Set()));
    for (const c of chunks) taken.add(c.key);
    for (const oldest of this.taken.keys()) {
      if (this.taken.size <= MAX_OPERATIONS_REMEMBERED) break;
      this.taken.delete(oldest);
    }
  }

  /** Serves one validated southbound request. */
  handle(req: MbRequest, reply: Reply): void {
    try {
      this.serve(req, reply);
    } catch (e) {
      const cause = e instanceof StateError ? e.code : e instanceof ConfigError ? 'malformed' : 'internal';
      reply({ type: 'error', id: req.id, cause, message: (e as Error).message });
    }
  }

  private serve(req: MbRequest, reply: Reply): void {
    switch (req.type) {
      case 'get': {
        const f = compileFilter(req.filter);
        let count = 0;
        for (const chunks of this.tables.get(req.scope, f, GET_BATCH)) {
          count += chunks.length;
          if (req.scope === 'per-flow') for (const c of chunks) c.seq = this.lastSeq.get(c.key as string);
          reply({ type: 'state', id: req.id, chunks });
        }
        reply({ type: 'get-ack', id: req.id, count });
        return;
      }
      case 'put':
        reply({ type: 'put-ack', id: req.id, ...this.put(req.scope, req.chunks, req.op) });
        return;
      case 'del': {
        const count = this.tables.del(req.scope, compileFilter(req.filter), (keys) => { for (const id of keys) this.lastSeq.delete(id); });
        // Flows the middlebox keeps no state for, or dropped itself, are swept now and then, not at every delete (a move in parts deletes often).
        if (req.scope === 'per-flow' && this.lastSeq.size > 2 * this.tables.flows.size + 1024) {
          for (const id of this.lastSeq.keys()) if (!this.tables.flows.map.has(id)) this.lastSeq.delete(id);
        }
        reply({ type: 'del-ack', id: req.id, count });
        return;
      }
      case 'transfer':
        // Only an instance on the network can reach its peers (node.ts serves it).
        reply({ type: 'error', id: req.id, cause: 'unsupported', message: 'transfer needs an instance with a network side' });
        return;
      case 'get-config':
        reply({ type: 'config', id: req.id, values: this.configValues, generation: this.configGeneration });
        return;
      case 'put-config':
        this.reconfigure(req.values, req.generation);
        reply({ type: 'put-config-ack', id: req.id, generation: this.configGeneration });
        return;
      case 'get-stats':
        reply({ type: 'stats', id: req.id, counters: this.stats(req.bytes === true) });
        return;
      case 'get-outputs':
        reply({ type: 'outputs', id: req.id, outputs: this.logic.outputs() });
        return;
    }
  }

  /** Imports chunks, skipping those already taken under `op`. */
  private put(scope: Scope, given: Chunk[], op: string | undefined): { count: number; skipped: number } {
    const chunks = op === undefined ? given : this.notTaken(op, scope, given);
    const count = this.tables.put(scope, chunks);
    if (op !== undefined) this.markTaken(op, scope, chunks);
    if (scope === 'per-flow') {
      for (const c of chunks) if (typeof c.seq === 'number') this.lastSeq.set(c.key as string, Math.max(c.seq, this.lastSeq.get(c.key as string) ?? 0));
    }
    return { count, skipped: given.length - chunks.length };
  }

  /**
   * Exports matching state as binary batches (state-frames.ts), one batch per iteration, so the
   * caller can let packets in between batches and wait for its socket to drain.
   */
  *exportState(scope: Scope, filter: CompiledFilter, batch = GET_BATCH): Generator<StateBatch> {
    for (const chunks of this.tables.get(scope, filter, batch)) {
      const w = new StateBatchWriter(scope);
      for (const c of chunks) w.add(c.key, scope === 'per-flow' ? this.lastSeq.get(c.key as string) : undefined, JSON.stringify(c.state));
      yield w.batch();
    }
  }

  /** Imports a binary batch (a put frame's), as a put of its chunks under `op` ('' for none). */
  importState(batch: StateBatch, op: string): { count: number; skipped: number } {
    let chunks: Chunk[];
    try {
      chunks = decodeChunks(batch);
    } catch (e) {
      throw new StateError('malformed', (e as Error).message, { cause: e });
    }
    return this.put(batch.scope, chunks, op === '' ? undefined : op);
  }

  /**
   * A new configuration, between two packets: the whole of it, this middlebox's own defaults under
   * the values given (a field left out goes back to its default, as one dropped from a pool's spec
   * does; defaults such as a rules file's path are this instance's, not the controller's), what
   * the pool's partitioning implies over them; and the middlebox adapts its state to it (see
   * MiddleboxDefinition.reconfigure). A refused one changes nothing.
   */
  private reconfigure(given: Record<string, unknown>, generation: number | undefined): void {
    const values = { ...this.def.defaultConfig, ...poolInstanceConfig(this.def, given, this.partitioning) };
    const config: unknown = this.def.parseConfig(values);
    this.config = config;
    this.configValues = values;
    if (generation !== undefined) this.configGeneration = generation;
    this.def.reconfigure?.(this.tables, config);
  }

  stats(withBytes = false): MbCounters {
    const entries = {} as Record<Scope, number>;
    for (const s of SCOPES) entries[s] = this.tables.entries(s);
    const counters: MbCounters = { ...this.counters, entries, latencyUs: [...this.latency] };
    if (withBytes) counters.bytes = Object.fromEntries(SCOPES.map((s) => [s, this.tables.bytes(s)])) as Record<Scope, number>;
    return counters;
  }

  outputs(): Record<string, unknown> {
    return this.logic.outputs();
  }
}
