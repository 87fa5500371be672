/**
 * What the operator knows of a middlebox type before any instance of it runs: `openmb describe`
 * run as a child process, so the operator never loads middlebox code itself. Its instances say
 * the same in their hellos.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describeIssues } from '../../shims/protocol/messages.js';
import { middleboxDescriptor, type MiddleboxDescriptor } from '../../shims/protocol/descriptor.js';
import { MAIN } from './processes.js';

const run = promisify(execFile);
const known = new Map<string, Promise<MiddleboxDescriptor>>();

async function ask(type: string): Promise<MiddleboxDescriptor> {
  let stdout: string;
  try {
    ({ stdout } = await run(process.execPath, [MAIN, 'describe', '--type', type], { timeout: 30_000 }));
  } catch (e) {
    const err = e as Error & { stderr?: string };
    throw new Error(`describing middlebox type "${type}": ${err.stderr?.trim() || err.message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(stdout);
  } catch (e) {
    throw new Error(`describing middlebox type "${type}": not JSON (${(e as Error).message})`);
  }
  const parsed = middleboxDescriptor.safeParse(json);
  if (!parsed.success) throw new Error(`describing middlebox type "${type}": ${describeIssues(parsed.error)}`);
  return parsed.data;
}

/** The descriptor of a middlebox type, asked once per type (a failure is asked again next time). */
export function describeMiddlebox(type: string): Promise<MiddleboxDescriptor> {
  let p = known.get(type);
  if (!p) {
    p = ask(type);
    known.set(type, p);
    p.catch(() => known.delete(type));
  }
  return p;
}
