/**
 * The timeline page (browser code): a pool's packets per second per instance, its buckets and
 * where they are routed, and every operation with its steps, as they happen (a stream of
 * server-sent events, read with fetch so that it can carry a bearer token) or as a run recorded
 * them (the messages inside a static page). Any operation opens on its own window of time:
 * its source's and destination's packet rates and its events, on one axis.
 *
 * Each message is rendered as it comes (Preact's top-level render is synchronous), so an
 * operation that starts and ends between two samples still shows as running, however briefly.
 */
import { Component, createRef, render, type ComponentChildren } from 'preact';
import { html } from 'htm/preact';
import type uPlot from 'uplot';
import type { OperationStatus } from '../../engine/operation.js';
import type { TimelineMessage } from '../messages.js';
import { createChart, INSTANCE_COLORS, STEP_COLORS, type ChartSpec, type Overlay } from './charts.js';
import {
  apply, bucketCounts, bucketRanges, bucketsOf, durationText, emptyModel, movingBuckets, operationWindow, origin, rates, steps, type Model,
} from './model.js';

type Connection = 'static' | 'connecting' | 'live' | 'unauthorized' | 'disconnected';

const TOKEN_KEY = 'openmb-timeline-token';
let model = emptyModel();
let connection: Connection = 'connecting';
let problem = '';

function hashParams(): URLSearchParams {
  return new URLSearchParams(location.hash.slice(1));
}

function selectOperation(id: string | null): void {
  const p = hashParams();
  if (id) p.set('op', id);
  else p.delete('op');
  location.hash = p.toString();
}

const colorOf = (m: Model, instance: string) => INSTANCE_COLORS[Math.max(0, m.instances.indexOf(instance)) % INSTANCE_COLORS.length];
const opLabel = (s: OperationStatus) => `${s.kind} ${s.from.join(', ')} → ${s.to}`;

/** What flows an operation is for: its buckets, the rest of its filter (a server's flows), or all. */
function flowsText(s: OperationStatus): string {
  const b = bucketsOf(s);
  const rest = Object.fromEntries(Object.entries(s.filter).filter(([k]) => k !== 'buckets'));
  const parts = [...(Object.keys(rest).length > 0 ? [JSON.stringify(rest)] : []), ...(b ? [`buckets ${bucketRanges(b)}`] : [])];
  return parts.length === 0 ? 'all flows' : parts.join(' in ');
}

interface ChartProps {
  spec: ChartSpec;
  data: uPlot.AlignedData;
  /** A new chart when this changes (another operation, other series). */
  identity: string;
}

/** A uPlot chart inside a Preact tree: made on mount, fed new data on every render. */
class Chart extends Component<ChartProps> {
  private readonly box = createRef<HTMLDivElement>();
  private chart: uPlot | null = null;
  private readonly resize = () => this.chart?.setSize({ width: Math.max(300, this.box.current!.clientWidth), height: this.props.spec.height });

  /** The chart reads its overlay, range and pick through the latest props, not those it was made with. */
  private make(): uPlot {
    const spec = this.props.spec;
    return createChart(this.box.current!, {
      ...spec, overlay: () => this.props.spec.overlay(), range: spec.range && (() => this.props.spec.range!()), onPick: spec.onPick && ((x) => this.props.spec.onPick?.(x)),
    }, this.props.data);
  }

  override componentDidMount(): void {
    this.chart = this.make();
    addEventListener('resize', this.resize);
  }

  override componentDidUpdate(prev: ChartProps): void {
    if (prev.identity !== this.props.identity) {
      this.chart?.destroy();
      this.chart = this.make();
    } else {
      this.chart?.setData(this.props.data);
    }
  }

  override componentWillUnmount(): void {
    removeEventListener('resize', this.resize);
    this.chart?.destroy();
  }

  override render() {
    return html`<div class="chart" ref=${this.box}></div>`;
  }
}

