/** A middlebox definition as the operator sees it, and the configuration an instance of it runs with in a pool. */
import type { MiddleboxDescriptor, Partitioning } from '../protocol/descriptor.js';
import { type AnyMiddlebox, ConfigError } from './definition.js';

export function describe(def: AnyMiddlebox): MiddleboxDescriptor {
  return {
    type: def.type, description: def.description, partitionKey: def.partitionKey, sharedAllFlows: def.sharedAllFlows === true,
    defaultConfig: def.defaultConfig, outputs: def.outputs,
  };
}

/**
 * The configuration values of an instance in a pool: the pool's values, then what the pool's
 * partitioning implies for this middlebox (a NAT's port classes), which wins. Defaults fill in
 * the rest when the instance parses them.
 */
export function poolInstanceConfig(def: AnyMiddlebox, values: Record<string, unknown>, partitioning?: Partitioning): Record<string, unknown> {
  return { ...values, ...(partitioning ? def.poolConfig?.(partitioning) : {}) };
}

/**
 * Why an instance in a pool with this partitioning would refuse these configuration values (the
 * middlebox's own check, as at start and at put-config), or null when it would take them.
 */
export function configProblem(def: AnyMiddlebox, values: Record<string, unknown>, partitioning?: Partitioning): ConfigError | null {
  try {
    def.parseConfig({ ...def.defaultConfig, ...poolInstanceConfig(def, values, partitioning) });
    return null;
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
}
