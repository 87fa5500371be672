/**
 * Whether a middlebox takes a configuration, asked of `openmb describe --type T --check-configs`,
 * a long-lived child process per middlebox type (one request line, one answer line, in order), so
 * the operator never loads middlebox code itself (see describe.ts) and a check costs no process
 * start. The answer is the middlebox's own: the check an instance makes when it starts or takes a
 * put-config. A checker that dies or stalls fails the checks it holds and is started afresh.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import type { Partitioning } from '../../shims/protocol/descriptor.js';
import { describeIssues } from '../../shims/protocol/messages.js';
import { MAIN } from './processes.js';

const TIMEOUT_MS = 20_000;

const answer = z.union([
  z.object({ valid: z.literal(true) }).strict(),
  z.object({ valid: z.literal(false), field: z.string(), message: z.string() }).strict(),
  z.object({ error: z.string() }).strict(),
]);
export type ConfigVerdict = { valid: true } | { valid: false; field: string; message: string };

interface Pending {
  resolve: (v: ConfigVerdict) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

class Checker {
  private readonly proc: ChildProcessWithoutNullStreams;
  private readonly pending: Pending[] = [];
  private stderr = '';
  dead = false;

  constructor(private readonly type: string) {
    this.proc = spawn(process.execPath, [MAIN, 'describe', '--type', type, '--check-configs'], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.stderr.on('data', (d: Buffer) => { this.stderr = (this.stderr + d.toString()).slice(-2000); });
    createInterface({ input: this.proc.stdout }).on('line', (line) => this.answered(line));
    this.proc.on('error', (e) => this.die(e.message));
    this.proc.on('exit', (code, signal) => this.die(`exited (${signal ?? code})${this.stderr ? `: ${this.stderr.trim()}` : ''}`));
    this.proc.stdin.on('error', (e) => this.die(e.message));
    // An idle checker keeps no process alive; it ends when our end of its stdin closes.
    this.proc.unref();
    for (const s of [this.proc.stdin, this.proc.stdout, this.proc.stderr]) (s as unknown as { unref?: () => void }).unref?.();
  }

  check(values: Record<string, unknown>, partitioning: Partitioning): Promise<ConfigVerdict> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.die(`no answer within ${TIMEOUT_MS / 1000} s`), TIMEOUT_MS);
      this.pending.push({ resolve, reject, timer });
      this.proc.stdin.write(`${JSON.stringify({ config: values, partitioning })}\n`);
    });
  }

  private answered(line: string): void {
    const p = this.pending.shift();
    if (!p) return;
    clearTimeout(p.timer);
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch (e) {
      p.reject(new Error(`checking a ${this.type} configuration: not JSON (${(e as Error).message})`));
      return;
    }
    const parsed = answer.safeParse(json);
    if (!parsed.success) p.reject(new Error(`checking a ${this.type} configuration: ${describeIssues(parsed.error)}`));
    else if ('error' in parsed.data) p.reject(new Error(`checking a ${this.type} configuration: ${parsed.data.error}`));
    else p.resolve(parsed.data);
  }

  private die(why: string): void {
    if (this.dead) return;
    this.dead = true;
    this.proc.kill();
    for (const p of this.pending.splice(0)) {
      clearTimeout(p.timer);
      p.reject(new Error(`the ${this.type} configuration checker ${why}`));
    }
  }
}

const checkers = new Map<string, Checker>();

export function checkConfig(type: string, values: Record<string, unknown>, partitioning: Partitioning): Promise<ConfigVerdict> {
  let c = checkers.get(type);
  if (!c || c.dead) {
    c = new Checker(type);
    checkers.set(type, c);
  }
  return c.check(values, partitioning);
}