function RunChart({ m }: { m: Model }) {
  const t0 = origin(m);
  const r = rates(m.samples, m.instances, 500);
  const ops = [...m.operations.values()].map((o) => o.status);
  const sec = (t: number) => (t - t0) / 1000;
  const overlay = (): Overlay => ({
    bands: ops.map((s) => ({ from: sec(s.timeline.start), to: sec(s.timeline.end ?? Date.now()), color: s.phase === 'Failed' ? 'rgba(220,38,38,.18)' : 'rgba(37,99,235,.13)' })),
    lines: ops.filter((s) => s.timeline.route !== undefined).map((s) => ({ at: sec(s.timeline.route!), color: STEP_COLORS.route })),
  });
  const pick = (x: number) => {
    const t = t0 + x * 1000;
    const hit = ops.find((s) => t >= s.timeline.start - 100 && t <= (s.timeline.end ?? Date.now()) + 100);
    if (hit) selectOperation(hit.id);
  };
  const spec: ChartSpec = {
    height: 260, xLabel: 'seconds since the start', yLabel: 'packets/s',
    series: m.instances.map((n) => ({ label: n, color: colorOf(m, n) })), overlay, onPick: pick,
  };
  return html`<section id="run">
    <h2>Packets per second, per instance</h2>
    <p class="sub">Shaded: operations (click one to open its window); red lines: route changes.</p>
    <${Chart} spec=${spec} data=${[r.t.map(sec), ...m.instances.map((n) => r.byInstance[n])]} identity=${m.instances.join(',')} />
  </section>`;
}

function Buckets({ m }: { m: Model }) {
  const p = m.placement;
  if (!p) return null;
  const moving = movingBuckets(m);
  const counts = bucketCounts(p);
  return html`<section id="buckets">
    <h2>Buckets</h2>
    <div class="legend">${counts.map((c) => html`<span data-instance=${c.instance}><span class="swatch" style=${`background:${colorOf(m, c.instance)}`}></span>${c.instance}: ${c.buckets} buckets</span>`)}
      ${moving.size > 0 ? html`<span>hatched: moving now</span>` : null}</div>
    <div class="buckets">${p.owner.map((o, b) => html`<div class=${`bucket${moving.has(b) ? ' moving' : ''}`} data-owner=${o ?? ''}
      title=${`bucket ${b}: ${o ?? 'no instance'}${moving.has(b) ? ' (moving)' : ''}`} style=${`background:${o ? colorOf(m, o) : '#cbd5e1'}`}>${b}</div>`)}</div>
  </section>`;
}

function OperationWindow({ m, id }: { m: Model; id: string }) {
  const track = m.operations.get(id);
  if (!track) return html`<section id="operation"><p>No operation ${id} in this timeline. <button onClick=${() => selectOperation(null)}>close</button></p></section>`;
  const s = track.status;
  const now = Date.now();
  const w = operationWindow(s, now);
  const t0 = s.timeline.start;
  const sec = (t: number) => (t - t0) / 1000;
  const parties = [...s.from, s.to];
  const r = rates(m.samples, parties, 200, w.from, w.to);
  // Rates at sample times, events at the times they were reported: one x axis for both.
  const xs = [...new Set([...r.t, ...track.points.map((p) => p.t)])].sort((a, b) => a - b);
  const at = new Map(r.t.map((t, i) => [t, i]));
  const eventsAt = (key: 'held' | 'released') => {
    let j = -1;
    return xs.map((t) => {
      while (j + 1 < track.points.length && track.points[j + 1].t <= t) j++;
      return j < 0 ? null : track.points[j][key];
    });
  };
  const data: uPlot.AlignedData = [
    xs.map(sec),
    ...parties.map((n) => xs.map((t) => (at.has(t) ? r.byInstance[n][at.get(t)!] : null))),
    eventsAt('held'), eventsAt('released'),
  ];
  const st = steps(s, now);
  const lanes = ['get', 'put', 'release', 'delete'];
  const overlay = (): Overlay => ({
    bands: [
      { from: sec(s.timeline.start), to: sec(s.timeline.end ?? Date.now()), color: 'rgba(37,99,235,.08)' },
      ...st.filter((x) => x.name !== 'route').map((x) => ({ from: sec(x.from), to: sec(x.to), color: STEP_COLORS[x.name], lane: lanes.indexOf(x.name) })),
    ],
    lines: st.filter((x) => x.name === 'route').map((x) => ({ at: sec(x.from), color: STEP_COLORS.route })),
  });
  const spec: ChartSpec = {
    height: 300, xLabel: `seconds from the start of ${s.id}`, yLabel: 'packets/s', eventsLabel: 'events',
    series: [
      ...s.from.map((n) => ({ label: `${n} (source)`, color: colorOf(m, n) })),
      { label: `${s.to} (destination)`, color: colorOf(m, s.to) },
      { label: 'events held', color: '#111827', scale: 'events' as const },
      { label: 'events released', color: '#ea580c', scale: 'events' as const, dash: [5, 3] },
    ],
    overlay, range: () => [sec(w.from), sec(w.to)],
  };
  const end = s.timeline.end;
  return html`<section id="operation" data-op=${s.id} data-phase=${s.phase}>
    <h2>${s.id}: ${opLabel(s)} <button onClick=${() => selectOperation(null)}>close</button></h2>
    <p class="sub">${`${flowsText(s)} · ${s.guarantee} · `}<span class="phase">${s.phase}</span>${[
      end ? ` in ${durationText(end - s.timeline.start)}` : '', ` · ${s.flows} flows, ${s.bytes.toLocaleString('en-US')} bytes`,
      ` · ${s.eventsHeld} events held, ${s.eventsReleased} released`, s.lostFlows ? ` · ${s.lostFlows} flows lost` : ''].join('')}${
      s.error ? html` · <span class="error">${s.error}</span>` : null}</p>
    <${Chart} spec=${spec} data=${data} identity=${`${s.id}:${m.instances.join(',')}`} />
    <${Steps} s=${s} now=${now} />
  </section>`;
}

