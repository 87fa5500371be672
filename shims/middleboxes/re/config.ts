/** The RE's configuration: chunking parameters and cache bounds, checked field by field. */
import { ConfigError } from '../../shim/definition.js';
import { shown } from '../../flow/shown.js';
import type { ChunkParams } from './chunker.js';

export interface ReConfig extends ChunkParams {
  /** Chunk bytes the encoder's cache holds. */
  cacheBytes: number;
  /**
   * The decoder's cache holds decoderCacheFactor × cacheBytes. One encoder (and whatever its
   * state is moved into) needs 1: the decoder sees the same hits and insertions and LRU keeps the
   * larger cache a superset. Clones and merges run several encoders whose caches each stay in
   * their bound while together they refer to more chunks, so the decoder gets room for several.
   */
  decoderCacheFactor: number;
}

export const DEFAULT_CONFIG = {
  cacheBytes: 4 * 1024 * 1024,
  window: 16,
  minChunk: 32,
  averageChunk: 128,
  maxChunk: 1024,
  decoderCacheFactor: 4,
} as const satisfies ReConfig;

const FIELDS = Object.keys(DEFAULT_CONFIG);

/** The all-flows state travels as one chunk in one southbound frame (64 MiB at most). */
export const MAX_CACHE_BYTES = 32 * 1024 * 1024;
/** Chunk lengths travel as u16 in the encoded format. */
export const MAX_CHUNK = 0xffff;

function positiveInt(values: Record<string, unknown>, field: string, what: string): number {
  const v = values[field];
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new ConfigError(field, `must be a positive integer (${what}), got ${shown(v)}`);
  return v;
}

export function parseReConfig(values: Record<string, unknown>): ReConfig {
  for (const k of Object.keys(values)) {
    if (!FIELDS.includes(k)) throw new ConfigError(k, `unknown setting for re (known: ${FIELDS.join(', ')})`);
  }
  const cacheBytes = positiveInt(values, 'cacheBytes', 'bytes');
  const window = positiveInt(values, 'window', 'bytes');
  const minChunk = positiveInt(values, 'minChunk', 'bytes');
  const averageChunk = positiveInt(values, 'averageChunk', 'bytes');
  const maxChunk = positiveInt(values, 'maxChunk', 'bytes');
  const decoderCacheFactor = positiveInt(values, 'decoderCacheFactor', 'a multiple of cacheBytes');
  if (cacheBytes > MAX_CACHE_BYTES) throw new ConfigError('cacheBytes', `${cacheBytes} exceeds ${MAX_CACHE_BYTES}: the cache moves as one state chunk, which must fit one southbound frame`);
  if (maxChunk > MAX_CHUNK) throw new ConfigError('maxChunk', `${maxChunk} exceeds ${MAX_CHUNK}, the largest length the encoded format carries`);
  if (minChunk > maxChunk) throw new ConfigError('minChunk', `${minChunk} exceeds maxChunk ${maxChunk}`);
  if (averageChunk < minChunk || averageChunk > maxChunk) {
    throw new ConfigError('averageChunk', `${averageChunk} is outside [minChunk ${minChunk}, maxChunk ${maxChunk}]`);
  }
  if (cacheBytes < maxChunk) throw new ConfigError('cacheBytes', `${cacheBytes} is smaller than maxChunk ${maxChunk}: every chunk must fit in the cache`);
  return { cacheBytes, window, minChunk, averageChunk, maxChunk, decoderCacheFactor };
}
