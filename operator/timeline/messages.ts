/**
 * What a pool's timeline is made of, as the server streams it (server-sent events) and as the
 * static timeline.html carries it inline: the page reads the same messages either way.
 * Types only: the page imports them too, and nothing here may run in a browser or in Node.
 */
import type { OperationStatus } from '../engine/operation.js';

/** The pool the timeline is of; first in every stream. */
export interface HelloMessage {
  type: 'hello';
  t: number;
  /** "namespace/name" in a cluster, "local/MIDDLEBOX" for `openmb local`. */
  pool: string;
  middlebox: string;
  buckets: number;
}

/** Cumulative packets processed per connected instance, read at `t` (ms since the epoch). */
export interface SampleMessage {
  type: 'sample';
  t: number;
  processed: Record<string, number>;
}

/** The pool's instances and which instance each hash bucket is routed to, whenever it changes. */
export interface PlacementMessage {
  type: 'placement';
  t: number;
  instances: string[];
  owner: (string | null)[];
}

/** An operation as it stood at `t`: one at its start, at each step and at its end. */
export interface OperationMessage {
  type: 'operation';
  t: number;
  op: OperationStatus;
}

/** What an `openmb local` run ended with (the report, less the middlebox's outputs). */
export interface RunSummary {
  scenario: string;
  guarantee: string;
  trace: string;
  packets: { sent: number; processed: number; dropped: number; lost: number; reordered: number };
  instances: { name: string; packets: number; state: string }[];
  outputsEqual: boolean | null;
  errors: string[];
  durationMs: number;
}

/** No more messages will come: the run is over. */
export interface EndMessage {
  type: 'end';
  t: number;
  summary: RunSummary | null;
}

export type TimelineMessage = HelloMessage | SampleMessage | PlacementMessage | OperationMessage | EndMessage;

/** Server-sent event names: `history` carries every message so far (an array), `message` one new message. */
export type TimelineEvent = 'history' | 'message';
