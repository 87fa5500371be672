/**
 * Starts OpenMB's own processes (switch, middlebox instances) with logs in files. An attached
 * child ends with the process that started it; a detached one (its own process group, stdio on
 * its log file) outlives it, and a later process takes it over by pid (adoptChild).
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BoundedLogFile } from './log-file.js';

/** The openmb command itself (dist/operator/runtime -> bin/openmb.js). */
export const MAIN = fileURLToPath(new URL('../../../bin/openmb.js', import.meta.url));

/** How often the liveness of a process that is not our child is checked. */
const POLL_MS = 200;

export interface Child {
  name: string;
  /** The process, by its pid (all an adopted one is known by). */
  readonly proc: { readonly pid: number };
  logFile: string;
  /** Resolves with the exit code (or signal) when the process ends. */
  exited: Promise<string>;
  /** True until the process has ended. */
  readonly running: boolean;
  kill(signal: NodeJS.Signals): void;
}

export interface StartOptions {
  /** Outlive this process: own process group, no stdin, stdout and stderr appended to the log file. */
  detached?: boolean;
}

export function startChild(name: string, args: string[], env: NodeJS.ProcessEnv, logDir: string, o: StartOptions = {}): Child {
  const logFile = join(logDir, `${name}.log`);
  if (o.detached) return startDetached(name, args, env, logFile);
  const log = new BoundedLogFile(logFile);
  // The child's stdin is a pipe that only closes when this process ends, however it ends: the
  // child watches it (OPENMB_EXIT_WITH_PARENT) so no switch or instance outlives its controller.
  const proc = spawn(process.execPath, [MAIN, ...args], { env: { ...process.env, ...env, OPENMB_EXIT_WITH_PARENT: '1' }, stdio: ['pipe', 'pipe', 'pipe'] });
  proc.stdout!.pipe(log, { end: false });
  proc.stderr!.pipe(log, { end: false });
  let running = true;
  const exited = new Promise<string>((resolve) => {
    proc.once('exit', (code, signal) => {
      running = false;
      log.end();
      resolve(signal ? `signal ${signal}` : `exit code ${code}`);
    });
  });
  return { name, proc: { pid: proc.pid! }, logFile, exited, get running() { return running; }, kill: (s) => { proc.kill(s); } };
}

function startDetached(name: string, args: string[], env: NodeJS.ProcessEnv, logFile: string): Child {
  const fd = openSync(logFile, 'a');
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  delete childEnv.OPENMB_EXIT_WITH_PARENT;
  const proc = spawn(process.execPath, [MAIN, ...args], { env: childEnv, stdio: ['ignore', fd, fd], detached: true });
  closeSync(fd);
  // Neither its handle nor its exit keeps this process's event loop alive: it may end first.
  proc.unref();
  let running = true;
  const exited = new Promise<string>((resolve) => {
    proc.once('exit', (code, signal) => {
      running = false;
      resolve(signal ? `signal ${signal}` : `exit code ${code}`);
    });
  });
  return { name, proc: { pid: proc.pid! }, logFile, exited, get running() { return running; }, kill: (s) => { signalPid(proc.pid!, s); } };
}

/**
 * Takes over a process an earlier controller started (detached), known by its pid. Its end is
 * seen by polling, as it is not our child.
 */
export function adoptChild(name: string, pid: number, logFile: string): Child {
  let running = true;
  let timer: NodeJS.Timeout | undefined;
  const exited = new Promise<string>((resolve) => {
    const poll = () => {
      if (isAlive(pid)) { timer = setTimeout(poll, POLL_MS).unref(); return; }
      running = false;
      resolve('exited (not our child: no code)');
    };
    poll();
  });
  void exited.finally(() => clearTimeout(timer));
  return { name, proc: { pid }, logFile, exited, get running() { return running && isAlive(pid); }, kill: (s) => { signalPid(pid, s); } };
}

/** Whether a process with this pid exists (and is not a zombie waiting for its parent). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  const stat = readProc(pid, 'stat');
  // "pid (comm) S ...": the state letter follows the last parenthesis.
  return stat === null || stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
}

/**
 * Whether `pid` is still the openmb process recorded under it: alive, and (where /proc tells)
 * running this program with these arguments, not another process that got the pid since.
 */
export function isOpenmbProcess(pid: number, args: string[]): boolean {
  if (!Number.isInteger(pid) || pid <= 1 || !isAlive(pid)) return false;
  const cmdline = readProc(pid, 'cmdline');
  if (cmdline === null) return true;
  const argv = cmdline.split('\0');
  return argv.includes(MAIN) && args.every((a) => argv.includes(a));
}

function readProc(pid: number, file: string): string | null {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return null;
  }
}

function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}

/** Asks children to stop, and kills those still running after a grace period. */
export async function stopChildren(children: Child[], graceMs = 3000): Promise<void> {
  await Promise.all(children.map(async (c) => {
    if (!c.running) return;
    c.kill('SIGTERM');
    const timer = setTimeout(() => c.kill('SIGKILL'), graceMs);
    await c.exited;
    clearTimeout(timer);
  }));
}
