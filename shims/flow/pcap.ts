/**
 * Reads classic pcap (µs and ns, either byte order) and pcapng captures, and writes classic pcap.
 * Readers never trust a length field: every read is bounds-checked first, and anything that does
 * not add up is a CaptureError naming the byte offset, so a damaged file is never mistaken for a
 * shorter good one.
 */
import { readFileSync } from 'node:fs';

export interface CapturedPacket {
  /** Seconds since the epoch. */
  tsSec: number;
  /** Nanoseconds within the second, 0..999999999. */
  tsNsec: number;
  /** Length on the wire (may exceed data.length when the capture was cut at snaplen). */
  origLen: number;
  /** LINKTYPE_* of the interface (1 = Ethernet). */
  linkType: number;
  /** Interface index: the pcapng interface id, 0 for classic pcap. */
  inPort: number;
  /** Captured bytes: a view into the file buffer, not a copy. */
  data: Buffer;
}

export type CaptureFormat = 'pcap' | 'pcapng';

export class CaptureError extends Error {
  override readonly name = 'CaptureError';
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly problem: string,
  ) {
    super(`${file}: byte ${offset}: ${problem}`);
  }
}

const PCAP_HEADER = 24;
const PCAP_RECORD = 16;
/** libpcap's largest snaplen: beyond this (and the file's own snaplen) a record length is corrupt. */
const MAX_SANE_SNAPLEN = 262144;
const PCAPNG_SHB = 0x0a0d0d0a; // a palindrome, so readable before the byte order is known
const PCAPNG_BOM = 0x1a2b3c4d;
const PCAPNG_IDB = 1;
const PCAPNG_OBSOLETE_PB = 2;
const PCAPNG_SPB = 3;
const PCAPNG_EPB = 6;
const OPT_IF_TSRESOL = 9;
const OPT_IF_TSOFFSET = 14;
const NS_PER_SEC = 1_000_000_000n;

type Magic =
  | { format: 'pcap'; le: boolean; nsec: boolean }
  | { format: 'pcapng' };

function detect(buf: Buffer, name: string): Magic {
  if (buf.length === 0) throw new CaptureError(name, 0, 'file is empty');
  if (buf.length < 4) throw new CaptureError(name, 0, `file is only ${buf.length} bytes, too short for a magic number`);
  switch (buf.readUInt32LE(0)) {
    case 0xa1b2c3d4: return { format: 'pcap', le: true, nsec: false };
    case 0xd4c3b2a1: return { format: 'pcap', le: false, nsec: false };
    case 0xa1b23c4d: return { format: 'pcap', le: true, nsec: true };
    case 0x4d3cb2a1: return { format: 'pcap', le: false, nsec: true };
    case PCAPNG_SHB: return { format: 'pcapng' };
    default:
      throw new CaptureError(name, 0, `unknown magic ${buf.subarray(0, 4).toString('hex')} (neither pcap nor pcapng)`);
  }
}

function view(buf: Buffer): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Yields the packets of a pcap or pcapng capture; throws CaptureError where the file is damaged. */
export function readCapture(buf: Buffer, name = 'capture'): Generator<CapturedPacket> {
  const magic = detect(buf, name);
  return magic.format === 'pcap' ? readPcap(buf, name, magic.le, magic.nsec) : readPcapng(buf, name);
}

export function readCaptureFile(path: string): { format: CaptureFormat; packets: CapturedPacket[] } {
  const buf = readFileSync(path);
  return { format: detect(buf, path).format, packets: [...readCapture(buf, path)] };
}

