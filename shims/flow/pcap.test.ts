import test, { type ExecutionContext } from 'ava';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CaptureError, readCapture, readCaptureFile, writePcap, type CapturedPacket } from './pcap.js';
import { tracePath } from '../traffic/trace-dir.js';


const stamp = (p: CapturedPacket) => `${p.tsSec}.${String(p.tsNsec).padStart(9, '0')}`;
const plain = (p: CapturedPacket) => ({ ...p, data: p.data.toString('hex') });

// Recorded from `capinfos -c -d` (packets, data bytes) and
// `tshark -T fields -e frame.time_epoch` (first and last frame).
const REAL: [file: string, format: 'pcap' | 'pcapng', packets: number, bytes: number, first: string, last: string][] = [
  ['esnet_masscan_tcp_0_1000.pcap', 'pcap', 1005, 64320, '1566411407.841604000', '1566411417.888982000'],
  ['esnet_masscan_udp_0_1000.pcap', 'pcap', 1001, 64180, '1566411437.834338000', '1566411447.857209000'],
  ['esnet_nmap_80_all.pcap', 'pcap', 431, 110495, '1596347378.734373000', '1596347386.099090000'],
  ['mercury_emix.pcap', 'pcap', 7133, 1249281, '1071241173.519870000', '1759469907.215257000'],
  ['ndpi_synscan.pcap', 'pcap', 2011, 116672, '1278275056.274870000', '1278275079.360213000'],
  ['pcpp_4KHttpRequests.pcap', 'pcap', 385, 447734, '1413745931.455999000', '1413746528.657978000'],
  ['pcpp_DnsPackets.pcap', 'pcap', 464, 57942, '1413054930.198203000', '1413056207.820523000'],
  ['pcpp_example.pcap', 'pcap', 4631, 3738523, '1367526033.491822000', '1367526049.137582000'],
  ['stopddos_amp.UDP.snmp.src161.pcap', 'pcap', 4373, 1055847, '1621090240.035681000', '1621090240.059178000'],
  ['stopddos_pkt.TCP.synflood.spoofed.pcap', 'pcap', 37841, 2270460, '1619605821.099510000', '1619605844.783363000'],
  ['suri_output-eve-ftp-data.pcap', 'pcap', 1350, 168593, '1371506299.036212000', '1371506397.531737000'],
  ['tryzeek_http.pcap', 'pcap', 4767, 3880464, '1320279554.496300000', '1320279683.449294000'],
  ['tryzeek_sumstat.pcap', 'pcap', 4544, 1594345, '1470263817.018062000', '1470263892.895574000'],
  ['zeek_http-1000-requests.pcap', 'pcap', 4102, 1349545, '1692957822.217493000', '1692957822.840777000'],
  ['zeek_http_methods.pcap', 'pcap', 655, 228325, '1354328870.172701000', '1354328932.816670000'],
  ['zeek_nmap-vsn.pcap', 'pcap', 547, 24420, '1317146840.497541000', '1317146842.913053000'],
  ['zeek_wikipedia_nsec.pcap', 'pcap', 136, 25260, '1300475167.096535000', '1300475173.475401000'],
  ['tryzeek_ssh.pcapng', 'pcapng', 9819, 1306530, '1320435464.760244000', '1320435958.419451000'],
  ['zeek_wikipedia.pcapng', 'pcapng', 136, 25260, '1300475167.096535000', '1300475173.475401000'],
];

for (const [file, format, count, bytes, first, last] of REAL) {
  test(`reads ${file} like capinfos and tshark`, (t) => {
    const cap = readCaptureFile(tracePath(file));
    t.is(cap.format, format);
    t.is(cap.packets.length, count);
    let captured = 0;
    let wire = 0;
    for (const p of cap.packets) {
      captured += p.data.length;
      wire += p.origLen;
    }
    t.is(captured, bytes);
    t.is(wire, bytes); // none of these captures was cut at snaplen
    t.is(stamp(cap.packets[0]), first);
    t.is(stamp(cap.packets[count - 1]), last);
    t.true(cap.packets.every((p) => p.linkType === 1 && p.inPort === 0));
  });
}

test('a pcapng packet in the middle has tshark’s timestamp', (t) => {
  const { packets } = readCaptureFile(tracePath('tryzeek_ssh.pcapng'));
  t.is(stamp(packets[4999]), '1320435952.612020000'); // tshark frame.number==5000
});

