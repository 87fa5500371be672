/**
 * A value as an error message shows it: numbers as written (NaN, Infinity), bigints as `12n`,
 * anything else as JSON, and a value JSON refuses (a cycle, a boxed bigint) or that cannot be
 * turned into a string at all as not JSON. Input from peers and files can be any of these, and
 * an error message must never throw.
 */
export function shown(v: unknown): string {
  if (typeof v === 'number' || v === undefined) return String(v);
  try {
    return JSON.stringify(v, (_key, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x)) ?? String(v);
  } catch {
    return 'a value that is not JSON';
  }
}
