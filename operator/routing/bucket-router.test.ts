/** The route controller's table: a bucket move that leaves pinned flows out re-routes the buckets, and the pins keep theirs. */
import test from 'ava';
import { BucketRouter } from './bucket-router.js';

test('a move of buckets but their pinned flows changes the buckets\' owner; pins still route their flows', async (t) => {
  const router = new BucketRouter(() => [], { key: 'flow', buckets: 4 });
  router.owner.fill('a');
  const pin = { name: 'dns', filter: { tpDst: 53, bidirectional: true }, instance: 'a' };
  router.setPins([pin]);
  const moved = router.unpinnedBucketFilter([3, 1]);
  t.deepEqual(moved, { buckets: { key: 'flow', of: 4, ids: [1, 3] }, except: [pin.filter] });
  await router.route(moved, 'b');
  t.deepEqual(router.owner, ['a', 'b', 'a', 'b']);
  t.deepEqual(router.rules().map((r) => [r.id, r.action]), [
    ['pin-dns', { type: 'forward', instance: 'a' }], ['buckets-a', { type: 'forward', instance: 'a' }],
    ['buckets-b', { type: 'forward', instance: 'b' }], ['non-ip', { type: 'forward', instance: 'a' }],
  ]);
  // Leaving out flows no pin routes is a route of its own: those flows would otherwise follow the buckets.
  await router.route({ buckets: { key: 'flow', of: 4, ids: [0] }, except: [{ tpDst: 80 }] }, 'b');
  t.is(router.owner[0], 'a');
  t.is(router.rules().filter((r) => r.id.startsWith('pin-')).length, 2);
});

test('without pins, a move carries its buckets whole', (t) => {
  const router = new BucketRouter(() => [], { key: 'host', buckets: 8, inside: ['10.0.0.0/8'] });
  t.deepEqual(router.unpinnedBucketFilter([2]), { buckets: { key: 'host', of: 8, ids: [2], inside: ['10.0.0.0/8'] } });
});
