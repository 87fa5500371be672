/**
 * tshark's dissections of the repository's captures, stored beside them in
 * `data/traces/references/<capture>.tshark.json` (written by `npm run references`), so the
 * oracles need no tshark. Each file names the capture's SHA-256, the tshark version and the exact
 * arguments of each reduction. A capture outside the repository (or one whose stored reference
 * no longer matches its bytes) falls back to running tshark, and says so when tshark is absent.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { tracesDir } from '../traffic/trace-dir.js';
import {
  BAD_CHECKSUM_ARGS, FLOW_ARGS, HTTP_ARGS, tsharkAvailable, tsharkBadChecksumFrames, tsharkFlows, tsharkHttpRequests,
  tsharkVersion, type ReferenceFlow,
} from './tshark.js';

const endpoint = z.object({ ip: z.string(), port: z.number().int() });
const flow = z.object({ proto: z.enum(['tcp', 'udp']), a: endpoint, b: endpoint, packets: z.number().int(), bytes: z.number().int() });
const command = z.array(z.string());

export const StoredReference = z.object({
  capture: z.string(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  tshark: z.string(),
  flows: z.object({ command, flows: z.array(flow) }),
  httpRequests: z.object({ command, requests: z.array(z.tuple([z.string(), z.number().int()])) }),
  badChecksumFrames: z.object({ command, frames: z.array(z.number().int()) }),
});
export type StoredReference = z.infer<typeof StoredReference>;

/** The captures in the traces folder, by name. */
export function captures(): string[] {
  return readdirSync(tracesDir()).filter((f) => /\.pcap(ng)?$/.test(f)).sort();
}

export function referencesDir(): string {
  return join(tracesDir(), 'references');
}

export function referencePath(capture: string): string {
  return join(referencesDir(), `${basename(capture)}.tshark.json`);
}

export function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** The shell command a reduction ran, as a user would type it. */
const commandLine = (file: string, args: string[]) => ['tshark', '-r', basename(file), ...args];

/** Runs tshark on a capture for every reduction. */
export function liveReference(file: string): StoredReference {
  return {
    capture: basename(file),
    sha256: sha256File(file),
    tshark: tsharkVersion(),
    flows: { command: commandLine(file, FLOW_ARGS), flows: tsharkFlows(file) },
    httpRequests: { command: commandLine(file, HTTP_ARGS), requests: tsharkHttpRequests(file) },
    badChecksumFrames: { command: commandLine(file, BAD_CHECKSUM_ARGS), frames: tsharkBadChecksumFrames(file) },
  };
}

/** The stored reference of a capture, validated; undefined when none is stored. */
export function readStoredReference(capture: string): StoredReference | undefined {
  const path = referencePath(capture);
  if (!existsSync(path)) return undefined;
  const parsed = StoredReference.safeParse(JSON.parse(readFileSync(path, 'utf8')));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${path}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return parsed.data;
}

const cache = new Map<string, StoredReference>();

/** tshark's reference for a capture file: stored when it matches the file's bytes, else live. */
export function referenceFor(file: string): StoredReference {
  const hit = cache.get(file);
  if (hit) return hit;
  const stored = readStoredReference(file);
  let ref: StoredReference;
  if (stored && stored.sha256 === sha256File(file)) ref = stored;
  else if (tsharkAvailable()) ref = liveReference(file);
  else throw new Error(`${file}: no stored tshark reference matches it (${stored ? 'the stored one is for other bytes' : `none at ${referencePath(file)}`}) and tshark is not installed`);
  cache.set(file, ref);
  return ref;
}

export const referenceFlows = (file: string): ReferenceFlow[] => referenceFor(file).flows.flows;
export const referenceHttpRequests = (file: string): Map<string, number> => new Map(referenceFor(file).httpRequests.requests);
export const referenceBadChecksumFrames = (file: string): Set<number> => new Set(referenceFor(file).badChecksumFrames.frames);
