/**
 * Drives one bench/chaos-controller.js process: commands in on stdin, its JSON events out, and a
 * SIGKILL whenever the caller wants one. Shared by the chaos run and the crash tests.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import type { MbCounters, SwitchStats } from '../shims/protocol/messages.js';

export type ControllerEvent =
  | { ready: { switchSocket: string; secret: string; instances: string[]; adopted: string[]; resumed: string[] } }
  | { resumed: { id: string; step: string; phase: string; error?: string } }
  | { operation: { id: string; kind: string; from: string[]; to: string; phase: string; step?: string; flows: number; held: number; dropped: number; resumed: boolean; error?: string } }
  | { retired: { name: string; pid: number; counters: MbCounters } }
  | { scaled: number; instances: string[] }
  | { report: { instances: Record<string, { pid: number; counters: MbCounters }>; switch: SwitchStats; outputs: Record<string, unknown> } };

const SCRIPT = fileURLToPath(new URL('./chaos-controller.js', import.meta.url));

export interface ControllerProcessOptions {
  stateDir: string;
  middlebox?: string;
  buckets?: number;
  guarantee?: string;
  leaseMs?: number;
  /** OPENMB_CRASH_AT for this process (see chaos-controller.ts). */
  crashAt?: string;
}

export class ControllerProcess {
  readonly events: ControllerEvent[] = [];
  private readonly waiters = new Set<() => void>();
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private stderr = '';

  private constructor(private readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        this.events.push(JSON.parse(line) as ControllerEvent);
      } catch {
        return;
      }
      for (const w of this.waiters) w();
    });
    child.stderr!.on('data', (d: Buffer) => { this.stderr = (this.stderr + d.toString()).slice(-4000); });
    this.exited = new Promise((resolve) => child.on('exit', (code, signal) => {
      resolve({ code, signal });
      for (const w of this.waiters) w();
    }));
  }

  static start(o: ControllerProcessOptions): ControllerProcess {
    const args = [SCRIPT, '--state-dir', o.stateDir, '--middlebox', o.middlebox ?? 'monitor', '--buckets', String(o.buckets ?? 16), '--guarantee', o.guarantee ?? 'loss-free',
      ...(o.leaseMs ? ['--lease-ms', String(o.leaseMs)] : [])];
    const env = { ...process.env, ...(o.crashAt ? { OPENMB_CRASH_AT: o.crashAt } : {}) };
    return new ControllerProcess(spawn(process.execPath, args, { env, stdio: ['pipe', 'pipe', 'pipe'] }));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Resolves with the first event (from the start) that `pick` returns a value for; rejects if the process exits first. */
  async waitFor<T>(pick: (e: ControllerEvent) => T | undefined, timeoutMs = 120_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (let seen = 0; ;) {
      for (; seen < this.events.length; seen++) {
        const v = pick(this.events[seen]);
        if (v !== undefined) return v;
      }
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`controller exited (${this.child.exitCode ?? this.child.signalCode}) before the awaited event; stderr: ${this.stderr}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no awaited event from the controller within ${timeoutMs} ms; stderr: ${this.stderr}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, left);
        function done() {
          clearTimeout(t);
          resolve();
        }
        this.waiters.add(done);
      }).finally(() => this.waiters.clear());
    }
  }

  send(cmd: Record<string, unknown>): void {
    this.child.stdin!.write(`${JSON.stringify(cmd)}\n`);
  }

  async ready(): Promise<{ switchSocket: string; secret: string; instances: string[]; adopted: string[]; resumed: string[] }> {
    return this.waitFor((e) => ('ready' in e ? e.ready : undefined));
  }

  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }

  /** Ends the process (its data plane stays, recorded in the state directory). */
  async close(): Promise<void> {
    this.child.stdin!.end();
    await this.exited;
  }
}
