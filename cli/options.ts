/** Option parsers shared by the commands; each error names the option and the value. */
import { InvalidArgumentError } from 'commander';
import { parseAddress, type Address } from '../shims/protocol/address.js';
import { partitioning, type Partitioning } from '../shims/protocol/descriptor.js';
import { describeIssues } from '../shims/protocol/messages.js';

export function addressOption(name: string) {
  return (v: string): Address => {
    try {
      return parseAddress(v, name);
    } catch (e) {
      throw new InvalidArgumentError((e as Error).message);
    }
  };
}

/** HOST:PORT to listen on ([v6]:PORT for an IPv6 address); port 0 takes a free one. */
export function listenOption(name: string, example: string) {
  return (v: string): { host: string; port: number } => {
    const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(v);
    const port = m ? Number(m[3]) : NaN;
    if (!m || port > 65535) throw new InvalidArgumentError(`${name} must be HOST:PORT (e.g. ${example}), got "${v}"`);
    return { host: m[1] ?? m[2], port };
  };
}

export function positiveNumber(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive number, got "${v}"`);
    return n;
  };
}

export function jsonObject(name: string) {
  return (v: string): Record<string, unknown> => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(v);
    } catch (e) {
      throw new InvalidArgumentError(`${name} is not valid JSON: ${(e as Error).message}`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new InvalidArgumentError(`${name} must be a JSON object`);
    return parsed as Record<string, unknown>;
  };
}

/** A pool's partitioning as JSON: {"key": "flow" | "hostPair" | "host", "buckets": N, "inside"?: [prefix, ...]}. */
export function partitioningOption(name: string) {
  return (v: string): Partitioning => {
    const parsed = partitioning.safeParse(jsonObject(name)(v));
    if (!parsed.success) throw new InvalidArgumentError(`${name}: ${describeIssues(parsed.error)}`);
    return parsed.data;
  };
}
