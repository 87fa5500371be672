/** The shape shared by each `*.fuzz.ts` module and its runners (the tests and bench/fuzz.ts), and the helpers they share. */
import type fc from 'fast-check';

// Each property has its own argument tuple; the runners only hand them (all synchronous) to fc.assert and fc.check.
export type Properties = Record<string, fc.IProperty<unknown[]>>;

/** A path into a JSON value: object keys and array indexes. */
export type JsonPath = (string | number)[];

/** Every path into a JSON value, the root included. */
export function jsonPaths(v: unknown, at: JsonPath = []): JsonPath[] {
  const out = [at];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...jsonPaths(x, [...at, i])));
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push(...jsonPaths(x, [...at, k]));
  return out;
}

/**
 * A copy of `v` with the value at `path` replaced (`v` is not changed). Missing objects on the
 * way are made; a key that is not an index (a fuzzed "length", say) turns an array into an object.
 */
export function replacedAt(v: unknown, path: readonly (string | number)[], value: unknown): unknown {
  if (path.length === 0) return value;
  const base: unknown = v !== null && typeof v === 'object' ? v : {};
  const asArray = Array.isArray(base) && typeof path[0] === 'number';
  const copy = (asArray ? [...(base as unknown[])] : { ...(base as object) }) as Record<string | number, unknown>;
  copy[path[0]] = replacedAt(copy[path[0]], path.slice(1), value);
  return copy;
}
