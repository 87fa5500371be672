/**
 * The page's charts, on uPlot: lines of packets per second (and of events, on a second axis)
 * over time, with the operations drawn behind them as bands (a whole operation, or its steps in
 * lanes along the top) and its route change as a line.
 */
import uPlot from 'uplot';
import type { StepName } from './model.js';

export const STEP_COLORS: Record<StepName, string> = { get: '#2563eb', put: '#16a34a', route: '#dc2626', release: '#ea580c', delete: '#7c3aed' };
export const INSTANCE_COLORS = ['#0ea5e9', '#f59e0b', '#10b981', '#ef4444', '#8b5cf6', '#ec4899', '#64748b', '#84cc16', '#14b8a6', '#a16207'];

/** In the x axis' unit (seconds). No lane: the plot's whole height, translucent; a lane: a bar along the top. */
export interface Band {
  from: number;
  to: number;
  color: string;
  lane?: number;
}

export interface Overlay {
  bands: Band[];
  lines: { at: number; color: string }[];
}

export interface SeriesSpec {
  label: string;
  color: string;
  /** 'events': counts on the right-hand axis, as steps. */
  scale?: 'y' | 'events';
  dash?: number[];
}

export interface ChartSpec {
  height: number;
  xLabel: string;
  yLabel: string;
  eventsLabel?: string;
  series: SeriesSpec[];
  /** Read at every redraw, so bands follow the data. */
  overlay: () => Overlay;
  /** The x range to show; the data's when absent. */
  range?: () => [number, number];
  /** A click on the plot, at this x. */
  onPick?: (x: number) => void;
}

const LANE = 7;

function drawOverlay(u: uPlot, o: Overlay): void {
  const ctx = u.ctx;
  const { top, height } = u.bbox;
  ctx.save();
  for (const b of o.bands) {
    const x0 = u.valToPos(b.from, 'x', true);
    const x1 = u.valToPos(b.to, 'x', true);
    // An operation of a few milliseconds stays visible (and clickable) on a chart of minutes.
    const w = Math.max(4 * devicePixelRatio, x1 - x0);
    ctx.fillStyle = b.color;
    if (b.lane === undefined) ctx.fillRect(x0, top, w, height);
    else ctx.fillRect(x0, top + b.lane * (LANE + 2) * devicePixelRatio, w, LANE * devicePixelRatio);
  }
  ctx.lineWidth = 2 * devicePixelRatio;
  for (const l of o.lines) {
    const x = u.valToPos(l.at, 'x', true);
    ctx.strokeStyle = l.color;
    ctx.beginPath();
    ctx.moveTo(x, top);
    ctx.lineTo(x, top + height);
    ctx.stroke();
  }
  ctx.restore();
}

const fromZero = (_u: uPlot, _min: number, max: number): uPlot.Range.MinMax => [0, Math.max(1, max * 1.05)];

export function createChart(el: HTMLElement, spec: ChartSpec, data: uPlot.AlignedData): uPlot {
  const steps = uPlot.paths.stepped!({ align: 1 });
  const opts: uPlot.Options = {
    width: Math.max(300, el.clientWidth),
    height: spec.height,
    scales: {
      x: { time: false, ...(spec.range ? { range: () => spec.range!() } : {}) },
      y: { range: fromZero },
      events: { range: fromZero },
    },
    axes: [
      { label: spec.xLabel, values: (_u, vals) => vals.map((v) => `${+v.toFixed(3)} s`) },
      { label: spec.yLabel, scale: 'y', size: 60 },
      ...(spec.eventsLabel ? [{ label: spec.eventsLabel, scale: 'events', side: 1 as const, grid: { show: false }, size: 50 }] : []),
    ],
    series: [
      { label: 'time', value: (_u, v) => (v === null ? '–' : `${v.toFixed(3)} s`) },
      ...spec.series.map((s) => ({
        label: s.label, stroke: s.color, width: 2, scale: s.scale ?? 'y', spanGaps: true, points: { show: false },
        ...(s.dash ? { dash: s.dash } : {}), ...(s.scale === 'events' ? { paths: steps } : {}),
        value: (_u: uPlot, v: number | null) => (v === null ? '–' : `${Math.round(v).toLocaleString('en-US')}`),
      })),
    ],
    legend: { live: true },
    cursor: { drag: { x: false, y: false } },
    hooks: { drawClear: [(u) => drawOverlay(u, spec.overlay())] },
  };
  const u = new uPlot(opts, data, el);
  if (spec.onPick) u.over.addEventListener('click', () => { if (u.cursor.left !== undefined && u.cursor.left >= 0) spec.onPick!(u.posToVal(u.cursor.left, 'x')); });
  return u;
}
