/**
 * A pool's configuration as the reconciler tracks it: the values every instance must run
 * (spec.middlebox.config; each instance puts its middlebox's own defaults under them, so a field
 * dropped from the spec goes back to its default), numbered by the generation that introduced
 * them, and a digest of them, which status keeps so that a restarted operator knows whether the
 * configuration its instances report is still the spec's. Pure.
 */
import { createHash } from 'node:crypto';
import type { MiddleboxPoolStatus } from '../api/types.js';
import type { ConfigVersion } from '../engine/pool.js';
import { canonicalJson } from '../../shims/protocol/canonical-json.js';

export interface PoolConfiguration extends ConfigVersion {
  /** sha256 of the canonical JSON of spec.middlebox.config (hex, 16 digits). */
  digest: string;
}

export function configDigest(config: Record<string, unknown>): string {
  return createHash('sha256').update(canonicalJson(config)).digest('hex').slice(0, 16);
}

/**
 * The configuration of a pool whose spec at `generation` holds `config`: `current` stands while
 * the spec's values are unchanged; else the status a previous operator wrote numbers it, when
 * its digest is theirs; else `generation` introduces it.
 */
export function poolConfiguration(config: Record<string, unknown>, generation: number, current?: PoolConfiguration, status?: MiddleboxPoolStatus): PoolConfiguration {
  const digest = configDigest(config);
  if (current?.digest === digest) return current;
  const recorded = status?.configuration;
  const gen = !current && recorded?.digest === digest && recorded.generation !== undefined ? recorded.generation : generation;
  return { values: config, generation: gen, digest };
}

/** The live instances whose configuration is not the pool's (or not known yet). */
export function staleInstances(instances: readonly string[], configured: ReadonlyMap<string, number>, c: ConfigVersion): string[] {
  return instances.filter((i) => configured.get(i) !== c.generation);
}
