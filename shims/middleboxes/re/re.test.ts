/**
 * The RE in one process: every capture through an instance and the egress decoder, with each
 * rebuilt payload compared byte for byte with the payload that went in.
 */
import test from 'ava';
import { readdirSync } from 'node:fs';
import { decode, TCP_ACK, TCP_PSH } from '../../flow/decode.js';
import type { WirePacket } from '../../protocol/packets.js';
import { MiddleboxInstance } from '../../shim/runtime.js';
import { tcpFrame } from '../../traffic/frames.js';
import { tracesDir } from '../../traffic/trace-dir.js';
import { encodedTransport } from './frame.js';
import { re } from './re.js';
import type { FlowCounters } from './state.js';
import { reDecoder, reInstance, requestError, tracePackets } from './testing.js';

type Totals = FlowCounters & { cacheHitRatio: number };

interface EgressReport {
  packets: number;
  decoded: number;
  passedThrough: number;
  decodeFailures: number;
  bytesOut: number;
  bytesOnWire: number;
}

/** Runs a capture; counts packets whose rebuilt payload differs from the original. */
function runTrace(name: string, config: Record<string, unknown> = {}) {
  const decoder = reDecoder(config);
  let mismatches = 0;
  let unchangedWrong = 0;
  let current: WirePacket | null = null;
  const packets = tracePackets(name);
  const mb = new MiddleboxInstance(re, config, (out) => {
    decoder.receive(out);
    const inD = decode(current!.data, current!.linkType);
    if (encodedTransport(current!.data, inD) < 0) {
      if (out !== current) unchangedWrong++;
      return;
    }
    const original = current!.data.subarray(inD.payloadOff, inD.payloadOff + inD.payloadLen);
    const rebuilt = decoder.payload();
    if (!rebuilt || !rebuilt.equals(original)) mismatches++;
  });
  for (const p of packets) {
    current = p;
    mb.receive(p);
  }
  return { outputs: mb.outputs() as unknown as Totals, egress: decoder.report() as unknown as EgressReport, packets: packets.length, mismatches, unchangedWrong };
}

const traces = readdirSync(tracesDir()).filter((f) => /\.pcap(ng)?$/.test(f)).sort();

for (const trace of traces) {
  test(`${trace}: the decoder rebuilds every payload exactly`, (t) => {
    const r = runTrace(trace);
    t.is(r.egress.decodeFailures, 0);
    t.is(r.mismatches, 0);
    t.is(r.unchangedWrong, 0, 'packets without payload pass through unchanged');
    t.is(r.egress.packets, r.packets);
    t.is(r.egress.decoded, r.outputs.payloadPackets);
    t.is(r.egress.passedThrough, r.packets - r.outputs.payloadPackets);
    t.is(r.egress.bytesOut, r.outputs.bytesIn);
    t.is(r.egress.bytesOnWire, r.outputs.encodedBytes);
  });
}

for (const [trace, saved, bytesIn, encoded] of [
  ['tryzeek_sumstat.pcap', 834161, 1312255, 506957],
  ['zeek_http-1000-requests.pcap', 918626, 996757, 105146],
] as const) {
  test(`${trace}: repeated content is sent as references`, (t) => {
    const r = runTrace(trace);
    const o = r.outputs;
    t.log(`${trace}: bytesIn ${o.bytesIn}, bytesSaved ${o.bytesSaved}, encoded ${o.encodedBytes} (${(100 * o.encodedBytes / o.bytesIn).toFixed(1)}%), `
      + `chunks ${o.chunks}, hits ${o.hits}, cacheHitRatio ${o.cacheHitRatio.toFixed(3)}, decodeFailures ${r.egress.decodeFailures}`);
    t.true(o.bytesSaved > 0);
    t.is(o.bytesSaved, saved);
    t.is(o.bytesIn, bytesIn);
    t.is(o.encodedBytes, encoded);
    t.is(r.egress.decodeFailures, 0);
  });
}

test('with a cache of a few KiB (and a decoder of the same size) the decoder still keeps up', (t) => {
  for (const trace of ['tryzeek_sumstat.pcap', 'pcpp_example.pcap', 'tryzeek_ssh.pcapng']) {
    const r = runTrace(trace, { cacheBytes: 4096, decoderCacheFactor: 1 });
    t.is(r.egress.decodeFailures, 0, trace);
    t.is(r.mismatches, 0, trace);
    t.true(r.outputs.hits > 0, trace);
  }
});

/** A deterministic payload of `n` bytes. */
function text(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    b[i] = 32 + ((s >>> 16) % 95);
  }
  return b;
}

function frame(payload: Buffer, seq = 1): Buffer {
  return tcpFrame({ src: '10.0.0.1', dst: '10.0.0.2', sport: 40000, dport: 80, flags: TCP_ACK | TCP_PSH, seq, ack: 1, payload });
}

function wire(data: Buffer, seq: number): WirePacket {
  return { seq, tsSec: 1000 + seq, tsNsec: 0, ingressMs: 0, origLen: data.length, linkType: 1, inPort: 0, data };
}

