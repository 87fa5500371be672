/**
 * The memory figures of a soak run's processes. Resident memory alone cannot tell a leak from the
 * garbage collector's sizing: V8 keeps heap it has reserved (a young generation it grew to 16 MB
 * semi-spaces, old-generation pages freed by a sweep) resident until a later collection shrinks
 * it, and garbage piles up in the old generation for minutes between full collections, so RSS
 * rises and falls by tens of megabytes with no object retained. What a leak grows is `retained`:
 * the memory outside the JS heap (rss − heapTotal: malloc, ArrayBuffers, code), plus what the old
 * generation still held after the last full collection (a leaked object outlives the young one).
 * Every process of a soak loads soak-probe.js (through NODE_OPTIONS), which writes these figures
 * to <dir>/<pid>.json for the soak to read.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';

/** The directory the probes write to; set by the soak for its children. */
export const PROBE_DIR_ENV = 'OPENMB_SOAK_PROBE_DIR';
/** How often a probe rewrites its figures: well under the soak's sampling period. */
const WRITE_MS = 1000;
const SPACES = ['new_space', 'old_space', 'code_space', 'large_object_space'] as const;

export interface MemoryFigures {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  /** native + heapLive: what the process keeps, whatever the collector has reserved or not yet collected. */
  retained: number;
  /** rss − heapTotal: resident memory outside the JS heap. */
  native: number;
  /** The old generation after the last full collection (before the first one: now, garbage and all). */
  heapLive: number;
  /** Bytes in the young generation (new space and young large objects). */
  young: number;
  /** Reserved size of the heap spaces that vary with the collector's sizing. */
  spaces: Record<(typeof SPACES)[number], number>;
  /** The old generation's size when the last full (mark-compact) collection ended, and how many there were. */
  afterMajorGc: number | null;
  majorGcs: number;
}

let lastMajor: number | null = null;
let majors = 0;
let observing = false;

/** Counts full collections and the heap they leave, from Node's gc performance entries. */
function observeMajorGcs(): void {
  if (observing) return;
  observing = true;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if ((e as { detail?: { kind?: number } }).detail?.kind !== constants.NODE_PERFORMANCE_GC_MAJOR) continue;
      majors++;
      // Entries arrive a moment after the collection: what the young generation took since is left out.
      lastMajor = oldGeneration();
    }
  }).observe({ entryTypes: ['gc'] });
}

const YOUNG = new Set(['new_space', 'new_large_object_space']);

/** Bytes in use in the heap's old generation (every space but the young ones). */
function oldGeneration(): number {
  return v8.getHeapSpaceStatistics().reduce((n, s) => (YOUNG.has(s.space_name) ? n : n + s.space_used_size), 0);
}

export function memoryFigures(): MemoryFigures {
  observeMajorGcs();
  const m = process.memoryUsage();
  const stats = new Map(v8.getHeapSpaceStatistics().map((s) => [s.space_name, s]));
  const young = [...YOUNG].reduce((n, name) => n + (stats.get(name)?.space_used_size ?? 0), 0);
  const native = m.rss - m.heapTotal;
  const heapLive = lastMajor ?? m.heapUsed - young;
  return {
    rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers,
    retained: native + heapLive, native, heapLive, young,
    spaces: Object.fromEntries(SPACES.map((s) => [s, stats.get(s)?.space_size ?? 0])) as MemoryFigures['spaces'],
    afterMajorGc: lastMajor, majorGcs: majors,
  };
}

/** Keeps <dir>/<pid>.json current (written whole, then renamed, so a reader never sees half of it). */
export function startMemoryReports(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${process.pid}.json`);
  const write = () => {
    writeFileSync(`${file}.tmp`, JSON.stringify(memoryFigures()));
    renameSync(`${file}.tmp`, file);
  };
  write();
  setInterval(write, WRITE_MS).unref();
}

/** The last figures process `pid` wrote, or null when it wrote none (yet) or has gone. */
export function readMemoryReport(dir: string, pid: number | undefined): MemoryFigures | null {
  if (pid === undefined) return null;
  try {
    return JSON.parse(readFileSync(join(dir, `${pid}.json`), 'utf8')) as MemoryFigures;
  } catch {
    return null;
  }
}
