/**
 * One pool's timeline: the messages so far (bounded) and whoever is watching it live. Operations
 * are recorded only when they changed since their last message, so an operation reported both
 * by its progress callback and by a poll is recorded once per step.
 */
import type { OperationStatus } from '../engine/operation.js';
import type { HelloMessage, RunSummary, TimelineMessage } from './messages.js';

export type Subscriber = (m: TimelineMessage) => void;

/** A long-lived pool keeps the latest messages; an `openmb local` run stays far below this. */
const DEFAULT_MAX_MESSAGES = 50_000;

/** What of an operation a new message is worth sending for. */
function signature(s: OperationStatus): string {
  return JSON.stringify([s.phase, s.flows, s.bytes, s.eventsHeld, s.eventsReleased, s.timeline, s.error ?? null, s.lostFlows ?? null]);
}

export class TimelineFeed {
  private readonly messages: TimelineMessage[] = [];
  private readonly subscribers = new Set<Subscriber>();
  private readonly sent = new Map<string, string>();
  private placementSeen = '';
  private ended = false;

  constructor(readonly hello: Omit<HelloMessage, 'type' | 't'>, private readonly maxMessages = DEFAULT_MAX_MESSAGES,
    private readonly now: () => number = Date.now) {
    this.push({ type: 'hello', t: this.now(), ...hello });
  }

  /** Every message so far, oldest first, the hello always first. */
  history(): TimelineMessage[] {
    return [...this.messages];
  }

  get watchers(): number {
    return this.subscribers.size;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** Calls `fn` with every message from now on; returns the unsubscribe. */
  subscribe(fn: Subscriber): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  sample(processed: Record<string, number>): void {
    this.push({ type: 'sample', t: this.now(), processed });
  }

  placement(instances: readonly string[], owner: readonly (string | null)[]): void {
    const key = JSON.stringify([instances, owner]);
    if (key === this.placementSeen) return;
    this.placementSeen = key;
    this.push({ type: 'placement', t: this.now(), instances: [...instances], owner: [...owner] });
  }

  /** Records the operation if it changed since it was last recorded; true if it did. */
  operation(s: OperationStatus): boolean {
    const sig = signature(s);
    if (this.sent.get(s.id) === sig) return false;
    this.sent.set(s.id, sig);
    // A copy: the engine keeps mutating its status object.
    this.push({ type: 'operation', t: this.now(), op: JSON.parse(JSON.stringify(s)) as OperationStatus });
    return true;
  }

  /** True once this operation's last recorded message had it finished. */
  finished(id: string): boolean {
    const sig = this.sent.get(id);
    return sig !== undefined && (sig.startsWith('["Succeeded"') || sig.startsWith('["Failed"'));
  }

  end(summary: RunSummary | null): void {
    if (this.ended) return;
    this.push({ type: 'end', t: this.now(), summary });
    this.ended = true;
  }

  private push(m: TimelineMessage): void {
    if (this.ended) return;
    this.messages.push(m);
    // Past the bound, the oldest tenth goes (the hello stays): the page still has every recent second.
    if (this.messages.length > this.maxMessages) this.messages.splice(1, Math.ceil(this.maxMessages / 10));
    for (const fn of this.subscribers) fn(m);
  }
}
