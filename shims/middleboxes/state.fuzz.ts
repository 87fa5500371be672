/**
 * Fuzz properties of every middlebox's state and configuration decoders, run briefly by
 * state.fuzz.test.ts and at length by bench/fuzz.ts. The valid states they start from come from
 * real captures run through each middlebox, not from values written here.
 */
import fc from 'fast-check';
import { deepStrictEqual } from 'node:assert/strict';
import { join } from 'node:path';
import { jsonPaths, type Properties, replacedAt } from '../../bench/fuzz-properties.js';
import { readCaptureFile, type CapturedPacket } from '../flow/pcap.js';
import { type Chunk, type Scope, SCOPES } from '../protocol/messages.js';
import type { WirePacket } from '../protocol/packets.js';
import { getChunks, putChunks } from '../shim/in-process.js';
import { ConfigError, type AnyMiddlebox } from '../shim/definition.js';
import { MiddleboxInstance } from '../shim/runtime.js';
import { StateError } from '../shim/tables.js';
import { tracesDir } from '../traffic/trace-dir.js';
import { MIDDLEBOXES } from './registry.js';

/** Small real captures with TCP, UDP, HTTP, DNS, scans and IPv6 between them. */
const CAPTURES = ['tryzeek_http.pcap', 'pcpp_DnsPackets.pcap', 'zeek_wikipedia.pcapng', 'zeek_nmap-vsn.pcap', 'mercury_emix.pcap'];
/** Keeps one input's run short: the window of a capture a property replays. */
const WINDOW = 400;

/** Per middlebox, configuration under which the captures' traffic exercises it (the NAT translates every capture's inside hosts). */
const CONFIGS: Record<string, Record<string, unknown>> = {
  nat: { internalPrefixes: ['0.0.0.0/1', '128.0.0.0/1'] },
};

let captures: CapturedPacket[][] | null = null;
function packetsOf(i: number): CapturedPacket[] {
  captures ??= CAPTURES.map((f) => readCaptureFile(join(tracesDir(), f)).packets);
  return captures[i];
}

const wire = (p: CapturedPacket, seq: number): WirePacket =>
  ({ seq, tsSec: p.tsSec, tsNsec: p.tsNsec, ingressMs: 0, origLen: p.origLen, linkType: p.linkType, inPort: p.inPort, data: p.data });

function instance(def: AnyMiddlebox): { mb: MiddleboxInstance; emitted: Buffer[] } {
  const emitted: Buffer[] = [];
  const mb = new MiddleboxInstance(def, CONFIGS[def.type] ?? {}, (p) => emitted.push(Buffer.from(p.data)));
  return { mb, emitted };
}

/** What JSON over the wire does to a value. */
const overTheWire = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

let samples: Map<string, Record<Scope, Chunk[]>> | null = null;
/** Per middlebox, the state chunks of each scope after a whole capture, through JSON. */
function sampleChunks(type: string): Record<Scope, Chunk[]> {
  samples ??= new Map();
  let s = samples.get(type);
  if (!s) {
    const { mb } = instance(MIDDLEBOXES[type]);
    let seq = 1;
    for (let i = 0; i < CAPTURES.length; i++) for (const p of packetsOf(i).slice(0, WINDOW)) mb.receive(wire(p, seq++));
    s = Object.fromEntries(SCOPES.map((scope) => [scope, overTheWire(getChunks(mb, scope))])) as Record<Scope, Chunk[]>;
    samples.set(type, s);
  }
  return s;
}

const TYPES = Object.keys(MIDDLEBOXES);
const oddValues = fc.oneof(
  fc.jsonValue(),
  fc.constantFrom(-1, 1.5, 2 ** 53, -0, NaN, Infinity, '', '10.0.0.1', '::1', [], {}, null, 'x'.repeat(10_000)),
);

/** A real chunk of some middlebox and scope, with one value somewhere inside replaced. */
const nearValidChunk = fc.record({
  type: fc.constantFrom(...TYPES),
  scope: fc.constantFrom(...SCOPES),
  pick: fc.nat(),
  where: fc.nat(),
  value: oddValues,
}).map(({ type, scope, pick, where, value }) => {
  const chunks = sampleChunks(type)[scope];
  if (chunks.length === 0) return { type, scope, chunk: { scope, key: null, state: value } as unknown };
  const chunk = chunks[pick % chunks.length];
  const ps = jsonPaths(chunk);
  return { type, scope, chunk: replacedAt(chunk, ps[where % ps.length], value) };
});

