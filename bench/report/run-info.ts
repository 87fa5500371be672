/**
 * What a benchmark records about its run: the command, the date, node, the commit and the load
 * on the machine (it is shared, so figures are read beside the load they were measured under).
 */
import { execFileSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import type { RunInfo } from './shapes.js';

/** The checked-out commit and whether tracked files differ from it; nothing outside a git work tree. */
function gitState(): { commit?: string; dirty?: boolean } {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return { commit: git('rev-parse', '--short', 'HEAD'), dirty: git('status', '--porcelain', '--untracked-files=no') !== '' };
  } catch {
    return {};
  }
}

const rounded = (xs: number[]) => xs.map((x) => Math.round(x * 100) / 100);

/** Starts the record of a run of `npm run <script>` with the arguments this process was given. */
export function startRun(script: string): { info: Omit<RunInfo, 'loadAverage'>; end: () => RunInfo } {
  const args = process.argv.slice(2);
  const start = rounded(loadavg());
  const info = {
    command: `npm run ${script}${args.length ? ` -- ${args.join(' ')}` : ''}`,
    date: new Date().toISOString(), node: process.version, ...gitState(), cpus: cpus().length,
  };
  return { info, end: () => ({ ...info, loadAverage: { start, end: rounded(loadavg()) } }) };
}

/** The 1-minute load average now. */
export const loadNow = (): number => rounded(loadavg())[0];
