/**
 * Checks one scaled run against the references no one here wrote or tuned: the same trace
 * through one unscaled instance, and (for the monitor) tshark's own flow counts. Used by the
 * scaling test (a slice) and by `npm run oracle` (every capture × middlebox × guarantee ×
 * transfer).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCaptureFile } from '../../shims/flow/pcap.js';
import { silentLogger } from '../../shims/log/logger.js';
import type { MonitorFlowOutput } from '../../shims/middleboxes/monitor/monitor.js';
import { referenceFlows } from '../../shims/reference/stored.js';
import type { Guarantee, Transfer } from '../../operator/engine/operation.js';
import { compareOutputs } from './compare.js';
import { type Report, runLocal, type ScaleStep } from './run.js';

/** Two scale-ups and a scale-down, as the acceptance asks. */
export const SCHEDULE: ScaleStep[] = [{ at: 0.2, replicas: 2 }, { at: 0.45, replicas: 3 }, { at: 0.7, replicas: 2 }];

export interface Verdict {
  middlebox: string;
  trace: string;
  guarantee: Guarantee;
  transfer: Transfer;
  problems: string[];
  /** Numbers worth printing beside the verdict (e.g. bytes saved, scaled and unscaled). */
  notes: Record<string, unknown>;
  scaled: Report;
  reference: Report;
}

const sameList = (name: string, a: unknown, b: unknown, problems: string[]) => {
  const c = compareOutputs({ [name]: a }, { [name]: b });
  if (!c.equal) {
    const d = c.differences[name];
    problems.push(`${name}: ${d.onlyScaled} records only in the scaled run, ${d.onlyReference} only in the unscaled run; e.g. ${JSON.stringify(d.examples[0])?.slice(0, 300)}`);
  }
};

function pick<T>(records: unknown, fields: (keyof T)[]): unknown[] {
  return (records as T[]).map((r) => Object.fromEntries(fields.map((f) => [f, r[f]])));
}

/** The unscaled run the scaled ones are compared with (one per capture and middlebox). */
export async function unscaledRun(middlebox: string, trace: string): Promise<Report> {
  return runLocal({ ...baseOptions(middlebox, trace), out: mkdtempSync(join(tmpdir(), 'openmb-ref-')), replicas: 1, schedule: [] });
}

/** Options of a run of `openmb local` that sends the capture over about two seconds. */
export function baseOptions(middlebox: string, trace: string) {
  const { packets } = readCaptureFile(trace);
  // About two seconds of traffic, so every operation runs while packets flow.
  const pace = { kind: 'rate' as const, pps: Math.max(1500, Math.ceil(packets.length / 2)) };
  return { middlebox, trace, pace, config: {}, log: silentLogger, interactive: false, noTimeline: true };
}

export interface CheckOptions {
  /** How state travels in the scaled run's operations (default direct). */
  transfer?: Transfer;
  /** The unscaled run to compare with (default: one made here). */
  reference?: Report;
  schedule?: ScaleStep[];
  /** How long the traffic lasts (default about two seconds, see baseOptions). */
  seconds?: number;
}

export async function checkScaled(middlebox: string, trace: string, guarantee: Guarantee, o: CheckOptions = {}): Promise<Verdict> {
  const { transfer = 'direct', schedule = SCHEDULE, seconds } = o;
  const reference = o.reference ?? await unscaledRun(middlebox, trace);
  const base = baseOptions(middlebox, trace);
  const pace = seconds === undefined ? base.pace : { kind: 'rate' as const, pps: Math.ceil(readCaptureFile(trace).packets.length / seconds) };
  const scaled = await runLocal({ ...base, pace, out: mkdtempSync(join(tmpdir(), 'openmb-scaled-')), replicas: 1, schedule, guarantee, transfer });
  const problems: string[] = [];
  const notes: Record<string, unknown> = {};
  const p = scaled.packets;
  if (p.processed !== p.sent) problems.push(`processed ${p.processed} != sent ${p.sent}`);
  if (p.dropped !== 0) problems.push(`dropped ${p.dropped}`);
  if (guarantee === 'order-preserving' && p.reordered !== 0) problems.push(`reordered ${p.reordered}`);
  if (scaled.errors.length > 0) problems.push(`errors: ${scaled.errors.join('; ')}`);
  const failed = scaled.operations.filter((o) => o.phase !== 'Succeeded');
  if (failed.length > 0) problems.push(`${failed.length} operations did not succeed: ${failed.map((o) => o.error).join('; ')}`);
  if (scaled.operations.filter((o) => o.kind === 'move').length < 3) problems.push(`only ${scaled.operations.length} operations ran`);
  if (scaled.duplicateFlows !== 0) problems.push(`${scaled.duplicateFlows} flows have state on two instances`);
  const so = scaled.outputs;
  const ro = reference.outputs;
  switch (middlebox) {
    case 'monitor': {
      sameList('flows', so.flows, ro.flows, problems);
      sameList('hosts', so.hosts, ro.hosts, problems);
      const tshark = referenceFlows(trace);
      sameList('flow counts vs tshark', pick<MonitorFlowOutput>(so.flows, ['proto', 'a', 'b', 'packets', 'bytes']), tshark, problems);
      notes.flows = (so.flows as unknown[]).length;
      break;
    }
    case 'ids':
      sameList('alerts', so.alerts, ro.alerts, problems);
      sameList('connections', so.connections, ro.connections, problems);
      notes.alerts = (so.alerts as unknown[]).length;
      break;
    case 'nat': {
      type T = { internal: unknown; remote: unknown; external: { ip: string; port: number }; packetsOut: number; packetsIn: number; lastSeen: number };
      sameList('translations (flow and packet counts)', pick<T>(so.translations, ['internal', 'remote', 'packetsOut', 'packetsIn']), pick<T>(ro.translations, ['internal', 'remote', 'packetsOut', 'packetsIn']), problems);
      const flows = (so.translations as T[]).map((t) => JSON.stringify([t.internal, t.remote]));
      if (new Set(flows).size !== flows.length) problems.push('a flow has more than one translation');
      const egress = so.egress as { sharedPairs?: number; badChecksumPackets?: number; inputBadChecksums?: number } | undefined;
      if (egress?.sharedPairs) problems.push(`${egress.sharedPairs} external address:port pairs were shared by two live flows`);
      notes.translations = flows.length;
      notes.egress = egress;
      break;
    }
    case 're': {
      if (so.bytesIn !== ro.bytesIn) problems.push(`bytesIn ${so.bytesIn} != unscaled ${ro.bytesIn}`);
      const egress = so.egress as { decodeFailures: number };
      if (egress.decodeFailures !== 0) problems.push(`${egress.decodeFailures} decode failures`);
      notes.bytesSaved = { scaled: so.bytesSaved, unscaled: ro.bytesSaved };
      break;
    }
    default:
      sameList('outputs', so, ro, problems);
  }
  return { middlebox, trace, guarantee, transfer, problems, notes, scaled, reference };
}