test('a payload seen before is encoded as references, and decodes', (t) => {
  const decoder = reDecoder();
  const out: WirePacket[] = [];
  const mb = new MiddleboxInstance(re, {}, (p) => { out.push(p); decoder.receive(p); });
  const body = text(1400, 1);
  mb.receive(wire(frame(body, 1), 0));
  mb.receive(wire(frame(body, 1401), 1));
  const o = mb.outputs() as unknown as Totals & { flows: unknown[]; cache: { entries: number } };
  t.is(o.payloadPackets, 2);
  t.is(o.bytesIn, 2800);
  t.is(o.chunks, 2 * o.cache.entries);
  t.is(o.hits, o.cache.entries);
  // The second packet: 9 header bytes, one 11-byte reference per chunk, and the last chunk (4
  // bytes: too short to be worth a reference) as a literal.
  t.is(out[1].data.length, 54 + 9 + 11 * o.hits + 3 + 4);
  t.is(out[1].origLen, out[1].data.length);
  t.is(o.bytesSaved, 1400 - 4 - 11 * o.hits);
  t.is(o.flows.length, 1);
  t.deepEqual(decoder.payload(), body);
  t.is((decoder.report() as unknown as EgressReport).decodeFailures, 0);
});

test('short payloads go raw and leave the cache alone; bare ACKs pass unchanged', (t) => {
  const decoder = reDecoder();
  const out: WirePacket[] = [];
  const mb = new MiddleboxInstance(re, {}, (p) => { out.push(p); decoder.receive(p); });
  const ack = wire(tcpFrame({ src: '10.0.0.1', dst: '10.0.0.2', sport: 40000, dport: 80, flags: TCP_ACK, seq: 1, ack: 1, payload: Buffer.alloc(0) }), 0);
  mb.receive(ack);
  mb.receive(wire(frame(Buffer.from('hi there')), 1));
  t.is(out[0], ack);
  t.is(out[1].data.length, 54 + 1 + 8);
  t.is(out[1].data[54], 0);
  t.deepEqual(decoder.payload(), Buffer.from('hi there'));
  const o = mb.outputs() as unknown as Totals & { cache: { entries: number } };
  t.is(o.cache.entries, 0);
  t.is(o.chunks, 0);
  t.deepEqual(decoder.report(), {
    packets: 2, decoded: 1, passedThrough: 1, decodeFailures: 0, failures: { missingChunk: 0, digestMismatch: 0, malformed: 0 },
    bytesOut: 8, bytesOnWire: 9, cache: { entries: 0, bytes: 0, limit: 16777216 },
  });
});

test('the decoder counts references it cannot resolve, digests that do not match, and broken encodings', (t) => {
  const out: WirePacket[] = [];
  const mb = new MiddleboxInstance(re, {}, (p) => out.push(p));
  const body = text(1400, 2);
  mb.receive(wire(frame(body, 1), 0));
  mb.receive(wire(frame(body, 1401), 1));

  const late = reDecoder();
  late.receive(out[1]); // never saw the literal chunks
  const corrupt = reDecoder();
  const bad = Buffer.from(out[0].data);
  bad[54 + 9 + 3 + 10] ^= 0xff; // a byte inside the first literal chunk
  corrupt.receive({ ...out[0], data: bad });
  const broken = reDecoder();
  const marker = Buffer.from(out[0].data);
  marker[54] = 7;
  broken.receive({ ...out[0], data: marker });
  const cut = reDecoder();
  cut.receive({ ...out[0], data: out[0].data.subarray(0, 54 + 9 + 3 + 5) });

  const failures = (d: ReturnType<typeof reDecoder>) => (d.report() as { decodeFailures: number; failures: unknown });
  t.deepEqual(failures(late).failures, { missingChunk: 1, digestMismatch: 0, malformed: 0 });
  t.deepEqual(failures(corrupt).failures, { missingChunk: 0, digestMismatch: 1, malformed: 0 });
  t.deepEqual(failures(broken).failures, { missingChunk: 0, digestMismatch: 0, malformed: 1 });
  t.deepEqual(failures(cut).failures, { missingChunk: 0, digestMismatch: 0, malformed: 1 });
  for (const d of [late, corrupt, broken, cut]) {
    t.is(failures(d).decodeFailures, 1);
    t.is(d.payload(), null);
  }
});

test('a smaller cacheBytes set at run time shrinks the cache at the next packet', (t) => {
  const decoder = reDecoder();
  const mb = reInstance(decoder);
  for (let i = 0; i < 20; i++) mb.receive(wire(frame(text(1400, 100 + i), 1 + 1400 * i), i));
  const before = (mb.outputs() as { cache: { bytes: number; limit: number } }).cache;
  t.is(before.limit, 4194304);
  t.true(before.bytes > 4096);
  t.is(requestError(mb, { type: 'put-config', id: 1, values: { cacheBytes: 4096 } }), null);
  mb.receive(wire(frame(text(1400, 500), 30000), 20));
  const after = (mb.outputs() as { cache: { bytes: number; limit: number } }).cache;
  t.is(after.limit, 4096);
  t.true(after.bytes <= 4096);
  t.is(requestError(mb, { type: 'put-config', id: 2, values: { minChunk: 0 } }), 'config.minChunk: must be a positive integer (bytes), got 0');
});