/** A put is applied, or refused with a StateError naming the chunk; accepted state keeps working. */
function putOrRefuse(type: string, scope: Scope, chunk: unknown): void {
  const def = MIDDLEBOXES[type];
  const { mb } = instance(def);
  try {
    mb.tables.put(scope, [chunk as Chunk]);
  } catch (e) {
    if (!(e instanceof StateError)) throw e;
    if (!e.message.startsWith('chunks[0]')) throw new Error(`refusal does not name the chunk: ${e.message}`);
    // The decoder's own error is the cause: a TypeError or RangeError there is a crash, not a refusal.
    if (e.cause instanceof TypeError || e.cause instanceof RangeError || e.cause instanceof ReferenceError) throw new Error(`the decoder crashed: ${e.message}`, { cause: e.cause });
    return;
  }
  // Accepted state must survive what the instance does next: packets, a get, a merge with itself.
  let seq = 1;
  for (const p of packetsOf(0).slice(0, 50)) mb.receive(wire(p, seq++));
  const again = overTheWire(getChunks(mb, scope));
  putChunks(instance(def).mb, scope, again);
  if (scope !== 'per-flow') mb.tables.put(scope, again);
  mb.handle({ type: 'get-outputs', id: 9 }, (r) => {
    if (r.type === 'error') throw new Error(`outputs after an accepted put: ${String(r.message)}`);
  });
}

const arbitraryConfig = fc.record({
  type: fc.constantFrom(...TYPES),
  values: fc.oneof(
    fc.dictionary(fc.string(), fc.jsonValue()),
    fc.record({ field: fc.nat(), value: oddValues }).map(({ field, value }) => ({ field, value })),
  ),
}).map(({ type, values }) => {
  const def = MIDDLEBOXES[type];
  if ('field' in values && typeof values.field === 'number') {
    const fields = Object.keys(def.defaultConfig);
    return { type, values: { ...def.defaultConfig, [fields[values.field % fields.length]]: values.value } };
  }
  return { type, values: { ...def.defaultConfig, ...(values as Record<string, unknown>) } };
});

/** A replay window of a capture, a point inside it where all state moves to a fresh instance. */
const moveInWindow = fc.record({
  type: fc.constantFrom(...TYPES),
  capture: fc.nat({ max: CAPTURES.length - 1 }),
  start: fc.nat(),
  length: fc.integer({ min: 1, max: WINDOW }),
  cut: fc.nat(),
});

export const PROPERTIES: Properties = {
  'a put of a real chunk with any value replaced is applied or refused naming the chunk, never a crash': fc.property(nearValidChunk, ({ type, scope, chunk }) => {
    putOrRefuse(type, scope, chunk);
  }),
  'a put of an arbitrary value as a chunk is applied or refused naming the chunk, never a crash': fc.property(
    fc.constantFrom(...TYPES), fc.constantFrom(...SCOPES), fc.option(fc.string()), fc.anything(),
    (type, scope, key, state) => putOrRefuse(type, scope, { scope, key, state }),
  ),
  // Compared encoded: the decoded values are the middleboxes' own structures (an RE's cache arena holds stale bytes past its end).
  'state decoders round-trip what their encoders give: encode(decode(encode(s))) = encode(s)': fc.property(
    fc.constantFrom(...TYPES), fc.constantFrom(...SCOPES), fc.nat(),
    (type, scope, pick) => {
      const def = MIDDLEBOXES[type];
      const chunks = sampleChunks(type)[scope];
      if (chunks.length === 0) return;
      const codec = scope === 'per-flow' ? def.perFlow : scope === 'multi-flow' ? def.multiFlow : def.allFlows;
      const encoded = overTheWire(codec.encode(codec.decode(chunks[pick % chunks.length].state)));
      deepStrictEqual(overTheWire(codec.encode(codec.decode(encoded))), encoded);
    },
  ),
  'a configuration is parsed or refused with a ConfigError naming its field, never a crash': fc.property(arbitraryConfig, ({ type, values }) => {
    try {
      MIDDLEBOXES[type].parseConfig(values);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      const named = Object.keys(values).some((k) => e.field === k || e.field.startsWith(`${k}.`) || e.field.startsWith(`${k}[`));
      if (!named) throw new Error(`the error names config.${e.field}, which is not a field given: ${e.message}`);
    }
  }),
  'get, then put into a fresh instance, at any point of a real capture gives the same outputs and emitted packets': fc.property(moveInWindow, ({ type, capture, start, length, cut }) => {
    const all = packetsOf(capture);
    const from = start % all.length;
    const window = all.slice(from, from + length);
    const at = cut % (window.length + 1);
    const def = MIDDLEBOXES[type];
    const one = instance(def);
    window.forEach((p, i) => one.mb.receive(wire(p, i + 1)));
    const first = instance(def);
    window.slice(0, at).forEach((p, i) => first.mb.receive(wire(p, i + 1)));
    const second = instance(def);
    for (const scope of SCOPES) putChunks(second.mb, scope, overTheWire(getChunks(first.mb, scope)));
    window.slice(at).forEach((p, i) => second.mb.receive(wire(p, at + i + 1)));
    const outputs = (mb: MiddleboxInstance) => {
      let out: unknown;
      mb.handle({ type: 'get-outputs', id: 1 }, (r) => (out = r.outputs));
      return out;
    };
    deepStrictEqual(outputs(second.mb), outputs(one.mb));
    deepStrictEqual([...first.emitted, ...second.emitted], one.emitted);
  }),
};
