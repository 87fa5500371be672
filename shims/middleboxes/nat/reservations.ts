/**
 * What the per-flow table and the lent pairs imply and packet processing needs fast: which
 * external address:port pairs are taken (held by which flow, or lent away), how many pairs of
 * each external address are taken inside the port range, and when each flow may expire. It is
 * built for one configuration and kept in step by the logic and by the put/delete hooks.
 */
import type { PerFlowTable } from '../../shim/definition.js';
import type { NatConfig } from './config.js';
import { addrKey, type NatFlow, pairKey, pairOf, pairPort } from './state.js';

export function timeoutOf(c: NatConfig, f: NatFlow): number {
  return f.tcp === null ? c.udpTimeout : f.tcp === 'established' ? c.tcpEstablishedTimeout : c.tcpTransitoryTimeout;
}

/**
 * Expiry times in a binary min-heap. An entry is a lower bound on its flow's expiry: a packet
 * only moves the expiry later, and the logic pushes a new entry when a flow's timeout shortens.
 * A popped entry whose flow lives on is pushed again at the flow's real expiry.
 */
class ExpiryHeap {
  private readonly times: number[] = [];
  private readonly ids: string[] = [];

  get size(): number {
    return this.times.length;
  }

  get topTime(): number {
    return this.times[0];
  }

  push(time: number, id: string): void {
    const t = this.times;
    const ids = this.ids;
    let i = t.length;
    t.push(time);
    ids.push(id);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (t[p] <= time) break;
      t[i] = t[p];
      ids[i] = ids[p];
      i = p;
    }
    t[i] = time;
    ids[i] = id;
  }

  /** Removes the earliest entry and returns its flow id. */
  pop(): string {
    const t = this.times;
    const ids = this.ids;
    const top = ids[0];
    const lastTime = t.pop()!;
    const lastId = ids.pop()!;
    const n = t.length;
    if (n === 0) return top;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && t[c + 1] < t[c]) c++;
      if (t[c] >= lastTime) break;
      t[i] = t[c];
      ids[i] = ids[c];
      i = c;
    }
    t[i] = lastTime;
    ids[i] = lastId;
    return top;
  }
}

export class TranslationIndex {
  /** Pair key -> id of the flow holding it. */
  private readonly owners = new Map<number, string>();
  /** Flow id -> the pair key it holds, so a put that replaces a flow frees the pair it held. */
  private readonly held = new Map<string, number>();
  /** Address key -> pairs held or lent inside [portFirst, portLast]. */
  private readonly used = new Map<number, number>();
  private readonly expiry = new ExpiryHeap();

  private constructor(readonly config: NatConfig, private readonly lent: Set<number>) {}

  /** Indexes the flows here and the pairs lent away; a lent pair a flow here holds has come back. */
  static build(config: NatConfig, flows: PerFlowTable<NatFlow>, lent: Set<number>): TranslationIndex {
    const index = new TranslationIndex(config, lent);
    for (const k of lent) index.count(k, 1);
    for (const [id, { state }] of flows.entries()) index.add(id, state);
    return index;
  }

  /**
   * Indexes a flow (new, or replacing what its id held): reserves its pair and schedules its
   * expiry. A pair another flow already holds stays that flow's: only instances with overlapping
   * port ranges running at once can cause it, and the egress check reports it on the wire.
   */
  add(id: string, f: NatFlow): void {
    this.schedule(id, f);
    const k = f.mode === 'nat' ? pairOf(f) : undefined;
    const before = this.held.get(id);
    if (before === k) return;
    if (before !== undefined) this.remove(id);
    if (k === undefined || this.owners.has(k)) return;
    if (this.lent.delete(k)) this.count(k, -1);
    this.owners.set(k, id);
    this.held.set(id, k);
    this.count(k, 1);
  }

  /** Frees the pair a flow holds; its expiry entries lapse by themselves. */
  remove(id: string): void {
    const k = this.held.get(id);
    if (k === undefined) return;
    this.held.delete(id);
    this.owners.delete(k);
    this.count(k, -1);
  }

  /** Frees the pair a flow holds and keeps it taken as lent away. */
  lend(id: string): void {
    const k = this.held.get(id);
    if (k === undefined) return;
    this.remove(id);
    this.lent.add(k);
    this.count(k, 1);
  }

  schedule(id: string, f: NatFlow): void {
    this.expiry.push(f.last + timeoutOf(this.config, f), id);
  }

  isFree(tcp: boolean, addr: number, port: number): boolean {
    const k = pairKey(tcp, addr, port);
    return !this.owners.has(k) && !this.lent.has(k);
  }

  /** True when every port of the range is taken at this address. */
  isFull(tcp: boolean, addr: number): boolean {
    return (this.used.get(addrKey(tcp, addr)) ?? 0) > this.config.portLast - this.config.portFirst;
  }

  private count(k: number, delta: number): void {
    const port = pairPort(k);
    if (port < this.config.portFirst || port > this.config.portLast) return;
    const a = (k - port) / 0x10000; // the address key (see pairKey)
    this.used.set(a, (this.used.get(a) ?? 0) + delta);
  }

  /** Pops the next flow whose earliest possible expiry is at or before `clock` (to be checked), if any. */
  nextDue(clock: number): string | undefined {
    return this.expiry.size > 0 && this.expiry.topTime <= clock ? this.expiry.pop() : undefined;
  }
}
