/**
 * The switch's flow table, with Open vSwitch-like semantics: the highest-priority matching rule
 * wins (ties go to the rule added first), a miss drops, and a batch of changes is applied
 * atomically: every change is validated first, then the new table replaces the old in one step,
 * so no packet ever sees half of a change.
 *
 * Lookups cost the same whatever the number of instances: when applied, the table is planned
 * (see steering.ts) so that a packet's bucket is hashed once and its owner read from an array,
 * with exact 5-tuple pins found by one hash too; a table that does not fit that shape is scanned
 * rule by rule, with the same result.
 */
import type { Decoded } from '../flow/decode.js';
import { compileFilter, type CompiledFilter, matchPacket } from '../flow/filter.js';
import type { Rule, RuleChange } from '../protocol/messages.js';
import { planSteering, type Steering } from './steering.js';

export interface TableEntry {
  rule: Rule;
  filter: CompiledFilter;
  order: number;
  packets: number;
  bytes: number;
}

export class TableError extends Error {}

export class FlowTable {
  private entries: TableEntry[] = [];
  private steering: Steering | null = null;
  private nextOrder = 0;
  version = 0;

  /** Applies all changes or none; returns the new version. */
  apply(changes: readonly RuleChange[]): number {
    const byId = new Map(this.entries.map((e) => [e.rule.id, e]));
    changes.forEach((c, i) => {
      if (c.op === 'replace-all') {
        byId.clear();
        c.rules.forEach((r, j) => this.put(byId, r, `changes[${i}].rules[${j}]`));
      } else if (c.op === 'add') {
        this.put(byId, c.rule, `changes[${i}].rule`);
      } else if (!byId.delete(c.ruleId)) {
        throw new TableError(`changes[${i}].ruleId: no rule "${c.ruleId}"`);
      }
    });
    const entries = [...byId.values()].sort((x, y) => y.rule.priority - x.rule.priority || x.order - y.order);
    const steering = planSteering(entries);
    this.entries = entries;
    this.steering = steering;
    return ++this.version;
  }

  /** Adding a rule whose id exists modifies it in place, keeping its counters (like OFPFC_MODIFY). */
  private put(byId: Map<string, TableEntry>, rule: Rule, path: string): void {
    let filter: CompiledFilter;
    try {
      filter = compileFilter(rule.match, `${path}.match`);
    } catch (e) {
      throw new TableError((e as Error).message);
    }
    const old = byId.get(rule.id);
    byId.set(rule.id, old
      ? { rule, filter, order: old.order, packets: old.packets, bytes: old.bytes }
      : { rule, filter, order: this.nextOrder++, packets: 0, bytes: 0 });
  }

  lookup(data: Uint8Array, d: Decoded, inPort: number): TableEntry | null {
    return this.steering ? this.steering.lookup(data, d, inPort) : this.scan(data, d, inPort);
  }

  /** The plain scan in table order: what an indexed lookup must always agree with. */
  scan(data: Uint8Array, d: Decoded, inPort: number): TableEntry | null {
    for (const e of this.entries) if (matchPacket(e.filter, data, d, inPort)) return e;
    return null;
  }

  /** True when lookups go through the bucket index, false when they scan (the table does not fit it). */
  get indexed(): boolean {
    return this.steering !== null;
  }

  rules(): Rule[] {
    return this.entries.map((e) => e.rule);
  }

  counters(): { id: string; packets: number; bytes: number }[] {
    return this.entries.map((e) => ({ id: e.rule.id, packets: e.packets, bytes: e.bytes }));
  }
}
