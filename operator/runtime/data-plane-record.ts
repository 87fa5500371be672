/**
 * What a LocalCluster whose processes outlive it runs, kept in its state directory so a later
 * one adopts them: the switch (pid, socket), the controller address it told every child to dial,
 * each instance (name, type, pid) and where the shared secret is if the cluster made it. Written
 * whole on every change (temporary file, then rename) so a reader never sees half of one.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const RECORD_FILE = 'data-plane.json';
const VERSION = 1;

export interface RecordedProcess {
  name: string;
  pid: number;
}

export interface RecordedInstance extends RecordedProcess {
  mbType: string;
}

export interface DataPlaneRecord {
  version: typeof VERSION;
  pool: string;
  /** host:port the controller listened on: every child redials it. */
  controller: string;
  switch: RecordedProcess & { socket: string };
  /** Directory that holds the switch's socket (removed with the data plane). */
  runDir: string;
  /** File holding the shared secret, when the cluster made one (absent: the caller passes it). */
  secretFile?: string;
  instances: RecordedInstance[];
}

export function recordPath(stateDir: string): string {
  return join(stateDir, RECORD_FILE);
}

/** The record in `stateDir`, null when there is none; a record that is not one throws, naming the field. */
export function readRecord(stateDir: string): DataPlaneRecord | null {
  const file = recordPath(stateDir);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not JSON (${(e as Error).message})`);
  }
  return parseRecord(raw, file);
}

export function parseRecord(raw: unknown, where: string): DataPlaneRecord {
  const obj = (v: unknown, field: string): Record<string, unknown> => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${where}: ${field} must be an object`);
    return v as Record<string, unknown>;
  };
  const str = (o: Record<string, unknown>, field: string, path: string): string => {
    const v = o[field];
    if (typeof v !== 'string' || v.length === 0) throw new Error(`${where}: ${path} must be a non-empty string`);
    return v;
  };
  const pid = (o: Record<string, unknown>, path: string): number => {
    const v = o.pid;
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 1) throw new Error(`${where}: ${path}.pid must be a process id (an integer > 1)`);
    return v;
  };
  const r = obj(raw, 'the record');
  if (r.version !== VERSION) throw new Error(`${where}: version must be ${VERSION}, got ${JSON.stringify(r.version)}`);
  const sw = obj(r.switch, 'switch');
  if (!Array.isArray(r.instances)) throw new Error(`${where}: instances must be a list`);
  const instances = r.instances.map((v, i) => {
    const o = obj(v, `instances[${i}]`);
    return { name: str(o, 'name', `instances[${i}].name`), mbType: str(o, 'mbType', `instances[${i}].mbType`), pid: pid(o, `instances[${i}]`) };
  });
  if (r.secretFile !== undefined) str(r, 'secretFile', 'secretFile');
  return {
    version: VERSION, pool: str(r, 'pool', 'pool'), controller: str(r, 'controller', 'controller'), runDir: str(r, 'runDir', 'runDir'),
    switch: { name: str(sw, 'name', 'switch.name'), pid: pid(sw, 'switch'), socket: str(sw, 'socket', 'switch.socket') },
    ...(r.secretFile !== undefined ? { secretFile: r.secretFile as string } : {}),
    instances,
  };
}

export function writeRecord(stateDir: string, record: DataPlaneRecord): void {
  const file = recordPath(stateDir);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(record, null, 2)}\n`);
  renameSync(tmp, file);
}

export function removeRecord(stateDir: string): void {
  rmSync(recordPath(stateDir), { force: true });
}
