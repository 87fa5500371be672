/**
 * `openmb describe`: what the operator needs to know of a middlebox type, before any instance of
 * it runs; with --check-config, whether the middlebox takes a configuration (the operator's
 * admission webhook asks this way, so that it never loads middlebox code itself).
 */
import { Command, Option } from 'commander';
import { createInterface } from 'node:readline';
import { partitioning as partitioningSchema, type Partitioning } from '../shims/protocol/descriptor.js';
import type { AnyMiddlebox } from '../shims/shim/definition.js';
import { MIDDLEBOXES, middleboxByType } from '../shims/middleboxes/registry.js';
import { configProblem, describe } from '../shims/shim/descriptor.js';
import { jsonObject, partitioningOption } from './options.js';

export function describeCommand(): Command {
  return new Command('describe')
    .description('print a middlebox type\'s descriptor as JSON: its partition key, whether new instances get a copy of its all-flows state, its default configuration, how its outputs merge across instances')
    .addOption(new Option('--type <type>', 'middlebox type').choices(Object.keys(MIDDLEBOXES)).makeOptionMandatory())
    .option('--check-config <json>', 'instead, check configuration values as the middlebox would at start: prints {"valid": true}, or {"valid": false, "field", "message"} naming the field', jsonObject('--check-config'))
    .option('--partitioning <json>', 'with --check-config: the pool\'s partitioning, {"key", "buckets", "inside"?}, for middleboxes that derive configuration from it', partitioningOption('--partitioning'))
    .option('--check-configs', 'instead, read one {"config", "partitioning"?} JSON object per line from stdin and answer each with a line as --check-config does (for a long-lived checker)')
    .action((o: { type: string; checkConfig?: Record<string, unknown>; partitioning?: Partitioning; checkConfigs?: boolean }) => {
      const def = middleboxByType(o.type);
      if (o.checkConfigs) {
        const lines = createInterface({ input: process.stdin });
        lines.on('line', (line) => process.stdout.write(`${JSON.stringify(checkLine(def, line))}\n`));
        return;
      }
      if (!o.checkConfig) {
        process.stdout.write(`${JSON.stringify(describe(def), null, 2)}\n`);
        return;
      }
      process.stdout.write(`${JSON.stringify(verdict(def, o.checkConfig, o.partitioning))}\n`);
    });
}

function verdict(def: AnyMiddlebox, config: Record<string, unknown>, partitioning?: Partitioning) {
  const problem = configProblem(def, config, partitioning);
  return problem ? { valid: false, field: problem.field, message: problem.message } : { valid: true };
}

/** One request line of --check-configs; a line that is not one is answered with the reason as an error. */
function checkLine(def: AnyMiddlebox, line: string): Record<string, unknown> {
  let req: unknown;
  try {
    req = JSON.parse(line);
  } catch (e) {
    return { error: `not JSON: ${(e as Error).message}` };
  }
  const r = req as { config?: unknown; partitioning?: unknown } | null;
  if (!r || typeof r.config !== 'object' || r.config === null || Array.isArray(r.config)) return { error: 'config: must be a JSON object' };
  if (r.partitioning === undefined) return verdict(def, r.config as Record<string, unknown>);
  const p = partitioningSchema.safeParse(r.partitioning);
  if (!p.success) return { error: `partitioning: ${p.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}` };
  return verdict(def, r.config as Record<string, unknown>, p.data);
}
