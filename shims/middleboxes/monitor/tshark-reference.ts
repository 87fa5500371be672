/**
 * The reference the monitor is checked against: tshark's own dissection of a capture, reduced
 * to per-flow packet and byte counts. A packet belongs to a TCP/UDP flow when the layer right
 * after its outermost IP header (past IPv6 extension headers) is TCP or UDP; its addresses and
 * ports are that outermost header's (first occurrence), and its bytes are frame.len. IP
 * reassembly is turned off so each frame is judged by its own headers.
 */
import { execFileSync } from 'node:child_process';
import { flowSortKey } from './monitor.js';

export interface ReferenceFlow {
  proto: 'tcp' | 'udp';
  a: { ip: string; port: number };
  b: { ip: string; port: number };
  packets: number;
  bytes: number;
}

const IPV6_EXTENSION_LAYERS = new Set(['ipv6.hopopts', 'ipv6.routing', 'ipv6.fraghdr', 'ipv6.dstopts', 'ah']);

export function tsharkAvailable(): boolean {
  try {
    execFileSync('tshark', ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function compareEndpoint(x: { ip: string; port: number }, y: { ip: string; port: number }, v6: boolean): number {
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

export function tsharkFlows(trace: string): ReferenceFlow[] {
  const out = execFileSync('tshark', [
    '-n', '-r', trace, '-o', 'ip.defragment:FALSE', '-o', 'ipv6.defragment:FALSE',
    '-T', 'fields', '-E', 'separator=|', '-E', 'occurrence=f',
    '-e', 'frame.len', '-e', 'frame.protocols', '-e', 'ip.src', '-e', 'ip.dst', '-e', 'ipv6.src', '-e', 'ipv6.dst',
    '-e', 'tcp.srcport', '-e', 'tcp.dstport', '-e', 'udp.srcport', '-e', 'udp.dstport',
  ], { maxBuffer: 1 << 30, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const flows = new Map<string, ReferenceFlow>();
  for (const line of out.split('\n')) {
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
    const flow = { proto: transport, a, b, packets: 0, bytes: 0 } as ReferenceFlow;
    const key = flowSortKey(flow);
    const f = flows.get(key) ?? flows.set(key, flow).get(key)!;
    f.packets++;
    f.bytes += Number(len);
  }
  return [...flows.values()].sort((x, y) => (flowSortKey(x) < flowSortKey(y) ? -1 : 1));
}
