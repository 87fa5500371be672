/** The ids's configuring state: a rules file, the scan detector's thresholds and window, and the reassembly limit. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../../shim/definition.js';
import { parseRules, type Rule, RuleSyntaxError } from './rules.js';
import type { ScanSettings } from './scan.js';
import { MAX_REASSEMBLY, MAX_THRESHOLD } from './state.js';

export interface IdsConfig extends ScanSettings {
  /** The rules file, as an absolute path ("" for rules given inline). */
  rulesFile: string;
  requestRules: Rule[];
  packetRules: Rule[];
  /** Out-of-order bytes a TCP direction may hold while it waits for a gap to fill. */
  reassemblyBytes: number;
}

/** The sample rules, found from the compiled code in dist/. */
export const SAMPLE_RULES = fileURLToPath(new URL('../../../../shims/middleboxes/ids/rules/sample.rules', import.meta.url));

export const DEFAULT_CONFIG = {
  rules: SAMPLE_RULES,
  portScanThreshold: 100,
  distributedScanThreshold: 1000,
  scanWindow: 60,
  reassemblyBytes: 262144,
};

const FIELDS = Object.keys(DEFAULT_CONFIG);

function threshold(values: Record<string, unknown>, field: string): number {
  const v = values[field];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_THRESHOLD) {
    throw new ConfigError(field, `must be a positive integer no greater than ${MAX_THRESHOLD}, got ${JSON.stringify(v)}`);
  }
  return v;
}

function loadRulesFile(file: string): Rule[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ConfigError('rules', `rules file "${file}" does not exist`);
    throw new ConfigError('rules', `cannot read rules file "${file}": ${(e as Error).message}`);
  }
  try {
    return parseRules(text, file);
  } catch (e) {
    if (e instanceof RuleSyntaxError) throw new ConfigError('rules', e.message);
    throw e;
  }
}

/** Rules given inline, one per element (a pool's spec carries them without a file in its Pods). */
function inlineRules(lines: unknown[]): Rule[] {
  lines.forEach((line, i) => {
    if (typeof line !== 'string') throw new ConfigError(`rules[${i}]`, `must be a rule as a string, got ${JSON.stringify(line)}`);
    if (line.includes('\n')) throw new ConfigError(`rules[${i}]`, 'holds a line break: give one rule per element');
  });
  try {
    return parseRules(lines.join('\n'), 'rules');
  } catch (e) {
    if (e instanceof RuleSyntaxError) throw new ConfigError(`rules[${e.line - 1}]`, `column ${e.column}: ${e.problem}`);
    throw e;
  }
}

function loadRules(value: unknown): { file: string; rules: Rule[] } {
  if (Array.isArray(value)) return { file: '', rules: inlineRules(value) };
  if (typeof value !== 'string' || value === '') throw new ConfigError('rules', `must be the path of a rules file, or a list of rules, got ${JSON.stringify(value)}`);
  const file = resolve(value);
  return { file, rules: loadRulesFile(file) };
}

export function parseIdsConfig(values: Record<string, unknown>): IdsConfig {
  for (const k of Object.keys(values)) if (!FIELDS.includes(k)) throw new ConfigError(k, `unknown setting for the ids (known: ${FIELDS.join(', ')})`);
  const portScanThreshold = threshold(values, 'portScanThreshold');
  const distributedScanThreshold = threshold(values, 'distributedScanThreshold');
  const w = values.scanWindow;
  if (typeof w !== 'number' || !Number.isFinite(w) || w <= 0) throw new ConfigError('scanWindow', `must be a positive number of seconds, got ${JSON.stringify(w)}`);
  const reassemblyBytes = values.reassemblyBytes;
  if (typeof reassemblyBytes !== 'number' || !Number.isInteger(reassemblyBytes) || reassemblyBytes < 0 || reassemblyBytes > MAX_REASSEMBLY) {
    throw new ConfigError('reassemblyBytes', `must be an integer from 0 to ${MAX_REASSEMBLY}, got ${JSON.stringify(reassemblyBytes)}`);
  }
  const { file, rules } = loadRules(values.rules);
  return {
    rulesFile: file,
    requestRules: rules.filter((r) => r.kind === 'request'),
    packetRules: rules.filter((r) => r.kind === 'packet'),
    portScanThreshold,
    distributedScanThreshold,
    scanWindow: w,
    reassemblyBytes,
  };
}
