/**
 * The JSON the benchmarks print with --json (bench/moves.ts, bench/dataplane.ts), as schemas:
 * the scripts build these objects, and the README's tables are rendered from saved copies of
 * them (bench/readme-tables.ts), which are checked here first so a stale or hand-edited file is
 * refused naming the field instead of rendering a wrong table.
 */
import { z } from 'zod';
import { GUARANTEES, TRANSFERS } from '../../operator/engine/operation.js';

const count = z.number().int().nonnegative();
const figure = z.number().nonnegative();

/** Where and when a benchmark ran, so a table can say what produced it. */
export const runInfoSchema = z.object({
  /** The command line, as a reader would type it (npm run … -- args). */
  command: z.string(),
  /** ISO 8601, when the run started. */
  date: z.string(),
  node: z.string(),
  /** The checked-out commit (short), when the run was in a git work tree. */
  commit: z.string().optional(),
  /** Whether tracked files differed from that commit. */
  dirty: z.boolean().optional(),
  cpus: count,
  /** The 1, 5 and 15 minute load averages at the start and at the end of the run. */
  loadAverage: z.object({ start: z.array(figure).length(3), end: z.array(figure).length(3) }),
});
export type RunInfo = z.infer<typeof runInfoSchema>;

export const MOVE_VARIANTS = [...GUARANTEES, 'stop-and-copy'] as const;

export const moveRowSchema = z.object({
  flows: count,
  variant: z.enum(MOVE_VARIANTS),
  /** The transfer the move was asked for. */
  transfer: z.enum(TRANSFERS),
  /** The transfer the operation reports it used, where its status says. */
  transferUsed: z.enum(TRANSFERS).optional(),
  /** Whether the destination's puts overlapped the get (the default) or followed it one by one. */
  puts: z.enum(['parallel', 'serial']),
  moveMs: figure,
  /** Packets of the moved flows held at the switch during the move. */
  held: count,
  /** Latency from switch ingress to processing of the packets during the move. */
  p50Ms: figure,
  p99Ms: figure,
  /** State bytes moved: OperationStatus.bytes; for stop-and-copy, counted the same way (batch bodies, or the destination's acks). */
  bytes: count,
  /** bytes / 1e6 / move seconds. */
  stateMBps: figure,
  /** Flow states the destination took. */
  movedFlows: count,
  /** The machine's 1-minute load average just before this move. */
  load: figure,
});
export type MoveRow = z.infer<typeof moveRowSchema>;

export const movesReportSchema = runInfoSchema.extend({
  /** Packets/s of background traffic during each move. */
  rate: figure,
  /** Loopback TCP throughput measured in the same run (bench/loopback.ts), MB (1e6 bytes) per second. */
  loopbackMBps: figure,
  moves: z.array(moveRowSchema),
});
export type MovesReport = z.infer<typeof movesReportSchema>;

export const switchFigureSchema = z.object({ instances: count, packets: count, pps: figure, cpuUsPerPacket: figure });
export const middleboxFigureSchema = z.object({ middlebox: z.string(), traffic: z.string(), packets: count, pps: figure, bytesPerFlow: figure });
export const getPutFigureSchema = z.object({ middlebox: z.string(), scope: z.string(), entries: count, stateBytes: count, ms: figure });
export type MiddleboxFigure = z.infer<typeof middleboxFigureSchema>;
export type GetPutFigure = z.infer<typeof getPutFigureSchema>;

export const dataplaneReportSchema = runInfoSchema.extend({
  rounds: count,
  /** TCP flows of the handshake traffic behind the switch and get + put figures. */
  flows: count,
  switch: z.array(switchFigureSchema).optional(),
  middlebox: z.array(middleboxFigureSchema).optional(),
  getPut: z.array(getPutFigureSchema).optional(),
});
export type DataplaneReport = z.infer<typeof dataplaneReportSchema>;

/** Parses a saved report, refusing it with the first offending field's path. */
export function parseReport<T>(schema: z.ZodType<T>, text: string, source: string): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const banner = text.startsWith('> ') ? '; it starts with npm\'s banner: save the output of npm run -s' : '';
    throw new Error(`${source}: not JSON (${(e as Error).message})${banner}`);
  }
  const r = schema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new Error(`${source}: ${issue.path.length ? issue.path.join('.') : '(top level)'}: ${issue.message}`);
  }
  return r.data;
}