/** The operation's steps on its own scale (milliseconds, where the window above is seconds). */
function Steps({ s, now }: { s: OperationStatus; now: number }) {
  const t0 = s.timeline.start;
  const span = Math.max(1, (s.timeline.end ?? now) - t0);
  const pct = (t: number) => `${(100 * (t - t0)) / span}%`;
  return html`<div class="steps">${steps(s, now).map((x) => html`<div class="step" data-step=${x.name}>
    <span class="name">${x.name}</span>
    <span class="track"><span class="bar" style=${`left:${pct(x.from)};width:max(3px, ${(100 * (x.to - x.from)) / span}%);background:${STEP_COLORS[x.name]}`}></span></span>
    <span class="when">${x.name === 'route' ? `at ${durationText(x.from - t0)}` : `${durationText(x.from - t0)} → ${durationText(x.to - t0)}`}</span></div>`)}
    <div class="step scale"><span class="name"></span><span class="track"><span>0</span><span>${durationText(span)}</span></span><span class="when"></span></div></div>`;
}

function Operations({ m, selected }: { m: Model; selected: string | null }) {
  const t0 = origin(m);
  const ops = [...m.operations.values()].map((o) => o.status);
  const running = ops.filter((s) => s.phase === 'Running').length;
  return html`<section id="operations">
    <h2>Operations (${ops.length}${running ? `, ${running} running` : ''})</h2>
    ${ops.length === 0 ? html`<p class="sub">None yet.</p>` : html`<table>
      <thead><tr><th>operation</th><th>instances</th><th>flows moved</th><th>phase</th><th>at</th><th>took</th><th>flows</th><th>bytes</th><th>events held</th><th>released</th><th></th></tr></thead>
      <tbody>${ops.map((s) => html`<tr key=${s.id} data-op=${s.id} data-phase=${s.phase} class=${s.id === selected ? 'selected' : ''}>
        <td>${s.id}</td><td>${s.from.join(', ')} → ${s.to}</td><td class="flows">${flowsText(s)}</td><td class="phase">${s.phase}</td>
        <td class="num">${((s.timeline.start - t0) / 1000).toFixed(2)} s</td><td class="num">${s.timeline.end ? durationText(s.timeline.end - s.timeline.start) : '…'}</td>
        <td class="num">${s.flows}</td><td class="num">${s.bytes.toLocaleString('en-US')}</td><td class="num">${s.eventsHeld}</td><td class="num">${s.eventsReleased}</td>
        <td><button onClick=${() => selectOperation(s.id)}>window</button></td></tr>`)}</tbody></table>`}
  </section>`;
}

function Summary({ m }: { m: Model }) {
  const s = m.summary;
  if (!s) return null;
  const p = s.packets;
  return html`<section id="summary">
    <h2>Run</h2>
    <p>${s.trace}: ${s.scenario}, ${s.guarantee}. Sent ${p.sent}, processed ${p.processed}, dropped ${p.dropped}, lost ${p.lost}, reordered ${p.reordered};
      ${' '}${s.instances.map((i) => `${i.name} ${i.packets} (${i.state})`).join(', ')}; ${durationText(s.durationMs)}.
      ${s.outputsEqual === null ? '' : s.outputsEqual ? ' Outputs equal the unscaled run.' : ' Outputs DIFFER from the unscaled run.'}</p>
    ${s.errors.map((e) => html`<p class="error">${e}</p>`)}
  </section>`;
}

