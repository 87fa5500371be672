/**
 * The load sampler on a fake clock: packets per second over the window, a pool as the sum of its
 * instances, a replaced instance measured from its own first reading, state sized every few
 * readings, and instances and pools that are gone forgotten.
 */
import test from 'ava';
import type { MbCounters } from '../../shims/protocol/messages.js';
import { LoadSampler, type SampledPool } from './load.js';

const counters = (packetsProcessed: number, flows: number, withBytes: boolean): MbCounters => ({
  packetsProcessed, packetsReceived: packetsProcessed, packetsEmitted: 0, packetsReordered: 0,
  entries: { 'per-flow': flows, 'multi-flow': 0, 'all-flows': 0 }, latencyUs: [],
  ...(withBytes ? { bytes: { 'per-flow': flows * 100, 'multi-flow': 0, 'all-flows': 10 } } : {}),
});

function setUp() {
  let now = 1_000_000;
  const packets: Record<string, number> = { a: 0, b: 0 };
  const bytesAsked: string[] = [];
  const pools: SampledPool[] = [{
    key: 'ns/p', instances: ['a', 'b'],
    stats: async (i, withBytes) => {
      if (withBytes) bytesAsked.push(i);
      return i in packets ? counters(packets[i], packets[i] / 10, withBytes) : null;
    },
  }];
  const sampler = new LoadSampler(() => pools, { intervalMs: 5000, windowMs: 30_000, bytesEvery: 3, now: () => now });
  const advance = async (ms: number, add: Record<string, number>) => {
    now += ms;
    for (const [i, n] of Object.entries(add)) packets[i] += n;
    await sampler.sample();
  };
  return { sampler, advance, packets, pools, bytesAsked, now: () => now };
}

test('packets per second over the window, per instance and summed per pool', async (t) => {
  const { sampler, advance } = setUp();
  await sampler.sample();
  t.deepEqual(sampler.instance('ns/p', 'a'), { packetsPerSecond: null, windowSeconds: 0, at: 1_000_000, packetsProcessed: 0, flows: 0, stateBytes: 10 }, 'one reading: no rate yet');
  t.is(sampler.pool('ns/p')!.packetsPerSecond, null, 'nor for the pool');
  for (let k = 0; k < 4; k++) await advance(5000, { a: 5000, b: 1000 });
  const a = sampler.instance('ns/p', 'a')!;
  t.is(a.packetsPerSecond, 1000);
  t.is(a.windowSeconds, 20);
  t.is(a.flows, 2000);
  t.is(sampler.instance('ns/p', 'b')!.packetsPerSecond, 200);
  const pool = sampler.pool('ns/p')!;
  t.is(pool.packetsPerSecond, 1200);
  t.is(pool.flows, 2400);
  t.is(pool.packetsProcessed, 24_000);
  for (let k = 0; k < 10; k++) await advance(5000, { a: 500, b: 0 });
  t.is(sampler.instance('ns/p', 'a')!.packetsPerSecond, 100, 'old readings leave the window');
  t.is(sampler.instance('ns/p', 'a')!.windowSeconds, 30);
});

test('state is sized every few readings, not on each', async (t) => {
  const { advance, bytesAsked, sampler } = setUp();
  for (let k = 0; k < 6; k++) await advance(5000, { a: 10 });
  t.deepEqual(bytesAsked, ['a', 'b', 'a', 'b']);
  t.is(sampler.instance('ns/p', 'a')!.stateBytes, 4 * 100 + 10, 'as sized at the fourth reading (4 flows), not the sixth');
});

test('a replaced instance (its counter went back) is measured from its own readings', async (t) => {
  const { advance, packets, sampler } = setUp();
  for (let k = 0; k < 3; k++) await advance(5000, { a: 5000 });
  packets.a = 0;
  await advance(5000, { a: 100 });
  t.is(sampler.instance('ns/p', 'a')!.packetsPerSecond, null, 'one reading of the new process');
  t.is(sampler.pool('ns/p')!.packetsPerSecond, sampler.instance('ns/p', 'b')!.packetsPerSecond, 'the pool counts the instances it has a rate for');
  await advance(5000, { a: 500 });
  t.is(sampler.instance('ns/p', 'a')!.packetsPerSecond, 100);
});

test('an instance without recent readings has no load; removed instances and pools are forgotten', async (t) => {
  const { advance, packets, pools, sampler } = setUp();
  await advance(5000, { a: 1 });
  delete (packets as Partial<typeof packets>).b; // not connected: stats() is null
  for (let k = 0; k < 4; k++) await advance(5000, { a: 1 });
  t.is(sampler.instance('ns/p', 'b'), undefined);
  t.truthy(sampler.instance('ns/p', 'a'));
  pools[0] = { ...pools[0], instances: ['a'] };
  await advance(5000, {});
  t.deepEqual([...sampler.instances()].map((x) => x.instance), ['a']);
  pools.pop();
  await advance(5000, {});
  t.is(sampler.pool('ns/p'), undefined);
  t.deepEqual(sampler.poolKeys(), []);
});
