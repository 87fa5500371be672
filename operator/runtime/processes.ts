/** Starts OpenMB's own processes (switch, middlebox instances) as children, with logs in files. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BoundedLogFile } from './log-file.js';

/** The openmb command itself (dist/operator/runtime -> bin/openmb.js). */
export const MAIN = fileURLToPath(new URL('../../../bin/openmb.js', import.meta.url));

export interface Child {
  name: string;
  proc: ChildProcess;
  logFile: string;
  /** Resolves with the exit code (or signal) when the process ends. */
  exited: Promise<string>;
}

export function startChild(name: string, args: string[], env: NodeJS.ProcessEnv, logDir: string): Child {
  const logFile = join(logDir, `${name}.log`);
  const log = new BoundedLogFile(logFile);
  // The child's stdin is a pipe that only closes when this process ends, however it ends: the
  // child watches it (OPENMB_EXIT_WITH_PARENT) so no switch or instance outlives its controller.
  const proc = spawn(process.execPath, [MAIN, ...args], { env: { ...process.env, ...env, OPENMB_EXIT_WITH_PARENT: '1' }, stdio: ['pipe', 'pipe', 'pipe'] });
  proc.stdout!.pipe(log, { end: false });
  proc.stderr!.pipe(log, { end: false });
  const exited = new Promise<string>((resolve) => {
    proc.once('exit', (code, signal) => {
      log.end();
      resolve(signal ? `signal ${signal}` : `exit code ${code}`);
    });
  });
  return { name, proc, logFile, exited };
}

/** Asks children to stop, and kills those still running after a grace period. */
export async function stopChildren(children: Child[], graceMs = 3000): Promise<void> {
  await Promise.all(children.map(async (c) => {
    if (c.proc.exitCode !== null || c.proc.signalCode !== null) return;
    c.proc.kill('SIGTERM');
    const timer = setTimeout(() => c.proc.kill('SIGKILL'), graceMs);
    await c.exited;
    clearTimeout(timer);
  }));
}
