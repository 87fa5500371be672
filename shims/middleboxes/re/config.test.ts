import test from 'ava';
import { ConfigError } from '../../shim/definition.js';
import { DEFAULT_CONFIG, parseReConfig } from './config.js';

test('the defaults parse to themselves', (t) => {
  t.deepEqual(parseReConfig({ ...DEFAULT_CONFIG }), {
    cacheBytes: 4194304, window: 16, minChunk: 32, averageChunk: 128, maxChunk: 1024, decoderCacheFactor: 4,
  });
});

test('average may equal min or max', (t) => {
  t.is(parseReConfig({ ...DEFAULT_CONFIG, averageChunk: 32 }).averageChunk, 32);
  t.is(parseReConfig({ ...DEFAULT_CONFIG, averageChunk: 1024 }).averageChunk, 1024);
});

const refused: [string, Record<string, unknown>, string, string][] = [
  ['cacheBytes zero', { cacheBytes: 0 }, 'cacheBytes', 'config.cacheBytes: must be a positive integer (bytes), got 0'],
  ['cacheBytes negative', { cacheBytes: -4096 }, 'cacheBytes', 'config.cacheBytes: must be a positive integer (bytes), got -4096'],
  ['cacheBytes fractional', { cacheBytes: 4096.5 }, 'cacheBytes', 'config.cacheBytes: must be a positive integer (bytes), got 4096.5'],
  ['cacheBytes a string', { cacheBytes: '4MiB' }, 'cacheBytes', 'config.cacheBytes: must be a positive integer (bytes), got "4MiB"'],
  ['cacheBytes null', { cacheBytes: null }, 'cacheBytes', 'config.cacheBytes: must be a positive integer (bytes), got null'],
  ['cacheBytes too large', { cacheBytes: 64 * 1024 * 1024 }, 'cacheBytes',
    'config.cacheBytes: 67108864 exceeds 33554432: the cache moves as one state chunk, which must fit one southbound frame'],
  ['cacheBytes below maxChunk', { cacheBytes: 1000 }, 'cacheBytes', 'config.cacheBytes: 1000 is smaller than maxChunk 1024: every chunk must fit in the cache'],
  ['window zero', { window: 0 }, 'window', 'config.window: must be a positive integer (bytes), got 0'],
  ['window negative', { window: -16 }, 'window', 'config.window: must be a positive integer (bytes), got -16'],
  ['window fractional', { window: 1.5 }, 'window', 'config.window: must be a positive integer (bytes), got 1.5'],
  ['minChunk zero', { minChunk: 0 }, 'minChunk', 'config.minChunk: must be a positive integer (bytes), got 0'],
  ['min above max', { minChunk: 2048, averageChunk: 2048 }, 'minChunk', 'config.minChunk: 2048 exceeds maxChunk 1024'],
  ['average below min', { averageChunk: 16 }, 'averageChunk', 'config.averageChunk: 16 is outside [minChunk 32, maxChunk 1024]'],
  ['average above max', { averageChunk: 4096 }, 'averageChunk', 'config.averageChunk: 4096 is outside [minChunk 32, maxChunk 1024]'],
  ['average not a number', { averageChunk: '128' }, 'averageChunk', 'config.averageChunk: must be a positive integer (bytes), got "128"'],
  ['maxChunk over the format', { maxChunk: 70000 }, 'maxChunk', 'config.maxChunk: 70000 exceeds 65535, the largest length the encoded format carries'],
  ['decoderCacheFactor zero', { decoderCacheFactor: 0 }, 'decoderCacheFactor', 'config.decoderCacheFactor: must be a positive integer (a multiple of cacheBytes), got 0'],
  ['unknown field', { chunkSize: 64 }, 'chunkSize',
    'config.chunkSize: unknown setting for re (known: cacheBytes, window, minChunk, averageChunk, maxChunk, decoderCacheFactor)'],
];

for (const [name, values, field, message] of refused) {
  test(`refuses ${name}`, (t) => {
    const e = t.throws(() => parseReConfig({ ...DEFAULT_CONFIG, ...values }), { instanceOf: ConfigError });
    t.is(e.field, field);
    t.is(e.message, message);
  });
}