test('the same capture as pcapng and as nanosecond pcap reads identically', (t) => {
  const ng = readCaptureFile(tracePath('zeek_wikipedia.pcapng')).packets;
  const ns = readCaptureFile(tracePath('zeek_wikipedia_nsec.pcap')).packets;
  t.is(ng.length, ns.length);
  for (let i = 0; i < ng.length; i++) {
    t.true(ng[i].data.equals(ns[i].data), `packet ${i} data`);
    t.is(ng[i].origLen, ns[i].origLen);
    t.is(ng[i].tsSec, ns[i].tsSec);
    t.is(Math.floor(ng[i].tsNsec / 1000), Math.floor(ns[i].tsNsec / 1000), `packet ${i} µs`);
  }
});

test('packet data are views into the file buffer, not copies', (t) => {
  const buf = readFileSync(tracePath('stopddos_pkt.TCP.synflood.spoofed.pcap'));
  const first = readCapture(buf).next().value as CapturedPacket;
  t.is(first.data.buffer, buf.buffer);
});

// --- writing ---

const SYNTH = [
  { tsSec: 1, tsNsec: 123_456_789, data: Buffer.from('00112233445566778899aabb', 'hex') },
  { tsSec: 4_000_000_000, tsNsec: 999_999_999, origLen: 1500, data: Buffer.alloc(61, 7) },
  { tsSec: 0, tsNsec: 0, data: Buffer.alloc(0) },
];

/** The same pcap with every header field in big-endian order. */
function toBigEndian(le: Buffer): Buffer {
  const be = Buffer.from(le);
  be.subarray(0, 4).swap32();
  be.subarray(4, 8).swap16();
  be.subarray(8, 24).swap32();
  for (let off = 24; off < be.length; ) {
    const incl = be.readUInt32LE(off + 8);
    be.subarray(off, off + 16).swap32();
    off += 16 + incl;
  }
  return be;
}

test('writePcap round-trips with nanoseconds, in both byte orders', (t) => {
  const file = writePcap(SYNTH, { nanosecond: true, linkType: 101 });
  t.is(file.readUInt32LE(0), 0xa1b23c4d);
  const expected = SYNTH.map((p) => ({
    tsSec: p.tsSec, tsNsec: p.tsNsec, origLen: p.origLen ?? p.data.length, linkType: 101, inPort: 0, data: p.data.toString('hex'),
  }));
  t.deepEqual([...readCapture(file)].map(plain), expected);
  t.deepEqual([...readCapture(toBigEndian(file))].map(plain), expected);
});

test('writePcap round-trips with microseconds (truncating nanoseconds), in both byte orders', (t) => {
  const file = writePcap(SYNTH);
  t.is(file.readUInt32LE(0), 0xa1b2c3d4);
  const expected = SYNTH.map((p) => ({
    tsSec: p.tsSec, tsNsec: Math.floor(p.tsNsec / 1000) * 1000, origLen: p.origLen ?? p.data.length, linkType: 1, inPort: 0, data: p.data.toString('hex'),
  }));
  t.deepEqual([...readCapture(file)].map(plain), expected);
  t.deepEqual([...readCapture(toBigEndian(file))].map(plain), expected);
});

test('a real capture survives writePcap → readCapture', (t) => {
  const original = readCaptureFile(tracePath('zeek_wikipedia_nsec.pcap')).packets;
  t.deepEqual([...readCapture(writePcap(original, { nanosecond: true }))].map(plain), original.map(plain));
  t.deepEqual([...readCapture(writePcap(original))].map(plain), original.map(plain)); // µs-precise timestamps
});

test('an empty pcap yields no packets', (t) => {
  t.deepEqual([...readCapture(writePcap([]))], []);
});

// --- pcapng built by hand ---

const pad4 = (n: number) => (n + 3) & ~3;
const u16 = (le: boolean, v: number) => { const b = Buffer.alloc(2); if (le) b.writeUInt16LE(v); else b.writeUInt16BE(v); return b; };
const u32 = (le: boolean, v: number) => { const b = Buffer.alloc(4); if (le) b.writeUInt32LE(v); else b.writeUInt32BE(v); return b; };
const i64 = (le: boolean, v: bigint) => { const b = Buffer.alloc(8); if (le) b.writeBigInt64LE(v); else b.writeBigInt64BE(v); return b; };
const padded = (b: Buffer) => Buffer.concat([b, Buffer.alloc(pad4(b.length) - b.length)]);

function block(le: boolean, type: number, ...body: Buffer[]): Buffer {
  const content = padded(Buffer.concat(body));
  const len = 12 + content.length;
  return Buffer.concat([u32(le, type), u32(le, len), content, u32(le, len)]);
}
const option = (le: boolean, code: number, value: Buffer) => Buffer.concat([u16(le, code), u16(le, value.length), padded(value)]);
const shb = (le: boolean) => block(le, 0x0a0d0d0a, u32(le, 0x1a2b3c4d), u16(le, 1), u16(le, 0), i64(le, -1n));
const idb = (le: boolean, linkType: number, snaplen: number, ...options: Buffer[]) =>
  block(le, 1, u16(le, linkType), u16(le, 0), u32(le, snaplen), ...options, ...(options.length ? [u32(le, 0)] : []));