function* readPcap(buf: Buffer, name: string, le: boolean, nsec: boolean): Generator<CapturedPacket> {
  const fail = (offset: number, problem: string) => new CaptureError(name, offset, problem);
  if (buf.length < PCAP_HEADER) {
    throw fail(0, `file is ${buf.length} bytes, shorter than the ${PCAP_HEADER}-byte pcap global header`);
  }
  const dv = view(buf);
  const snaplen = dv.getUint32(16, le);
  const linkType = dv.getUint32(20, le) & 0x03ffffff; // the top 6 bits carry FCS info (libpcap LT_LINKTYPE)
  const maxIncl = Math.max(snaplen, MAX_SANE_SNAPLEN);
  const subLimit = nsec ? 1_000_000_000 : 1_000_000;
  const subScale = nsec ? 1 : 1000;
  const end = buf.length;
  let off = PCAP_HEADER;
  while (off < end) {
    if (off + PCAP_RECORD > end) {
      throw fail(off, `record header cut short: ${end - off} of ${PCAP_RECORD} bytes before end of file`);
    }
    const sub = dv.getUint32(off + 4, le);
    const incl = dv.getUint32(off + 8, le);
    if (sub >= subLimit) throw fail(off, `record ${nsec ? 'nanoseconds' : 'microseconds'} field ${sub} out of range`);
    if (incl > maxIncl) throw fail(off, `record length ${incl} exceeds snaplen ${snaplen}`);
    const data = off + PCAP_RECORD;
    if (data + incl > end) {
      throw fail(off, `record data of ${incl} bytes runs past end of file (${end - data} bytes left)`);
    }
    yield {
      tsSec: dv.getUint32(off, le),
      tsNsec: sub * subScale,
      origLen: dv.getUint32(off + 12, le),
      linkType,
      inPort: 0,
      data: buf.subarray(data, data + incl),
    };
    off = data + incl;
  }
}

interface Interface {
  linkType: number;
  snaplen: number; // 0 = unlimited
  /** Timestamp units per second: 10^n or 2^n. */
  unitsPerSec: bigint;
  /** if_tsoffset: seconds added to every timestamp. */
  tsOffset: bigint;
}

