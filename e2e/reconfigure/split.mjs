#!/usr/bin/env node
/* global process, console */
// Splits a capture at a packet index, so a replay can stop exactly where a configuration changes.
//   node split.mjs TRACE INDEX BEFORE.pcap AFTER.pcap
// BEFORE gets packets [0, INDEX), AFTER the rest; nanosecond pcaps, so no timestamp changes.
import { writeFileSync } from 'node:fs';
import { readCaptureFile, writePcap } from '../../dist/shims/flow/pcap.js';

const [trace, index, before, after] = process.argv.slice(2);
const k = Number(index);
const { packets } = readCaptureFile(trace);
if (!after || !Number.isInteger(k) || k < 0 || k > packets.length) {
  console.error(`usage: split.mjs TRACE INDEX BEFORE.pcap AFTER.pcap (INDEX from 0 to ${packets.length})`);
  process.exit(2);
}
const linkType = packets[0]?.linkType ?? 1;
if (packets.some((p) => p.linkType !== linkType)) {
  console.error(`${trace}: packets of more than one link type cannot go into one pcap`);
  process.exit(1);
}
writeFileSync(before, writePcap(packets.slice(0, k), { linkType, nanosecond: true }));
writeFileSync(after, writePcap(packets.slice(k), { linkType, nanosecond: true }));
console.log(`${k} + ${packets.length - k} packets`);
