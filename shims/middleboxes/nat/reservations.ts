/**
 * What the per-flow table and the lent pairs imply and packet processing needs fast: which
 * external address:port pairs are taken (held by which flow, or lent away), how many pairs of
 * each external address are taken inside the port range, and when each flow may expire. It is
 * built for one configuration and kept in step by the logic and by the put/delete hooks.
 */
import type { PerFlowTable } from '../../shim/definition.js';
import type { NatConfig } from './config.js';
import { addrKey, type NatFlow, pairOf, pairPort } from './state.js';

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

/** One bit per port of each protocol and external address, set while the pair is held or lent away. */
class PairBits {
  private readonly bits = new Map<number, Uint8Array>();

  has(addr: number, port: number): boolean {
    const b = this.bits.get(addr);
    return b !== undefined && (b[port >> 3] & (1 << (port & 7))) !== 0;
  }

  set(k: number, on: boolean): void {
    const port = pairPort(k);
    const addr = (k - port) / 0x10000; // the address key (see pairKey)
    let b = this.bits.get(addr);
    if (!b) {
      b = new Uint8Array(0x2000);
      this.bits.set(addr, b);
    }
    if (on) b[port >> 3] |= 1 << (port & 7);
    else b[port >> 3] &= ~(1 << (port & 7));
  }
}

export class TranslationIndex {
  private readonly taken = new PairBits();
  /** Flow id -> the pair key it holds, so a put that replaces a flow frees the pair it held. */
  private readonly held = new Map<string, number>();
  /** Address key and port class -> pairs held or lent inside [portFirst, portLast]. */
  private readonly used = new Map<number, number>();
  private readonly expiry = new ExpiryHeap();

  private constructor(readonly config: NatConfig, private readonly lent: Set<number>) {}

  /** Indexes the flows here and the pairs lent away; a lent pair a flow here holds has come back. */
  static build(config: NatConfig, flows: PerFlowTable<NatFlow>, lent: Set<number>): TranslationIndex {
    const index = new TranslationIndex(config, lent);
    for (const k of lent) index.take(k, 1);
    for (const [id, { state }] of flows.entries()) index.add(id, state);
    return index;
  }

  /**
   * Indexes a flow (new, revived, or replacing what its id held): reserves its pair and schedules
   * its expiry; an expired flow holds nothing and is not scheduled. A pair another flow already
   * holds stays that flow's: only instances that split flows other than by hash bucket, on
   * overlapping port ranges, can cause it, and the egress check reports it on the wire.
   */
  add(id: string, f: NatFlow): void {
    if (!f.expired) this.schedule(id, f);
    const k = f.mode === 'nat' && !f.expired ? pairOf(f) : undefined;
    const before = this.held.get(id);
    if (before === k) return;
    if (before !== undefined) this.remove(id);
    if (k === undefined) return;
    if (this.lent.delete(k)) this.take(k, -1);
    if (this.isTaken(k)) return;
    this.held.set(id, k);
    this.take(k, 1);
  }

  /** Frees the pair a flow holds (it expired, or its record goes); its expiry entries lapse by themselves. */
  remove(id: string): void {
    const k = this.held.get(id);
    if (k === undefined) return;
    this.held.delete(id);
    this.take(k, -1);
  }

  /** Frees the pair a flow holds and keeps it taken as lent away. */
  lend(id: string): void {
    const k = this.held.get(id);
    if (k === undefined) return;
    this.remove(id);
    this.lent.add(k);
    this.take(k, 1);
  }

  schedule(id: string, f: NatFlow): void {
    this.expiry.push(f.last + timeoutOf(this.config, f), id);
  }

  isFree(tcp: boolean, addr: number, port: number): boolean {
    return !this.taken.has(addrKey(tcp, addr), port);
  }

  /** True when every port of class `cls` in the range is taken at this address. */
  isFull(tcp: boolean, addr: number, cls: number): boolean {
    const { portFirst, portLast, partitionBuckets: n } = this.config;
    const capacity = Math.floor((portLast - cls) / n) - Math.floor((portFirst - 1 - cls) / n);
    return (this.used.get(addrKey(tcp, addr) * 0x10000 + cls) ?? 0) >= capacity;
  }

  private isTaken(k: number): boolean {
    const port = pairPort(k);
    return this.taken.has((k - port) / 0x10000, port);
  }

  /** Marks a pair taken (+1) or free (-1) and counts it in its address's port class when in range. */
  private take(k: number, delta: 1 | -1): void {
    this.taken.set(k, delta > 0);
    const port = pairPort(k);
    if (port < this.config.portFirst || port > this.config.portLast) return;
    // The pair key less the port is the address key times 2^16: add the port's class instead.
    const slot = k - port + (port % this.config.partitionBuckets);
    this.used.set(slot, (this.used.get(slot) ?? 0) + delta);
  }

  /** Pops the next flow whose earliest possible expiry is at or before `clock` (to be checked), if any. */
  nextDue(clock: number): string | undefined {
    return this.expiry.size > 0 && this.expiry.topTime <= clock ? this.expiry.pop() : undefined;
  }
}