const epb = (le: boolean, iface: number, ts: bigint, data: Buffer, origLen = data.length) =>
  block(le, 6, u32(le, iface), u32(le, Number(ts >> 32n)), u32(le, Number(ts & 0xffffffffn)), u32(le, data.length), u32(le, origLen), data);
const spb = (le: boolean, origLen: number, data: Buffer) => block(le, 3, u32(le, origLen), data);

test('synthetic pcapng: two resolutions, offsets, SPB, skipped blocks, a big-endian section', (t) => {
  const LE = true;
  const BE = false;
  const file = Buffer.concat([
    shb(LE),
    idb(LE, 1, 64, option(LE, 9, Buffer.from([9]))), // 10^-9 s
    idb(LE, 101, 0, option(LE, 9, Buffer.from([0x8a])), option(LE, 14, i64(LE, 100n))), // 2^-10 s, +100 s
    block(LE, 4, u16(LE, 0), u16(LE, 0)), // name resolution: skipped
    epb(LE, 0, 1_700_000_000_123_456_789n, Buffer.from('abcde'), 60),
    block(LE, 0x40000bad, Buffer.from('custom!')), // unknown/custom: skipped
    epb(LE, 1, 5n * 1024n + 513n, Buffer.from([1, 2, 3])),
    spb(LE, 100, Buffer.alloc(72, 9)), // cut to interface 0's snaplen
    spb(LE, 10, Buffer.alloc(10, 8)), // padding is not data
    block(LE, 5, u32(LE, 0), u32(LE, 0), u32(LE, 0)), // interface statistics: skipped
    shb(BE),
    idb(BE, 1, 65535), // default resolution 10^-6 s
    epb(BE, 0, 1_300_475_167_096_535n, Buffer.from('ffee', 'hex')),
  ]);
  const got = [...readCapture(file)].map(plain);
  t.deepEqual(got, [
    { tsSec: 1_700_000_000, tsNsec: 123_456_789, origLen: 60, linkType: 1, inPort: 0, data: '6162636465' },
    { tsSec: 105, tsNsec: 500_976_562, origLen: 3, linkType: 101, inPort: 1, data: '010203' }, // 513/1024 s, floored
    { tsSec: 0, tsNsec: 0, origLen: 100, linkType: 1, inPort: 0, data: '09'.repeat(64) },
    { tsSec: 0, tsNsec: 0, origLen: 10, linkType: 1, inPort: 0, data: '08'.repeat(10) },
    { tsSec: 1_300_475_167, tsNsec: 96_535_000, origLen: 2, linkType: 1, inPort: 0, data: 'ffee' },
  ]);
});

// --- damaged input ---

function expectError(t: ExecutionContext, buf: Buffer, offset: number, fragment: string, packetsBefore = 0) {
  const seen: CapturedPacket[] = [];
  const err = t.throws(() => {
    for (const p of readCapture(buf, 'bad.cap')) seen.push(p);
  }, { instanceOf: CaptureError });
  if (!err) return;
  t.is(err.offset, offset, err.message);
  t.true(err.message.startsWith(`bad.cap: byte ${offset}: `), err.message);
  t.true(err.message.includes(fragment), err.message);
  t.is(seen.length, packetsBefore, 'packets before the damage are still delivered');
}

// Records at byte 24 (16 + 60 bytes) and byte 100 (16 + 40 bytes); 156 bytes in all.
const GOOD_PCAP = writePcap([
  { tsSec: 1, tsNsec: 2000, data: Buffer.alloc(60, 1) },
  { tsSec: 2, tsNsec: 3000, data: Buffer.alloc(40, 2) },
]);
const patched = (buf: Buffer, at: number, value: number) => {
  const b = Buffer.from(buf);
  b.writeUInt32LE(value, at);
  return b;
};

test('empty file', (t) => expectError(t, Buffer.alloc(0), 0, 'file is empty'));
test('file shorter than a magic number', (t) => expectError(t, Buffer.from([0xd4, 0xc3]), 0, 'too short for a magic number'));
test('unknown magic', (t) => expectError(t, Buffer.from('GIF89a and more'), 0, 'unknown magic 47494638'));
test('truncated global header', (t) => expectError(t, GOOD_PCAP.subarray(0, 10), 0, 'shorter than the 24-byte pcap global header'));
test('truncated record header', (t) => expectError(t, GOOD_PCAP.subarray(0, 108), 100, 'record header cut short: 8 of 16 bytes', 1));
test('record data running past end of file', (t) =>
  expectError(t, GOOD_PCAP.subarray(0, 155), 100, 'record data of 40 bytes runs past end of file (39 bytes left)', 1));
