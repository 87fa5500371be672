/**
 * A Map that keeps its `limit` most recently set keys: for what the operator remembers of things
 * that are gone (a stopped instance's last counters, a deleted pool's drained outputs), so a
 * long-lived operator with churning pools does not grow without a bound.
 */
export class BoundedMap<K, V> extends Map<K, V> {
  constructor(readonly limit: number) {
    super();
  }

  override set(key: K, value: V): this {
    // Re-setting a key makes it the newest.
    super.delete(key);
    super.set(key, value);
    while (this.size > this.limit) super.delete(this.keys().next().value as K);
    return this;
  }
}
