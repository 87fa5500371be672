/**
 * tshark's own dissection of a capture, reduced to what the tests hold the middleboxes to:
 * - flows: per TCP/UDP flow packet and byte counts. A packet belongs to a flow when the layer
 *   right after its outermost IP header (past IPv6 extension headers) is TCP or UDP; its
 *   addresses and ports are that outermost header's (first occurrence), and its bytes are
 *   frame.len. IP reassembly is off so each frame is judged by its own headers.
 * - HTTP requests over TCP, counted per unordered endpoint pair.
 * - the frames whose IPv4 header, TCP or UDP checksum tshark finds bad.
 * Each reduction says the exact tshark arguments it ran, so a stored reference records them.
 */
import { execFileSync } from 'node:child_process';

export interface Endpoint {
  ip: string;
  port: number;
}

export interface ReferenceFlow {
  proto: 'tcp' | 'udp';
  a: Endpoint;
  b: Endpoint;
  packets: number;
  bytes: number;
}

const IPV6_EXTENSION_LAYERS = new Set(['ipv6.hopopts', 'ipv6.routing', 'ipv6.fraghdr', 'ipv6.dstopts', 'ah']);

export const FLOW_ARGS = [
  '-n', '-o', 'ip.defragment:FALSE', '-o', 'ipv6.defragment:FALSE',
  '-T', 'fields', '-E', 'separator=|', '-E', 'occurrence=f',
  '-e', 'frame.len', '-e', 'frame.protocols', '-e', 'ip.src', '-e', 'ip.dst', '-e', 'ipv6.src', '-e', 'ipv6.dst',
  '-e', 'tcp.srcport', '-e', 'tcp.dstport', '-e', 'udp.srcport', '-e', 'udp.dstport',
];

export const HTTP_ARGS = ['-Y', 'http.request && tcp', '-T', 'fields',
  '-e', 'ip.src', '-e', 'ipv6.src', '-e', 'tcp.srcport', '-e', 'ip.dst', '-e', 'ipv6.dst', '-e', 'tcp.dstport'];

/** Status 0 is "Bad" in tshark 4.x. */
export const BAD_CHECKSUM_ARGS = ['-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE',
  '-Y', 'ip.checksum.status==0 || tcp.checksum.status==0 || udp.checksum.status==0', '-T', 'fields', '-e', 'frame.number'];

function tshark(file: string, args: string[]): string {
  return execFileSync('tshark', ['-r', file, ...args], { maxBuffer: 1 << 30, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
}

export function tsharkAvailable(): boolean {
  try {
    execFileSync('tshark', ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** tshark's first version line, e.g. "TShark (Wireshark) 4.0.17". */
export function tsharkVersion(): string {
  return execFileSync('tshark', ['-v'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n')[0].trim();
}

/** The unordered pair key the flows and HTTP counts use: text of the lower endpoint first. */
export function flowKeyText(f: { proto: string; a: Endpoint; b: Endpoint }): string {
  return `${f.proto} ${f.a.ip} ${f.a.port} ${f.b.ip} ${f.b.port}`;
}

function compareEndpoint(x: Endpoint, y: Endpoint, v6: boolean): number {
  const bytes = (ip: string) => (v6 ? expandV6(ip) : ip.split('.').map((n) => n.padStart(3, '0')).join('.'));
  const a = bytes(x.ip);
  const b = bytes(y.ip);
  return a < b ? -1 : a > b ? 1 : x.port - y.port;
}

/** Full 32-hex-digit form, which sorts as the address bytes do. */
function expandV6(ip: string): string {
  let text = ip;
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [, a, b, c, d] = dotted.map(Number);
    text = text.slice(0, dotted.index) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, null];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === null ? h : [...h, ...new Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.map((g) => g.padStart(4, '0')).join('');
}

export function tsharkFlows(file: string): ReferenceFlow[] {
  const flows = new Map<string, ReferenceFlow>();
  for (const line of tshark(file, FLOW_ARGS).split('\n')) {
    if (!line) continue;
    const [len, protocols, ip4s, ip4d, ip6s, ip6d, ts, td, us, ud] = line.split('|');
    const layers = protocols.split(':');
    const l3 = layers.findIndex((l) => l === 'ip' || l === 'ipv6');
    if (l3 < 0) continue;
    let next = l3 + 1;
    while (next < layers.length && IPV6_EXTENSION_LAYERS.has(layers[next])) next++;
    const transport = layers[next];
    if (transport !== 'tcp' && transport !== 'udp') continue;
    const v6 = layers[l3] === 'ipv6';
    const src = { ip: v6 ? ip6s : ip4s, port: Number(transport === 'tcp' ? ts : us) };
    const dst = { ip: v6 ? ip6d : ip4d, port: Number(transport === 'tcp' ? td : ud) };
    const [a, b] = compareEndpoint(src, dst, v6) <= 0 ? [src, dst] : [dst, src];
    const flow: ReferenceFlow = { proto: transport, a, b, packets: 0, bytes: 0 };
    const key = flowKeyText(flow);
    const f = flows.get(key) ?? flows.set(key, flow).get(key)!;
    f.packets++;
    f.bytes += Number(len);
  }
  return [...flows.values()].sort((x, y) => (flowKeyText(x) < flowKeyText(y) ? -1 : 1));
}

/** HTTP requests over TCP by unordered endpoint pair ("ip port | ip port", sorted as text), sorted by pair. */
export function tsharkHttpRequests(file: string): [string, number][] {
  const counts = new Map<string, number>();
  for (const line of tshark(file, HTTP_ARGS).split('\n').filter(Boolean)) {
    const [s4, s6, sp, d4, d6, dp] = line.split('\t');
    const key = httpPairKey({ ip: s4 || s6, port: Number(sp) }, { ip: d4 || d6, port: Number(dp) });
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].sort(([x], [y]) => (x < y ? -1 : 1));
}

export function httpPairKey(a: Endpoint, b: Endpoint): string {
  return [`${a.ip} ${a.port}`, `${b.ip} ${b.port}`].sort().join(' | ');
}

/** Frame numbers (from 1) with a bad IPv4 header, TCP or UDP checksum, ascending. */
export function tsharkBadChecksumFrames(file: string): number[] {
  return tshark(file, BAD_CHECKSUM_ARGS).split('\n').filter(Boolean).map(Number).sort((a, b) => a - b);
}