function Status() {
  const label: Record<Connection, string> = {
    static: 'recorded run', connecting: 'connecting…', live: model.ended ? 'run ended' : 'live', unauthorized: 'needs the token', disconnected: 'disconnected, retrying',
  };
  const cls = connection === 'live' ? (model.ended ? 'ended' : 'live') : connection === 'static' ? 'ended' : connection === 'connecting' ? '' : 'problem';
  return html`<span class=${`status ${cls}`} id="connection" data-state=${connection}>${label[connection]}</span>`;
}

function TokenForm() {
  const submit = (e: Event) => {
    e.preventDefault();
    const v = (document.getElementById('token') as HTMLInputElement).value.trim();
    if (v) sessionStorage.setItem(TOKEN_KEY, v);
    void connect();
  };
  return html`<form class="token" onSubmit=${submit}><p>The pool's timeline needs the operator's shared secret (sent as a bearer token).</p>
    <input id="token" type="password" autocomplete="off" placeholder="shared secret" /> <button type="submit">watch</button></form>`;
}

function App({ selected }: { selected: string | null }): ComponentChildren {
  const m = model;
  const live = m.placement?.instances.length ?? 0;
  return html`<header>
      <h1>${m.hello ? `${m.hello.pool} timeline` : 'OpenMB timeline'} <${Status} /></h1>
      ${m.hello ? html`<p class="sub">${m.hello.middlebox}, ${m.hello.buckets} buckets · ${live} instances now · ${m.samples.length} samples</p>` : null}
      ${problem ? html`<p class="error">${problem}</p>` : null}
    </header>
    ${connection === 'unauthorized' ? html`<${TokenForm} />` : null}
    ${selected ? html`<${OperationWindow} m=${m} id=${selected} />` : null}
    <${RunChart} m=${m} />
    <${Buckets} m=${m} />
    <${Operations} m=${m} selected=${selected} />
    <${Summary} m=${m} />`;
}

const root = document.getElementById('timeline')!;
root.replaceChildren();

function draw(): void {
  render(html`<${App} selected=${hashParams().get('op')} />`, root);
}

function onEvent(name: string, data: string): void {
  if (name === 'history') {
    model = emptyModel();
    for (const msg of JSON.parse(data) as TimelineMessage[]) apply(model, msg);
  } else if (name === 'message') {
    apply(model, JSON.parse(data) as TimelineMessage);
  } else {
    return;
  }
  draw();
}

/** Reads a text/event-stream body: blocks of `field: value` lines, separated by a blank line. */
async function readEvents(body: ReadableStream<Uint8Array>): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      let name = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const v = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') name = v;
        else if (field === 'data') data.push(v);
      }
      if (data.length > 0) onEvent(name, data.join('\n'));
    }
  }
}

interface Source {
  events: string;
  token: boolean;
}

let source: Source | null = null;
let retry: ReturnType<typeof setTimeout> | null = null;

async function connect(): Promise<void> {
  if (!source) return;
  if (retry) clearTimeout(retry);
  retry = null;
  connection = 'connecting';
  problem = '';
  draw();
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (source.token && !token) {
    connection = 'unauthorized';
    draw();
    return;
  }
  try {
    const res = await fetch(source.events, { cache: 'no-store', headers: source.token ? { authorization: `Bearer ${token}` } : {} });
    if (res.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      connection = 'unauthorized';
      problem = 'the token was refused';
      draw();
      return;
    }
    if (!res.ok || !res.body) throw new Error(`${res.status} ${await res.text()}`);
    connection = 'live';
    draw();
    await readEvents(res.body);
  } catch (e) {
    problem = (e as Error).message;
  }
  connection = 'disconnected';
  draw();
  retry = setTimeout(() => void connect(), 2000);
}

function start(): void {
  addEventListener('hashchange', draw);
  const recorded = document.getElementById('timeline-data');
  if (recorded) {
    for (const msg of JSON.parse(recorded.textContent ?? '[]') as TimelineMessage[]) apply(model, msg);
    connection = 'static';
    draw();
    return;
  }
  source = JSON.parse(document.getElementById('timeline-source')?.textContent ?? 'null') as Source | null;
  // A token in the address (#token=...) is kept for this tab and taken out of the address bar.
  const p = hashParams();
  const token = p.get('token');
  if (token) {
    sessionStorage.setItem(TOKEN_KEY, token);
    p.delete('token');
    history.replaceState(null, '', `${location.pathname}${location.search}${p.size > 0 ? `#${p}` : ''}`);
  }
  void connect();
}

start();
