/**
 * DIR/timeline.html: one self-contained page (inline SVG, no scripts) that shows, over time, the
 * packets each instance processed, and for each operation its get and put spans, the route
 * change, and the release of held events: the picture of a scale-up.
 */
import type { OperationStatus } from '../../operator/engine/operation.js';
import type { Report } from './run.js';

export interface Sample {
  t: number;
  /** Cumulative packets processed, per instance. */
  processed: Record<string, number>;
}

const W = 1000;
const LEFT = 150;
const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];

function esc(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

export function renderTimeline(report: Report, ops: OperationStatus[], samples: Sample[]): string {
  const times = [...samples.map((s) => s.t), ...ops.flatMap((o) => [o.timeline.start, o.timeline.end ?? o.timeline.start])];
  const t0 = Math.min(...times, Date.now());
  const t1 = Math.max(...times, t0 + 1);
  const x = (t: number) => LEFT + ((t - t0) / (t1 - t0)) * (W - LEFT - 20);

  // Chart 1: processing rate per instance (packets per sampling interval).
  // Samples are taken asynchronously: order them, and drop any that share a millisecond.
  const sorted = [...samples].sort((a, b) => a.t - b.t).filter((s, i, all) => i === 0 || s.t > all[i - 1].t);
  const names = [...new Set(sorted.flatMap((s) => Object.keys(s.processed)))];
  const rates = names.map((n) => sorted.slice(1).map((s, i) => ({ t: s.t, r: Math.max(0, (s.processed[n] ?? 0) - (sorted[i].processed[n] ?? 0)) / ((s.t - sorted[i].t) / 1000) })));
  const maxRate = Math.max(1, ...rates.flat().map((p) => p.r));
  const H1 = 220;
  const y = (r: number) => 20 + (1 - r / maxRate) * (H1 - 40);
  const lines = rates.map((pts, i) => pts.length < 1 ? '' :
    `<polyline fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="2" points="${pts.map((p) => `${x(p.t).toFixed(1)},${y(p.r).toFixed(1)}`).join(' ')}"/>` +
    `<text x="10" y="${40 + i * 16}" fill="${COLORS[i % COLORS.length]}" font-size="12">${esc(names[i])}</text>`).join('');
  const chart1 = `<svg width="${W}" height="${H1}" xmlns="http://www.w3.org/2000/svg">
<rect x="${LEFT}" y="20" width="${W - LEFT - 20}" height="${H1 - 40}" fill="#fafafa" stroke="#ccc"/>
<text x="${LEFT}" y="14" font-size="12">packets/s processed per instance (peak ${Math.round(maxRate).toLocaleString('en-US')})</text>
${lines}
<text x="${LEFT}" y="${H1 - 5}" font-size="11">0 s</text><text x="${W - 60}" y="${H1 - 5}" font-size="11">${((t1 - t0) / 1000).toFixed(2)} s</text>
</svg>`;

  // Chart 2: one row per operation.
  const rowH = 26;
  const H2 = 40 + ops.length * rowH;
  const span = (a: number | undefined, b: number | undefined, row: number, color: string, dy: number) =>
    a === undefined || b === undefined ? '' : `<rect x="${x(a).toFixed(1)}" y="${30 + row * rowH + dy}" width="${Math.max(1, x(b) - x(a)).toFixed(1)}" height="7" fill="${color}"/>`;
  const rows = ops.map((o, i) => {
    const tl = o.timeline;
    const label = `${o.kind} ${o.from.join(',')}→${o.to}`;
    return `<text x="4" y="${38 + i * rowH}" font-size="11">${esc(label)}</text>` +
      span(tl.start, tl.end, i, '#e0e0e0', 0) + span(tl.getStart, tl.getEnd, i, '#1f77b4', 0) + span(tl.putStart, tl.putEnd, i, '#2ca02c', 8) +
      span(tl.releaseStart, tl.releaseEnd, i, '#ff7f0e', 16) +
      (tl.route ? `<line x1="${x(tl.route).toFixed(1)}" x2="${x(tl.route).toFixed(1)}" y1="${26 + i * rowH}" y2="${50 + i * rowH}" stroke="#d62728" stroke-width="2"/>` : '') +
      `<title>${esc(`${label}: ${o.phase}, ${o.flows} flows, ${o.bytes} bytes, ${o.eventsHeld} events held, ${o.eventsReleased} released`)}</title>`;
  }).join('');
  const chart2 = `<svg width="${W}" height="${H2}" xmlns="http://www.w3.org/2000/svg">
<text x="${LEFT}" y="14" font-size="12">operations: <tspan fill="#1f77b4">get</tspan>, <tspan fill="#2ca02c">put</tspan>, <tspan fill="#d62728">route change</tspan>, <tspan fill="#ff7f0e">release of held events</tspan></text>
${rows}
</svg>`;

  const opRows = report.operations.map((o) => `<tr><td>${esc(o.kind)}</td><td>${esc(o.from)}→${esc(o.to)}</td><td>${o.phase}</td><td>${o.flows}</td><td>${o.bytes}</td><td>${o.eventsHeld}</td><td>${o.eventsReleased}</td><td>${o.durationMs}</td></tr>`).join('');
  const p = report.packets;
  return `<!doctype html><html><head><meta charset="utf-8"><title>OpenMB timeline: ${esc(report.middlebox)}</title>
<style>body{font-family:sans-serif;margin:20px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;font-size:13px}</style></head><body>
<h1>${esc(report.middlebox)}: ${esc(report.scenario)}, ${esc(report.guarantee)}</h1>
<p>${esc(report.trace)}: sent ${p.sent}, processed ${p.processed}, dropped ${p.dropped}, lost ${p.lost}, reordered ${p.reordered}; lost flows ${report.lost.flows}${report.lost.flowsCount === 'exact' ? '' : ' at least'}</p>
${chart1}
${chart2}
<table><tr><th>kind</th><th>instances</th><th>phase</th><th>flows</th><th>bytes</th><th>events held</th><th>released</th><th>ms</th></tr>${opRows}</table>
</body></html>
`;
}
