import test from 'ava';
import fc from 'fast-check';
import { monitor } from './monitor/monitor.js';
import { MAX_CACHE_BYTES } from './re/config.js';
import { re } from './re/re.js';
import { PROPERTIES } from './state.fuzz.js';

for (const [name, property] of Object.entries(PROPERTIES)) {
  test(name, (t) => {
    fc.assert(property, { numRuns: 3000 });
    t.pass();
  });
}

// Found by the first property: the monitor took NaN and Infinity as timestamps, which a get then sent as null and no put took back.
test('the monitor refuses timestamps that are not finite', (t) => {
  const record = (first: number, last: number) => [1, 0, 60, 0, first, -1, last, 0, 0];
  t.notThrows(() => monitor.perFlow.decode(record(1320279554.5, 1320279555)));
  for (const [first, last] of [[NaN, 1], [1, Infinity], [-5, 1], [1, -1]]) {
    t.throws(() => monitor.perFlow.decode(record(first, last)), { message: /timestamps/ });
  }
  t.throws(() => monitor.multiFlow.decode({ packetsOut: 1, packetsIn: 0, bytesOut: 1, bytesIn: 0, first: Infinity, last: 1, services: [], os: [] }));
});

// Found by a 600 s npm run fuzz: an RE cache chunk whose limit was 2^53 made the instance allocate twice that for the cache's arena.
test('the RE refuses a cache chunk whose limit is over the largest cache, before allocating anything', (t) => {
  const chunk = (limit: number) => ({ limit, clock: 0, entries: [] });
  t.notThrows(() => re.allFlows.decode(chunk(MAX_CACHE_BYTES)));
  for (const limit of [MAX_CACHE_BYTES + 1, 2 ** 31, 2 ** 53]) t.throws(() => re.allFlows.decode(chunk(limit)), { message: /exceeds the largest cache/ });
});
