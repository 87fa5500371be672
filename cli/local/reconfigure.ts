/**
 * `openmb local --reconfigure AT:FILE`: a configuration change at a point of the capture, as a
 * user's edit of spec.middlebox.config would make it on a live pool. AT is a fraction of the
 * trace, as for --scale and --at; the change applies between two packets: the first
 * ceil(AT × packets) are processed under the configuration before it, every later one under
 * FILE's. FILE holds a JSON object: the whole new configuration (fields it leaves out take the
 * middlebox's defaults, as a field dropped from a pool's spec does).
 */
import { readFileSync } from 'node:fs';
import { InvalidArgumentError } from 'commander';
import { jsonObject } from '../options.js';

export interface Reconfiguration {
  /** Fraction of the trace sent when the configuration changes. */
  at: number;
  file: string;
  config: Record<string, unknown>;
}

/** Parses one --reconfigure AT:FILE (repeatable: each adds to `previous`). */
export function reconfigureOption(v: string, previous: Reconfiguration[] = []): Reconfiguration[] {
  const m = /^(0?\.\d+|1(?:\.0*)?|0):(.+)$/.exec(v.trim());
  if (!m) throw new InvalidArgumentError(`--reconfigure: "${v}" is not FRACTION:FILE (e.g. 0.5:rules.json)`);
  let text: string;
  try {
    text = readFileSync(m[2], 'utf8');
  } catch (e) {
    throw new InvalidArgumentError(`--reconfigure: cannot read ${m[2]}: ${(e as Error).message}`);
  }
  return [...previous, { at: Number(m[1]), file: m[2], config: jsonObject(`--reconfigure ${m[2]}`)(text) }];
}

/** The packet index each change applies before: the first ceil(at × total) packets run under the configuration before it. */
export function splitPoint(at: number, total: number): number {
  return Math.min(total, Math.ceil(at * total));
}