test('absurd record length', (t) => expectError(t, patched(GOOD_PCAP, 24 + 8, 300_000), 24, 'record length 300000 exceeds snaplen 262144'));
test('microseconds field ≥ 1e6', (t) => expectError(t, patched(GOOD_PCAP, 100 + 4, 1_000_000), 100, 'microseconds field 1000000 out of range', 1));
test('nanoseconds field ≥ 1e9', (t) => {
  const ns = writePcap([{ tsSec: 1, tsNsec: 5, data: Buffer.alloc(4) }], { nanosecond: true });
  expectError(t, patched(ns, 24 + 4, 1_000_000_000), 24, 'nanoseconds field 1000000000 out of range');
});
test('big-endian pcap errors name the same offsets', (t) =>
  expectError(t, toBigEndian(GOOD_PCAP).subarray(0, 155), 100, 'runs past end of file', 1));

test('records longer than a small snaplen are tolerated; edge sub-second values are accepted', (t) => {
  const smallSnap = patched(GOOD_PCAP, 16, 32);
  t.is([...readCapture(smallSnap)].length, 2);
  const [p] = readCapture(patched(GOOD_PCAP, 24 + 4, 999_999));
  t.is(p.tsNsec, 999_999_000);
});

// SHB at 0 (28 bytes), IDB at 28 (20), EPBs at 48 and 84 (36 each); 120 bytes in all.
const GOOD_NG = Buffer.concat([shb(true), idb(true, 1, 0), epb(true, 0, 1n, Buffer.alloc(4)), epb(true, 0, 2n, Buffer.alloc(4))]);

test('the hand-built pcapng reads cleanly', (t) => {
  t.is(GOOD_NG.length, 120);
  t.deepEqual([...readCapture(GOOD_NG)].map((p) => p.tsNsec), [1000, 2000]);
});
test('pcapng block length not a multiple of 4', (t) => expectError(t, patched(GOOD_NG, 84 + 4, 34), 84, 'block length 34 is not a multiple of 4', 1));
test('pcapng block length below 12', (t) => expectError(t, patched(GOOD_NG, 48 + 4, 8), 48, 'block length 8 is less than 12'));
test('pcapng trailing length mismatch', (t) =>
  expectError(t, patched(GOOD_NG, 84 - 4, 40), 48, 'trailing block length 40 does not match leading length 36'));
test('pcapng truncated mid-block', (t) => expectError(t, GOOD_NG.subarray(0, 115), 84, 'block of 36 bytes runs past end of file (31 bytes left)', 1));
test('pcapng truncated inside a block header', (t) => expectError(t, GOOD_NG.subarray(0, 90), 84, 'block cut short: 6 bytes', 1));
test('pcapng packet with an unknown interface id', (t) =>
  expectError(t, Buffer.concat([GOOD_NG, epb(true, 3, 0n, Buffer.alloc(1))]), 120, 'packet references interface 3, but the section has 1', 2));
test('pcapng interfaces do not survive into the next section', (t) =>
  expectError(t, Buffer.concat([GOOD_NG, shb(false), epb(false, 0, 0n, Buffer.alloc(1))]), 148, 'packet references interface 0, but the section has 0', 2));
test('pcapng simple packet with no interface', (t) =>
  expectError(t, Buffer.concat([shb(true), spb(true, 4, Buffer.alloc(4))]), 28, 'interface 0'));
test('pcapng captured length past the block', (t) => expectError(t, patched(GOOD_NG, 48 + 20, 100), 48, 'captured length 100 runs past the block (4 bytes of room)'));
test('pcapng bad byte-order magic', (t) => expectError(t, patched(GOOD_NG, 8, 0x12345678), 0, 'byte-order magic 12345678 is invalid'));
test('pcapng interface option running past its block', (t) => {
  const idbBad = Buffer.concat([shb(true), idb(true, 1, 0, option(true, 9, Buffer.from([6])))]);
  idbBad.writeUInt16LE(200, 28 + 16 + 2); // option length: the option starts after the IDB's 8-byte header and 8 fixed bytes
  expectError(t, idbBad, 44, 'interface option 9 of 200 bytes runs past its block');
});

test('readCaptureFile names the file in its errors', (t) => {
  const path = join(mkdtempSync(join(tmpdir(), 'pcap-test-')), 'cut.pcap');
  writeFileSync(path, GOOD_PCAP.subarray(0, 155));
  const err = t.throws(() => readCaptureFile(path), { instanceOf: CaptureError });
  t.is(err?.message, `${path}: byte 100: record data of 40 bytes runs past end of file (39 bytes left)`);
});
