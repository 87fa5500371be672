import test from 'ava';
import { parseIp, parsePrefix, type Prefix } from './address.js';
import { decode } from './decode.js';
import { hostHash, keyHash, packetHash, PARTITION_KEYS } from './hash.js';
import { packetFlow } from './key.js';

/** mulberry32: a seeded generator, so every run sees the same "random" flows. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** An Ethernet frame with an IPv4 or IPv6 header (by address size) and a 20-byte TCP/UDP header. */
function frame(proto: number, src: Uint8Array, dst: Uint8Array, sport: number, dport: number): Buffer {
  const v6 = src.length === 16;
  const ipLen = v6 ? 40 : 20;
  const f = Buffer.alloc(14 + ipLen + 20);
  f.writeUInt16BE(v6 ? 0x86dd : 0x0800, 12);
  if (v6) {
    f[14] = 0x60;
    f.writeUInt16BE(20, 18);
    f[20] = proto;
    f.set(src, 22);
    f.set(dst, 38);
  } else {
    f[14] = 0x45;
    f.writeUInt16BE(40, 16);
    f[23] = proto;
    f.set(src, 26);
    f.set(dst, 30);
  }
  f.writeUInt16BE(sport, 14 + ipLen);
  f.writeUInt16BE(dport, 16 + ipLen);
  f[14 + ipLen + 12] = 0x50;
  return f;
}

type Flow = { proto: number; src: Uint8Array; dst: Uint8Array; sport: number; dport: number };

function randomFlows(n: number, seed: number): Flow[] {
  const r = rng(seed);
  const bytes = (len: number) => Uint8Array.from({ length: len }, () => Math.floor(r() * 256));
  return Array.from({ length: n }, () => {
    const len = r() < 0.25 ? 16 : 4;
    // some flows share one address on both ends (loopback-like), so ports must order them
    const src = bytes(len);
    const dst = r() < 0.05 ? src : bytes(len);
    return { proto: r() < 0.5 ? 6 : 17, src, dst, sport: Math.floor(r() * 65536), dport: Math.floor(r() * 65536) };
  });
}

const packet = (f: Flow, reverse = false) => {
  const data = reverse ? frame(f.proto, f.dst, f.src, f.dport, f.sport) : frame(f.proto, f.src, f.dst, f.sport, f.dport);
  return { data, d: decode(data) };
};

const INSIDE: Prefix[] = [parsePrefix('0.0.0.0/1'), parsePrefix('8000::/1')];

test('packet and key hashes agree, in both directions, for every key kind', (t) => {
  for (const f of randomFlows(1000, 1)) {
    const fwd = packet(f);
    const rev = packet(f, true);
    const a = packetFlow(fwd.data, fwd.d)!;
    const b = packetFlow(rev.data, rev.d)!;
    t.is(a.id, b.id);
    const sameEnds = a.key.a.ip === a.key.b.ip && a.key.a.port === a.key.b.port;
    if (!sameEnds) t.not(a.forward, b.forward, a.id);
    for (const kind of PARTITION_KEYS) {
      for (const inside of [[], INSIDE]) {
        const h = keyHash(kind, inside, a.key);
        t.is(packetHash(kind, inside, fwd.data, fwd.d), h, `${kind} ${a.id}`);
        t.is(packetHash(kind, inside, rev.data, rev.d), h, `${kind} reversed ${a.id}`);
      }
    }
  }
});

test('a host key picks the inside address, else the lower one', (t) => {
  const lo = parseIp('10.0.0.5')!;
  const hi = parseIp('172.16.0.9')!;
  const { data, d } = packet({ proto: 6, src: lo, dst: hi, sport: 40000, dport: 443 });
  const host = (inside: string[]) => packetHash('host', inside.map(parsePrefix), data, d);
  t.is(host([]), hostHash(lo));
  t.is(host(['172.16.0.0/12']), hostHash(hi));
  t.is(host(['10.0.0.0/8']), hostHash(lo));
  t.is(host(['10.0.0.0/8', '172.16.0.0/12']), hostHash(lo)); // both inside: the lower
  t.is(host(['192.168.0.0/16']), hostHash(lo)); // neither inside: the lower
  t.not(hostHash(lo), hostHash(hi));
  // the host key ignores ports and the other end; the flow key does not
  const other = packet({ proto: 17, src: parseIp('203.0.113.1')!, dst: hi, sport: 1, dport: 2 });
  t.is(packetHash('host', [parsePrefix('172.16.0.0/12')], other.data, other.d), hostHash(hi));
  t.not(packetHash('flow', [], other.data, other.d), packetHash('flow', [], data, d));
});

test('hostPair ignores ports and protocol; flow does not', (t) => {
  const [src, dst] = [parseIp('2001:db8::1')!, parseIp('2001:db8::2')!];
  const p1 = packet({ proto: 6, src, dst, sport: 1000, dport: 80 });
  const p2 = packet({ proto: 17, src: dst, dst: src, sport: 53, dport: 2000 });
  t.is(packetHash('hostPair', [], p1.data, p1.d), packetHash('hostPair', [], p2.data, p2.d));
  t.not(packetHash('flow', [], p1.data, p1.d), packetHash('flow', [], p2.data, p2.d));
});

test('hash values are pinned: switch and middleboxes of different builds must agree', (t) => {
  const f = packet({ proto: 6, src: parseIp('10.0.0.1')!, dst: parseIp('10.0.0.2')!, sport: 40000, dport: 80 });
  t.deepEqual(PARTITION_KEYS.map((k) => packetHash(k, [], f.data, f.d)), GOLDEN);
  t.is(hostHash(parseIp('::1')!), GOLDEN_V6_HOST);
  const arp = Buffer.alloc(42);
  arp.writeUInt16BE(0x0806, 12);
  t.is(packetHash('flow', [], arp, decode(arp)), 0); // no IP: bucket 0
});

test('10k random flows spread evenly over 8 buckets', (t) => {
  const flows = randomFlows(10_000, 2);
  for (const kind of PARTITION_KEYS) {
    const counts = new Array<number>(8).fill(0);
    for (const f of flows) {
      const { data, d } = packet(f);
      counts[packetHash(kind, [], data, d) % 8]++;
    }
    for (const c of counts) t.true(c >= 1000 && c <= 1500, `${kind}: ${counts.join(' ')}`);
  }
});

// Computed independently (FNV-1a 32 then the murmur3 fmix32 finalizer, in Python).
const GOLDEN = [3726544182, 798353376, 4242520943]; // flow, hostPair, host
const GOLDEN_V6_HOST = 2095541077;
