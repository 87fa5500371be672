/** IP address text <-> bytes, prefixes. IPv6 text follows RFC 5952 (what tshark prints). */

export type IpBytes = Uint8Array; // 4 or 16 bytes

export function ipv4Text(b: Uint8Array, off: number): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

export function ipv6Text(b: Uint8Array, off: number): string {
  const groups = new Array<number>(8);
  for (let i = 0; i < 8; i++) groups[i] = (b[off + 2 * i] << 8) | b[off + 2 * i + 1];
  // IPv4-mapped addresses keep their dotted tail (RFC 5952 §5).
  if (groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 && groups[4] === 0 && groups[5] === 0xffff) {
    return `::ffff:${ipv4Text(b, off + 12)}`;
  }
  // Compress the first longest run of two or more zero groups.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = (g: number) => g.toString(16);
  if (bestStart < 0) return groups.map(hex).join(':');
  const head = groups.slice(0, bestStart).map(hex).join(':');
  const tail = groups.slice(bestStart + bestLen).map(hex).join(':');
  return `${head}::${tail}`;
}

export function ipText(bytes: IpBytes): string {
  return bytes.length === 4 ? ipv4Text(bytes, 0) : ipv6Text(bytes, 0);
}

/** Parses an IPv4 or IPv6 address; null when it is not one. */
export function parseIp(text: string): IpBytes | null {
  return text.includes(':') ? parseIpv6(text) : parseIpv4(text);
}

/** Dotted quad, one to three digits a part, no leading zeros (this runs for every flow key a `put` imports). */
function parseIpv4(text: string): IpBytes | null {
  const out = new Uint8Array(4);
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || part === 3) return null;
      out[part++] = value;
      value = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57 && digits < 3 && !(digits === 1 && value === 0)) {
      value = value * 10 + (c - 48);
      digits++;
      if (value > 255) return null;
    } else {
      return null;
    }
  }
  if (part !== 3 || digits === 0) return null;
  out[3] = value;
  return out;
}

function parseIpv6(text: string): IpBytes | null {
  const out = new Uint8Array(16);
  const halves = text.split('::');
  if (halves.length > 2) return null;
  // A dotted IPv4 tail may only end the whole address, never the part before "::".
  const parseGroups = (s: string, v4Tail: boolean): number[] | null => {
    if (s === '') return [];
    const groups: number[] = [];
    const items = s.split(':');
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (v4Tail && i === items.length - 1 && item.includes('.')) {
        const v4 = parseIpv4(item);
        if (!v4) return null;
        groups.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(item)) return null;
        groups.push(parseInt(item, 16));
      }
    }
    return groups;
  };
  const head = parseGroups(halves[0], halves.length === 1);
  const tail = halves.length === 2 ? parseGroups(halves[1], true) : [];
  if (!head || !tail) return null;
  const total = head.length + tail.length;
  if (halves.length === 1 ? total !== 8 : total > 7) return null;
  const groups = [...head, ...new Array<number>(8 - total).fill(0), ...tail];
  for (let i = 0; i < 8; i++) {
    out[2 * i] = groups[i] >> 8;
    out[2 * i + 1] = groups[i] & 0xff;
  }
  return out;
}

export interface Prefix {
  bytes: IpBytes;
  length: number;
}

/** Parses "a.b.c.d/n" or "x::y/n" (a bare address is a full-length prefix); throws naming the problem. */
export function parsePrefix(text: string): Prefix {
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const bytes = parseIp(addr);
  if (!bytes) throw new Error(`"${text}" is not an IPv4 or IPv6 address or prefix`);
  const max = bytes.length * 8;
  if (slash < 0) return { bytes, length: max };
  const lenText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lenText)) throw new Error(`"${text}": prefix length "${lenText}" is not a number`);
  const length = Number(lenText);
  if (length > max) {
    throw new Error(`"${text}": prefix length ${length} exceeds ${max} for ${bytes.length === 4 ? 'IPv4' : 'IPv6'}`);
  }
  return { bytes, length };
}

/** True when the address at `b[off..]` of the given size lies inside the prefix. */
export function prefixContains(p: Prefix, b: Uint8Array, off: number, size: number): boolean {
  if (size !== p.bytes.length) return false;
  const full = p.length >> 3;
  for (let i = 0; i < full; i++) if (b[off + i] !== p.bytes[i]) return false;
  const rest = p.length & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (b[off + full] & mask) === (p.bytes[full] & mask);
}

/** Lexicographic order of two addresses of the same family; shorter (IPv4) sorts first. */
export function compareBytes(a: Uint8Array, aOff: number, aLen: number, b: Uint8Array, bOff: number, bLen: number): number {
  if (aLen !== bLen) return aLen - bLen;
  for (let i = 0; i < aLen; i++) {
    const d = a[aOff + i] - b[bOff + i];
    if (d !== 0) return d;
  }
  return 0;
}
