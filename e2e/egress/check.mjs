#!/usr/bin/env node
/* global process, console */
// Checks what an `openmb sink` received from one pool against the pool's own counters and the
// unscaled `openmb local` run of the same capture.
//   node check.mjs nat|re SINK.json OUTPUTS.json REFERENCE.json SWITCH
// SINK.json: the sink's GET /counters. OUTPUTS.json: the operator's GET /pools/NS/NAME/outputs
// ({outputs, duplicateFlows, egress}). REFERENCE.json: `openmb local`'s report.json, whose
// outputs.egress is the same checker run on the switch of one unscaled instance. SWITCH: the
// pool's switch as the sink names it ("namespace/pool/switch").
// Exit 0 and one line of figures when everything holds, else 1 and what does not.
import { readFileSync } from 'node:fs';

const load = (f) => JSON.parse(readFileSync(f, 'utf8'));
const [type, sinkFile, outputsFile, refFile, switchName] = process.argv.slice(2);
if (!['nat', 're'].includes(type) || !switchName) {
  console.error('usage: check.mjs nat|re SINK.json OUTPUTS.json REFERENCE.json SWITCH');
  process.exit(2);
}
const sink = load(sinkFile);
const pool = load(outputsFile);
const ref = load(refFile);
const problems = [];
const from = sink.switches?.[switchName];
if (!from) {
  console.log(`the sink heard nothing from ${switchName} (it heard from: ${Object.keys(sink.switches ?? {}).join(', ') || 'no switch'})`);
  process.exit(1);
}
const check = from.check ?? {};
const want = ref.outputs?.egress ?? {};
const link = pool.egress;

// Every emitted packet reached the sink: the switch's link delivered all it was given, nothing is
// waiting or was given up on, and the sink counted the same packets, none out of its flow's order.
if (!link) problems.push('the pool\'s outputs carry no egress counters');
else {
  const lost = link.undeliverable.queueFull + link.undeliverable.egressRemoved;
  if (lost !== 0) problems.push(`${lost} packets undeliverable: ${JSON.stringify(link.undeliverable)}`);
  if (link.queued !== 0 || link.inFlight !== 0) problems.push(`${link.queued} packets queued and ${link.inFlight} unacknowledged at the switch`);
  if (link.delivered !== from.packets) problems.push(`the switch delivered ${link.delivered}, the sink counted ${from.packets}`);
  if (link.sent !== link.delivered) problems.push(`sent ${link.sent} but ${link.delivered} delivered`);
}
if (sink.reordered !== 0) problems.push(`${sink.reordered} packets came out of their flow's order (${sink.reorderedExamples.join('; ')})`);
if (from.packets !== want.packets) problems.push(`the sink received ${from.packets} packets, the unscaled run emitted ${want.packets}`);

// The check's counts equal the unscaled run's.
const keys = type === 'nat'
  ? ['packets', 'translated', 'transportUnverifiable', 'udpWithoutChecksum', 'badIpChecksums', 'badTcpChecksums', 'badUdpChecksums', 'badChecksumPackets', 'sharedPairs', 'externalPairsUsed']
  : ['packets', 'decoded', 'passedThrough', 'decodeFailures', 'bytesOut'];
for (const k of keys) if (check[k] !== want[k]) problems.push(`${k}: ${check[k]} at the sink, ${want[k]} in the unscaled run`);
if (type === 'nat') {
  // The NAT updates checksums incrementally: a packet bad at the sink was bad on capture.
  const input = pool.outputs?.counters?.inputBadChecksums;
  if (check.badChecksumPackets !== input) problems.push(`${check.badChecksumPackets} packets with a bad checksum at the sink, ${input} bad on capture`);
  if (check.sharedPairs !== 0) problems.push(`${check.sharedPairs} external address:port pairs shared by two flows: ${JSON.stringify(check.sharedExamples)}`);
} else if (check.decodeFailures !== 0) {
  problems.push(`${check.decodeFailures} decode failures: ${JSON.stringify(check.failures)}`);
}

if (problems.length > 0) {
  console.log(problems.join('; '));
  process.exit(1);
}
const figures = type === 'nat'
  ? `${check.translated} translated, ${check.badChecksumPackets} with a bad checksum (as on capture: ${pool.outputs.counters.inputBadChecksums}), ${check.sharedPairs} shared pairs, ${check.externalPairsUsed} external pairs`
  : `${check.decoded} decoded, ${check.passedThrough} passed through, ${check.decodeFailures} decode failures, ${check.bytesOut} bytes rebuilt from ${check.bytesOnWire} on the wire`;
console.log(`${from.packets} packets delivered (${link.resent} resent), 0 reordered, 0 undeliverable; ${figures}; equal to the unscaled run (${keys.join(', ')})`);
