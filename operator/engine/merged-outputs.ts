/**
 * The pool's outputs as one middlebox would report them for all of the pool's traffic: each
 * instance's own outputs (get-outputs), merged field by field by the rules its middlebox declares
 * in its descriptor. No middlebox runs here. Used by the operator and by `openmb local`.
 */
import { compareByFields, type FieldMerge, type OutputMerge } from '../../shims/protocol/descriptor.js';
import type { MbSession } from './session.js';

export interface MergedOutputs {
  outputs: Record<string, unknown>;
  /** Flows whose state was found on more than one instance (a broken move leaves these). */
  duplicateFlows: number;
}

/** An instance's outputs that its middlebox's merge rules do not fit. */
export class MergeError extends Error {
  override readonly name = 'MergeError';
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function numbers(values: unknown[], where: string): number[] {
  return values.map((v) => {
    if (typeof v !== 'number') throw new MergeError(`${where}: expected a number, got ${JSON.stringify(v)}`);
    return v;
  });
}

function lists(values: unknown[], where: string): unknown[][] {
  return values.map((v) => {
    if (!Array.isArray(v)) throw new MergeError(`${where}: expected a list, got ${JSON.stringify(v)?.slice(0, 80)}`);
    return v;
  });
}

function records(values: unknown[], where: string): Record<string, unknown>[] {
  return values.map((v) => {
    if (!isRecord(v)) throw new MergeError(`${where}: expected an object, got ${JSON.stringify(v)?.slice(0, 80)}`);
    return v;
  });
}

/**
 * Merges records field by field, keys in the order the first record has them; `keyField` (of a
 * `keyed` list) is the same in every record and taken as it is. Ratios are computed last, from
 * the merged fields they name.
 */
function mergeRecords(fields: Record<string, FieldMerge>, rs: Record<string, unknown>[], where: string, keyField?: string): Record<string, unknown> {
  const names = [...new Set(rs.flatMap((r) => Object.keys(r)))];
  const out: Record<string, unknown> = {};
  const ratios: [string, Extract<FieldMerge, { merge: 'ratio' }>][] = [];
  for (const name of names) {
    if (name === keyField) {
      out[name] = rs[0][name];
      continue;
    }
    const rule = fields[name];
    if (!rule) throw new MergeError(`${where}.${name}: the middlebox declares no merge rule for it`);
    if (rule.merge === 'ratio') {
      out[name] = 0; // its place among the keys; the value comes once its terms are merged
      ratios.push([name, rule]);
      continue;
    }
    out[name] = mergeField(rule, rs.filter((r) => name in r).map((r) => r[name]), `${where}.${name}`);
  }
  for (const [name, rule] of ratios) {
    const [n, d] = numbers([out[rule.numerator], out[rule.denominator]], `${where}.${name}`);
    out[name] = d === 0 ? 0 : n / d;
  }
  return out;
}

function mergeField(rule: FieldMerge, values: unknown[], where: string): unknown {
  switch (rule.merge) {
    case 'sum':
      return numbers(values, where).reduce((a, b) => a + b, 0);
    case 'min':
      return Math.min(...numbers(values, where));
    case 'max':
      return Math.max(...numbers(values, where));
    case 'union': {
      const all = new Set<string>();
      for (const item of lists(values, where).flat()) {
        if (typeof item !== 'string') throw new MergeError(`${where}: expected a list of strings, got ${JSON.stringify(item)}`);
        all.add(item);
      }
      const sorted = [...all].sort();
      return rule.max === undefined ? sorted : sorted.slice(0, rule.max);
    }
    case 'concat':
      return lists(values, where).flat().sort(compareByFields(rule.orderBy));
    case 'keyed': {
      const groups = new Map<string, Record<string, unknown>[]>();
      for (const r of records(lists(values, where).flat(), `${where}[]`)) {
        const k = JSON.stringify(r[rule.key] ?? null);
        const g = groups.get(k);
        if (g) g.push(r);
        else groups.set(k, [r]);
      }
      return [...groups.values()].map((g) => mergeRecords(rule.fields, g, `${where}[]`, rule.key)).sort(compareByFields([rule.key]));
    }
    case 'record':
      return mergeRecords(rule.fields, records(values, where), where);
    case 'map': {
      const rs = records(values, where);
      const keys = [...new Set(rs.flatMap((r) => Object.keys(r)))].sort();
      return Object.fromEntries(keys.map((k) => [k, mergeField(rule.values, rs.filter((r) => k in r).map((r) => r[k]), `${where}.${k}`)]));
    }
    case 'ratio':
      throw new MergeError(`${where}: a ratio is computed from fields beside it, so it can only be a field of a record`);
  }
}

/** Merges the instances' outputs by the middlebox's rules; no instance, no outputs. */
export function mergeOutputs(rules: OutputMerge, outputs: readonly Record<string, unknown>[]): Record<string, unknown> {
  return outputs.length === 0 ? {} : mergeRecords(rules, [...outputs], 'outputs');
}

/** Counts flows whose per-flow state more than one instance holds. */
async function duplicateFlows(sessions: MbSession[]): Promise<number> {
  const seen = new Set<string>();
  let duplicates = 0;
  for (const s of sessions) {
    await s.get('per-flow', {}, (chunks) => {
      for (const c of chunks) {
        if (seen.has(c.key as string)) duplicates++;
        else seen.add(c.key as string);
      }
    });
  }
  return duplicates;
}

export async function mergedOutputs(rules: OutputMerge, sessions: MbSession[]): Promise<MergedOutputs> {
  const outputs = await Promise.all(sessions.map((s) => s.outputs().catch((e: Error) => {
    throw new Error(`reading the outputs of ${s.instance}: ${e.message}`);
  })));
  return { outputs: mergeOutputs(rules, outputs), duplicateFlows: await duplicateFlows(sessions) };
}