function* readPcapng(buf: Buffer, name: string): Generator<CapturedPacket> {
  const fail = (offset: number, problem: string) => new CaptureError(name, offset, problem);
  const dv = view(buf);
  const end = buf.length;
  let le = true;
  let ifaces: Interface[] = [];
  let off = 0;
  while (off < end) {
    if (off + 12 > end) throw fail(off, `block cut short: ${end - off} bytes before end of file, a block needs at least 12`);
    const type = dv.getUint32(off, le);
    if (type === PCAPNG_SHB) {
      const bom = dv.getUint32(off + 8, true);
      if (bom !== PCAPNG_BOM && bom !== 0x4d3c2b1a) throw fail(off, `section header byte-order magic ${bom.toString(16)} is invalid`);
      le = bom === PCAPNG_BOM;
      ifaces = []; // interface ids are per section
    }
    const len = dv.getUint32(off + 4, le);
    if (len < 12 || len % 4 !== 0) throw fail(off, `block length ${len} is ${len < 12 ? 'less than 12' : 'not a multiple of 4'}`);
    if (off + len > end) throw fail(off, `block of ${len} bytes runs past end of file (${end - off} bytes left)`);
    const trailer = dv.getUint32(off + len - 4, le);
    if (trailer !== len) throw fail(off, `trailing block length ${trailer} does not match leading length ${len}`);
    const body = off + 8;
    const bodyEnd = off + len - 4;
    const need = (bytes: number, what: string) => {
      if (bodyEnd - body < bytes) throw fail(off, `${what} body of ${bodyEnd - body} bytes is shorter than ${bytes}`);
    };
    const ifaceAt = (id: number) => {
      const ifc = ifaces[id];
      if (!ifc) throw fail(off, `packet references interface ${id}, but the section has ${ifaces.length} interface(s)`);
      return ifc;
    };

    if (type === PCAPNG_SHB) {
      need(16, 'section header');
      const major = dv.getUint16(body + 4, le);
      if (major !== 1) throw fail(off, `unsupported pcapng major version ${major}`);
    } else if (type === PCAPNG_IDB) {
      need(8, 'interface description');
      const ifc: Interface = {
        linkType: dv.getUint16(body, le),
        snaplen: dv.getUint32(body + 4, le),
        unitsPerSec: 1_000_000n,
        tsOffset: 0n,
      };
      for (let p = body + 8; p + 4 <= bodyEnd; ) {
        const code = dv.getUint16(p, le);
        const olen = dv.getUint16(p + 2, le);
        if (code === 0) break; // opt_endofopt
        const val = p + 4;
        if (val + olen > bodyEnd) throw fail(p, `interface option ${code} of ${olen} bytes runs past its block`);
        if (code === OPT_IF_TSRESOL && olen >= 1) {
          const r = buf[val];
          ifc.unitsPerSec = r & 0x80 ? 1n << BigInt(r & 0x7f) : 10n ** BigInt(r);
        } else if (code === OPT_IF_TSOFFSET && olen >= 8) {
          ifc.tsOffset = dv.getBigInt64(val, le);
        }
        p = val + ((olen + 3) & ~3);
      }
      ifaces.push(ifc);
    } else if (type === PCAPNG_EPB || type === PCAPNG_OBSOLETE_PB) {
      need(20, 'packet');
      // The obsolete Packet Block has the same layout, with a 16-bit interface id and drop count.
      const id = type === PCAPNG_EPB ? dv.getUint32(body, le) : dv.getUint16(body, le);
      const ifc = ifaceAt(id);
      const capLen = dv.getUint32(body + 12, le);
      const data = body + 20;
      if (capLen > bodyEnd - data) {
        throw fail(off, `captured length ${capLen} runs past the block (${bodyEnd - data} bytes of room)`);
      }
      // 64-bit count of interface units: exact only in BigInt.
      const ts = (BigInt(dv.getUint32(body + 4, le)) << 32n) | BigInt(dv.getUint32(body + 8, le));
      const sec = ts / ifc.unitsPerSec;
      yield {
        tsSec: Number(sec + ifc.tsOffset),
        tsNsec: Number(((ts - sec * ifc.unitsPerSec) * NS_PER_SEC) / ifc.unitsPerSec),
        origLen: dv.getUint32(body + 16, le),
        linkType: ifc.linkType,
        inPort: id,
        data: buf.subarray(data, data + capLen),
      };
    } else if (type === PCAPNG_SPB) {
      need(4, 'simple packet');
      const ifc = ifaceAt(0);
      const origLen = dv.getUint32(body, le);
      const room = bodyEnd - body - 4;
      const capLen = Math.min(origLen, ifc.snaplen || origLen, room);
      yield { tsSec: 0, tsNsec: 0, origLen, linkType: ifc.linkType, inPort: 0, data: buf.subarray(body + 4, body + 4 + capLen) };
    }
    // Every other block (name resolution, statistics, secrets, custom...) carries no packet.
    off += len;
  }
}

export interface PacketToWrite {
  tsSec: number;
  tsNsec: number;
  origLen?: number;
  data: Uint8Array;
}

/** Writes a little-endian classic pcap; µs resolution unless `nanosecond` (µs truncate the ns). */
export function writePcap(
  packets: Iterable<PacketToWrite>,
  opts: { linkType?: number; nanosecond?: boolean } = {},
): Buffer {
  const list = [...packets];
  let size = PCAP_HEADER;
  let maxLen = 0;
  for (const p of list) {
    size += PCAP_RECORD + p.data.length;
    maxLen = Math.max(maxLen, p.data.length);
  }
  const out = Buffer.alloc(size);
  out.writeUInt32LE(opts.nanosecond ? 0xa1b23c4d : 0xa1b2c3d4, 0);
  out.writeUInt16LE(2, 4);
  out.writeUInt16LE(4, 6);
  out.writeUInt32LE(Math.max(MAX_SANE_SNAPLEN, maxLen), 16);
  out.writeUInt32LE(opts.linkType ?? 1, 20);
  let off = PCAP_HEADER;
  for (const p of list) {
    out.writeUInt32LE(p.tsSec, off);
    out.writeUInt32LE(opts.nanosecond ? p.tsNsec : Math.floor(p.tsNsec / 1000), off + 4);
    out.writeUInt32LE(p.data.length, off + 8);
    out.writeUInt32LE(p.origLen ?? p.data.length, off + 12);
    out.set(p.data, off + PCAP_RECORD);
    off += PCAP_RECORD + p.data.length;
  }
  return out;
}
