/**
 * The RE's state in its three scopes:
 * - per-flow: the flow's byte counters, so what a flow saved moves with it;
 * - multi-flow: nothing (the RE keeps no per-host state), an empty object;
 * - all-flows: the chunk cache, merged as a bounded union (cache.ts).
 * Totals are sums over the flows, so cloning a cache into another instance copies no counters.
 */
import { ChunkCache, mergeCaches } from './cache.js';
import { CHUNK_ID_LIMIT, chunkId } from './chunker.js';
import { MAX_CACHE_BYTES, MAX_CHUNK } from './config.js';

export interface FlowCounters {
  /** Packets with a TCP/UDP payload, all encoded. */
  payloadPackets: number;
  /** Original payload bytes. */
  bytesIn: number;
  /** Payload bytes after encoding (markers, headers and references included). */
  encodedBytes: number;
  /** Bytes of chunks replaced by references, less the references' own bytes. */
  bytesSaved: number;
  /** Chunks looked up in the cache (those longer than a reference). */
  chunks: number;
  /** Chunks found in the cache and sent as references. */
  hits: number;
}

export type NoHostState = Record<string, never>;

/** The largest clock a cache chunk may carry (see the cache codec). */
const MAX_CLOCK = 2 ** 52;

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

/** Flow counters travel as [payloadPackets, bytesIn, encodedBytes, bytesSaved, chunks, hits]. */
export const flowCodec = {
  encode: (s: FlowCounters): unknown => [s.payloadPackets, s.bytesIn, s.encodedBytes, s.bytesSaved, s.chunks, s.hits],
  decode: (j: unknown): FlowCounters => {
    if (!Array.isArray(j) || j.length !== 6) throw new Error('flow state must be [payloadPackets, bytesIn, encodedBytes, bytesSaved, chunks, hits]');
    if (!j.every(isCount)) throw new Error('flow counters must be non-negative integers');
    const [payloadPackets, bytesIn, encodedBytes, bytesSaved, chunks, hits] = j as number[];
    if (hits > chunks) throw new Error(`hits ${hits} exceed chunks looked up ${chunks}`);
    if (bytesSaved > bytesIn) throw new Error(`bytesSaved ${bytesSaved} exceeds bytesIn ${bytesIn}`);
    return { payloadPackets, bytesIn, encodedBytes, bytesSaved, chunks, hits };
  },
};

export const hostCodec = {
  encode: (s: NoHostState): unknown => s,
  decode: (j: unknown): NoHostState => {
    if (j === null || typeof j !== 'object' || Array.isArray(j) || Object.keys(j).length > 0) throw new Error('re keeps no multi-flow state: it must be {}');
    return {};
  },
  merge: (into: NoHostState): NoHostState => into,
};

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function decodeCache(j: unknown): ChunkCache {
  if (j === null || typeof j !== 'object' || Array.isArray(j)) throw new Error('cache state must be {limit, clock, entries}');
  const { limit, clock, entries, ...rest } = j as Record<string, unknown>;
  if (Object.keys(rest).length > 0) throw new Error(`unknown cache field(s): ${Object.keys(rest).join(', ')}`);
  if (!isCount(limit) || !isCount(clock)) throw new Error('limit and clock must be non-negative integers');
  // The clock counts on from here one lookup at a time; past 2^53 it would stand still and stamps repeat.
  if (clock > MAX_CLOCK) throw new Error(`clock must be at most 2^52, leaving it room to count, got ${clock}`);
  // The cache's arena is allocated from the limit: a chunk must not be able to ask for gigabytes.
  if (limit > MAX_CACHE_BYTES) throw new Error(`limit ${limit} exceeds the largest cache, ${MAX_CACHE_BYTES} bytes`);
  if (!Array.isArray(entries)) throw new Error('entries must be an array of [id, stamp, base64 bytes]');
  const cache = new ChunkCache(limit);
  let lastStamp = 0;
  let lastId = -1;
  entries.forEach((e: unknown, i) => {
    if (!Array.isArray(e) || e.length !== 3) throw new Error(`entries[${i}] must be [id, stamp, base64 bytes]`);
    const [id, stamp, text] = e;
    if (!isCount(id) || id >= CHUNK_ID_LIMIT) throw new Error(`entries[${i}]: id must be an integer in [0, 2^53)`);
    // Merged caches may hold equal stamps (from different instances' clocks): ties go by id.
    if (!isCount(stamp) || stamp < lastStamp || (stamp === lastStamp && id <= lastId) || stamp > clock || stamp === 0) {
      throw new Error(`entries[${i}]: entries must go by (stamp, id), least recently used first, with stamps from 1 to the clock ${clock}`);
    }
    if (typeof text !== 'string' || text.length % 4 !== 0 || !BASE64.test(text)) throw new Error(`entries[${i}]: bytes must be base64`);
    const bytes = Buffer.from(text, 'base64');
    if (bytes.length === 0 || bytes.length > MAX_CHUNK) throw new Error(`entries[${i}]: a chunk has 1 to ${MAX_CHUNK} bytes, got ${bytes.length}`);
    if (chunkId(bytes, 0, bytes.length) !== id) throw new Error(`entries[${i}]: id ${id} is not the id of its bytes`);
    if (cache.entries.has(id)) throw new Error(`entries[${i}]: id ${id} appears twice`);
    if (cache.bytes + bytes.length > limit) throw new Error(`entries[${i}]: the entries hold more than the limit of ${limit} bytes`);
    cache.append(id, bytes, 0, bytes.length, stamp);
    lastStamp = stamp;
    lastId = id;
  });
  cache.clock = clock;
  return cache;
}

/** The cache travels as {limit, clock, entries: [[id, stamp, base64 bytes], ...]}, least recently used first. */
export const cacheCodec = {
  init: (): ChunkCache => new ChunkCache(0),
  encode: (c: ChunkCache): unknown => ({
    limit: c.limit,
    clock: c.clock,
    entries: Array.from(c.entries, ([id, e]) => [id, e.stamp, c.view(e).toString('base64')]),
  }),
  decode: decodeCache,
  merge: mergeCaches,
};
