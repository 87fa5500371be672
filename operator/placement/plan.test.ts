import test, { type ExecutionContext } from 'ava';
import { applyStep, failoverTarget, initialPlacement, isBalanced, plan, PlanError, type Pin, type Placement, type PlanInput, type Step, withoutLost } from './plan.js';

/** A placement from instance → buckets; instances in key order. */
const place = (buckets: number, owners: Record<string, number[]>): Placement => {
  const owner = new Array<string | null>(buckets).fill(null);
  for (const [instance, bs] of Object.entries(owners)) for (const b of bs) owner[b] = instance;
  return { buckets, instances: Object.keys(owners), owner };
};
const applyAll = (p: Placement, steps: Step[]) => steps.reduce((q, s) => applyStep(q, s), p);

const create = (instance: string): Step => ({ kind: 'create', instance });
const clone = (from: string, to: string): Step => ({ kind: 'clone', from, to });
const move = (from: string, to: string, buckets: number[]): Step => ({ kind: 'move', from, to, buckets });
const merge = (from: string, to: string): Step => ({ kind: 'merge', from, to });
const remove = (instance: string): Step => ({ kind: 'remove', instance });

/** The plan is exactly `expected`, reaches `end`, and planning again from `end` does nothing. */
function expectPlan(t: ExecutionContext, input: PlanInput, expected: Step[], end: Placement) {
  const steps = plan(input);
  t.deepEqual(steps, expected);
  const reached = applyAll(input.current, steps);
  t.deepEqual(reached, end);
  t.is(isBalanced(reached), end.instances.length > 0);
  t.deepEqual(plan({ ...input, current: reached }), []);
}

test('an empty pool: no instances, every bucket unowned, not balanced', (t) => {
  t.deepEqual(initialPlacement(3), { buckets: 3, instances: [], owner: [null, null, null] });
  t.false(isBalanced(initialPlacement(3)));
  t.throws(() => initialPlacement(0), { instanceOf: PlanError, message: 'buckets: must be a positive integer, got 0' });
});

test('from no instances: the first create owns every bucket, the others are cloned from it, moves spread', (t) => {
  const current = initialPlacement(8);
  t.deepEqual(applyStep(current, create('mb-0')).owner, new Array(8).fill('mb-0'));
  expectPlan(
    t,
    { current, replicas: 3, namePrefix: 'mb' },
    [
      create('mb-0'),
      create('mb-1'),
      clone('mb-0', 'mb-1'),
      create('mb-2'),
      clone('mb-0', 'mb-2'),
      move('mb-0', 'mb-1', [3, 4, 5]),
      move('mb-0', 'mb-2', [6, 7]),
    ],
    place(8, { 'mb-0': [0, 1, 2], 'mb-1': [3, 4, 5], 'mb-2': [6, 7] }),
  );
  expectPlan(t, { current, replicas: 1, namePrefix: 'mb' }, [create('mb-0')], place(8, { 'mb-0': [0, 1, 2, 3, 4, 5, 6, 7] }));
  t.deepEqual(plan({ current, replicas: 0, namePrefix: 'mb' }), []);
});

test('more instances than buckets: some own none', (t) => {
  expectPlan(
    t,
    { current: initialPlacement(2), replicas: 3, namePrefix: 'mb' },
    [create('mb-0'), create('mb-1'), clone('mb-0', 'mb-1'), create('mb-2'), clone('mb-0', 'mb-2'), move('mb-0', 'mb-1', [1])],
    place(2, { 'mb-0': [0], 'mb-1': [1], 'mb-2': [] }),
  );
});

test('scale up: each donor gives its highest buckets, one move per (from, to) pair', (t) => {
  expectPlan(
    t,
    { current: place(8, { 'mb-0': [0, 1, 2, 3], 'mb-1': [4, 5, 6, 7] }), replicas: 3, namePrefix: 'mb' },
    [create('mb-2'), clone('mb-0', 'mb-2'), move('mb-0', 'mb-2', [3]), move('mb-1', 'mb-2', [7])],
    place(8, { 'mb-0': [0, 1, 2], 'mb-1': [4, 5, 6], 'mb-2': [3, 7] }),
  );
});

test('scale up: new names take the smallest unused numbers; clones come from the first live instance', (t) => {
  expectPlan(
    t,
    { current: place(8, { 'mb-2': [0, 1, 2, 3], 'mb-0': [4, 5, 6, 7] }), replicas: 4, namePrefix: 'mb' },
    [
      create('mb-1'),
      clone('mb-2', 'mb-1'),
      create('mb-3'),
      clone('mb-2', 'mb-3'),
      move('mb-2', 'mb-1', [2, 3]),
      move('mb-0', 'mb-3', [6, 7]),
    ],
    place(8, { 'mb-2': [0, 1], 'mb-0': [4, 5], 'mb-1': [2, 3], 'mb-3': [6, 7] }),
  );
});

test('scale up: the instance holding more keeps the larger quota, so fewer buckets move', (t) => {
  // 8 over 3 is 3, 3, 2: a keeps 3 of its 5, b keeps its 3, the new instance gets 2.
  expectPlan(
    t,
    { current: place(8, { a: [0, 1, 2, 3, 4], b: [5, 6, 7] }), replicas: 3, namePrefix: 'mb' },
    [create('mb-0'), clone('a', 'mb-0'), move('a', 'mb-0', [3, 4])],
    place(8, { a: [0, 1, 2], b: [5, 6, 7], 'mb-0': [3, 4] }),
  );
});

test('same replicas, unbalanced: only moves', (t) => {
  expectPlan(
    t,
    { current: place(8, { a: [0, 1, 2, 3, 4, 5, 6], b: [7] }), replicas: 2, namePrefix: 'mb' },
    [move('a', 'b', [4, 5, 6])],
    place(8, { a: [0, 1, 2, 3], b: [4, 5, 6, 7] }),
  );
});

test('balanced with the same replicas: an empty plan', (t) => {
  const current = place(8, { a: [0, 2, 4], b: [1, 3, 5], c: [6, 7] });
  t.deepEqual(plan({ current, replicas: 3, namePrefix: 'mb' }), []);
  t.deepEqual(plan({ current, replicas: 3, pins: [{ name: 'web', instance: 'c' }], namePrefix: 'mb' }), []);
});

test('scale down: the instance with the fewest buckets leaves, merged into the survivor that got the most', (t) => {
  expectPlan(
    t,
    { current: place(8, { 'mb-0': [0, 1, 2], 'mb-1': [3, 4, 5], 'mb-2': [6, 7] }), replicas: 2, namePrefix: 'mb' },
    [move('mb-2', 'mb-0', [6]), move('mb-2', 'mb-1', [7]), merge('mb-2', 'mb-0'), remove('mb-2')],
    place(8, { 'mb-0': [0, 1, 2, 6], 'mb-1': [3, 4, 5, 7] }),
  );
});

test('scale down: among equals the most recently created leaves', (t) => {
  expectPlan(
    t,
    { current: place(8, { 'mb-0': [0, 1], 'mb-1': [2, 3], 'mb-2': [4, 5], 'mb-3': [6, 7] }), replicas: 3, namePrefix: 'mb' },
    [move('mb-3', 'mb-0', [6]), move('mb-3', 'mb-1', [7]), merge('mb-3', 'mb-0'), remove('mb-3')],
    place(8, { 'mb-0': [0, 1, 6], 'mb-1': [2, 3, 7], 'mb-2': [4, 5] }),
  );
});

test('scale down: a pinned instance never leaves', (t) => {
  expectPlan(
    t,
    {
      current: place(8, { 'mb-0': [0, 1, 2], 'mb-1': [3, 4, 5], 'mb-2': [6, 7] }),
      replicas: 2,
      pins: [{ name: 'dns', instance: 'mb-2' }],
      namePrefix: 'mb',
    },
    [move('mb-1', 'mb-0', [3]), move('mb-1', 'mb-2', [4, 5]), merge('mb-1', 'mb-2'), remove('mb-1')],
    place(8, { 'mb-0': [0, 1, 2, 3], 'mb-2': [4, 5, 6, 7] }),
  );
});

test('scale down: leavers go first, then survivors above quota give their excess', (t) => {
  expectPlan(
    t,
    { current: place(8, { a: [0, 1, 2, 3, 4, 5], b: [6], c: [7] }), replicas: 2, namePrefix: 'mb' },
    [move('c', 'b', [7]), merge('c', 'b'), remove('c'), move('a', 'b', [4, 5])],
    place(8, { a: [0, 1, 2, 3], b: [4, 5, 6, 7] }),
  );
});

test('scale down: a leaver without buckets is merged into the first survivor', (t) => {
  expectPlan(
    t,
    { current: place(4, { a: [0, 1], b: [2, 3], c: [] }), replicas: 2, namePrefix: 'mb' },
    [merge('c', 'a'), remove('c')],
    place(4, { a: [0, 1], b: [2, 3] }),
  );
});

test('replicas 0: every instance is removed, fewest buckets first, each owner handing its buckets to the last', (t) => {
  const current = place(8, { 'mb-0': [0, 1, 2], 'mb-1': [3, 4, 5], 'mb-2': [6, 7] });
  const steps = plan({ current, replicas: 0, namePrefix: 'mb' });
  t.deepEqual(steps, [remove('mb-2'), remove('mb-1'), remove('mb-0')]);
  t.deepEqual(applyAll(current, steps.slice(0, 1)), place(8, { 'mb-0': [0, 1, 2, 6, 7], 'mb-1': [3, 4, 5] }));
  t.deepEqual(applyAll(current, steps.slice(0, 2)), place(8, { 'mb-0': [0, 1, 2, 3, 4, 5, 6, 7] }));
  t.deepEqual(applyAll(current, steps), initialPlacement(8));
  // Interrupted after one removal, planning again resumes.
  t.deepEqual(plan({ current: applyAll(current, steps.slice(0, 1)), replicas: 0, namePrefix: 'mb' }), steps.slice(1));
});

test('pins raise replicas: replicas 0 keeps exactly the pinned instances', (t) => {
  expectPlan(
    t,
    {
      current: place(8, { 'mb-0': [0, 1, 2], 'mb-1': [3, 4, 5], 'mb-2': [6, 7] }),
      replicas: 0,
      pins: [{ name: 'dns', instance: 'mb-1' }, { name: 'ntp', instance: 'mb-1' }],
      namePrefix: 'mb',
    },
    [
      move('mb-2', 'mb-1', [6, 7]),
      merge('mb-2', 'mb-1'),
      remove('mb-2'),
      move('mb-0', 'mb-1', [0, 1, 2]),
      merge('mb-0', 'mb-1'),
      remove('mb-0'),
    ],
    place(8, { 'mb-1': [0, 1, 2, 3, 4, 5, 6, 7] }),
  );
  const pins: Pin[] = [{ name: 'dns', instance: 'mb-0' }, { name: 'ntp', instance: 'mb-2' }];
  const current = place(8, { 'mb-0': [0, 1, 2], 'mb-1': [3, 4, 5], 'mb-2': [6, 7] });
  t.deepEqual(applyAll(current, plan({ current, replicas: 1, pins, namePrefix: 'mb' })).instances, ['mb-0', 'mb-2']);
});

test('a pin may name an instance that this plan creates', (t) => {
  const steps = plan({ current: initialPlacement(4), replicas: 2, pins: [{ name: 'dns', instance: 'mb-1' }], namePrefix: 'mb' });
  t.deepEqual(applyAll(initialPlacement(4), steps), place(4, { 'mb-0': [0, 1], 'mb-1': [2, 3] }));
});

const ok = place(8, { a: [0, 1, 2, 3], b: [4, 5, 6, 7] });
const withOwner = (b: number, o: string | null): Placement => ({ ...ok, owner: ok.owner.map((x, i) => (i === b ? o : x)) });
const invalid: [what: string, input: PlanInput, message: string][] = [
  ['negative replicas', { current: ok, replicas: -1, namePrefix: 'mb' }, 'replicas: must be a non-negative integer, got -1'],
  ['fractional replicas', { current: ok, replicas: 1.5, namePrefix: 'mb' }, 'replicas: must be a non-negative integer, got 1.5'],
  ['empty name prefix', { current: ok, replicas: 2, namePrefix: '' }, 'namePrefix: must be a non-empty string, got ""'],
  ['no buckets', { current: { buckets: 0, instances: [], owner: [] }, replicas: 1, namePrefix: 'mb' }, 'current.buckets: must be a positive integer, got 0'],
  ['owner too short', { current: { ...ok, owner: ok.owner.slice(1) }, replicas: 2, namePrefix: 'mb' }, 'current.owner: length must equal buckets (8), got 7'],
  ['duplicate instance', { current: { ...ok, instances: ['a', 'b', 'a'] }, replicas: 2, namePrefix: 'mb' }, 'current.instances[2]: duplicate instance "a"'],
  ['owner not live', { current: withOwner(3, 'z'), replicas: 2, namePrefix: 'mb' }, 'current.owner[3]: "z" is not a live instance'],
  ['unowned bucket', { current: withOwner(5, null), replicas: 2, namePrefix: 'mb' }, 'current.owner[5]: null while instances are live'],
  ['empty pin name', { current: ok, replicas: 2, pins: [{ name: '', instance: 'a' }], namePrefix: 'mb' }, 'pins[0].name: must be a non-empty string, got ""'],
  [
    'duplicate pin',
    { current: ok, replicas: 2, pins: [{ name: 'dns', instance: 'a' }, { name: 'dns', instance: 'b' }], namePrefix: 'mb' },
    'pins[1].name: duplicate pin "dns"',
  ],
  [
    'pin on an unknown instance',
    { current: ok, replicas: 2, pins: [{ name: 'dns', instance: 'c' }], namePrefix: 'mb' },
    'pins[0].instance: "c" is not live and this plan does not create it',
  ],
  [
    'pin on an instance not created',
    { current: initialPlacement(4), replicas: 2, pins: [{ name: 'dns', instance: 'mb-2' }], namePrefix: 'mb' },
    'pins[0].instance: "mb-2" is not live and this plan does not create it',
  ],
];
for (const [what, input, message] of invalid) {
  test(`refuses ${what}`, (t) => {
    t.throws(() => plan(input), { instanceOf: PlanError, message });
  });
}

test('applyStep refuses steps that do not apply', (t) => {
  const refused: [Step, string][] = [
    [create('a'), 'create: "a" is already live'],
    [clone('a', 'c'), 'clone: "c" is not a live instance'],
    [move('a', 'b', [4]), 'move: bucket 4 is owned by "b", not "a"'],
    [move('a', 'b', [8]), 'move: no bucket 8 among 8'],
    [move('a', 'b', []), 'move: no buckets'],
    [move('a', 'a', [0]), 'move: from and to are both "a"'],
    [merge('a', 'b'), 'merge: "a" still owns buckets'],
    [remove('c'), 'remove: "c" is not a live instance'],
  ];
  for (const [step, message] of refused) t.throws(() => applyStep(ok, step), { instanceOf: PlanError, message });
  t.deepEqual(applyStep(ok, move('a', 'b', [0, 3])), place(8, { a: [1, 2], b: [0, 3, 4, 5, 6, 7] }));
});

test('isBalanced: every bucket owned by a live instance, counts within one', (t) => {
  t.true(isBalanced(ok));
  t.true(isBalanced(place(8, { a: [0, 1, 2], b: [3, 4, 5], c: [6, 7] })));
  t.false(isBalanced(place(8, { a: [0, 1, 2, 3, 4], b: [5, 6, 7] })));
  t.false(isBalanced(place(3, { a: [0, 1, 2], b: [], c: [] })));
  t.false(isBalanced(withOwner(5, null)));
  t.false(isBalanced(withOwner(5, 'z')));
});

// ---- Properties over random placements and replica changes ----

/** mulberry32: a small seeded PRNG, so every case can be replayed from its seed. */
function random(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), a | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)];
  const shuffle = <T>(xs: readonly T[]): T[] => {
    const out = [...xs];
    for (let i = out.length - 1; i > 0; i--) {
      const j = int(0, i);
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  };
  return { next, int, pick, shuffle };
}

function* choose<T>(xs: readonly T[], k: number): Generator<T[]> {
  if (k === 0) yield [];
  else for (let i = 0; i + k <= xs.length; i++) for (const rest of choose(xs.slice(i + 1), k - 1)) yield [xs[i], ...rest];
}

/**
 * The fewest buckets any balanced placement of `replicas` instances keeping the pinned ones must
 * move from `p`, by brute force over the survivor sets. With quotas q = ⌊N/R⌋ and r = N mod R
 * instances at q + 1, a survivor holding c keeps min(c, q), plus one if it gets q + 1 and c > q.
 */
function fewestMoved(p: Placement, replicas: number, pinned: Set<string>): number {
  const count = (i: string) => p.owner.filter((o) => o === i).length;
  const q = Math.floor(p.buckets / replicas);
  const r = p.buckets % replicas;
  const kept = (counts: number[]) =>
    counts.reduce((sum, c) => sum + Math.min(c, q), 0) + Math.min(r, counts.filter((c) => c > q).length);
  if (p.instances.length <= replicas) return p.buckets - kept(p.instances.map(count));
  const must = p.instances.filter((i) => pinned.has(i)).map(count);
  const free = p.instances.filter((i) => !pinned.has(i)).map(count);
  let best = 0;
  for (const rest of choose(free, replicas - must.length)) best = Math.max(best, kept([...must, ...rest]));
  return p.buckets - best;
}

function randomPlacement(rnd: ReturnType<typeof random>): Placement {
  const buckets = rnd.int(1, 128);
  const names = [...Array.from({ length: 16 }, (_, k) => `mb-${k}`), 'x', 'y', 'mb', 'mb-01'];
  const instances = rnd.shuffle(names).slice(0, rnd.int(0, 10));
  // Owners drawn from a random subset, so some instances own nothing and counts are skewed.
  const active = instances.slice(0, rnd.int(1, instances.length));
  const owner = Array.from({ length: buckets }, () => (instances.length === 0 ? null : rnd.pick(active)));
  return { buckets, instances, owner };
}

/** Checks one complete plan from `start`; returns the placement it reaches. Throws on a violation. */
function checkPlan(start: Placement, replicas: number, pins: Pin[]): Placement {
  const fail = (what: string) => {
    throw new Error(`${what}\n  replicas ${replicas}, pins ${JSON.stringify(pins)}\n  start ${JSON.stringify(start)}`);
  };
  const before = JSON.stringify(start);
  const steps = plan({ current: start, replicas, pins, namePrefix: 'mb' });
  if (JSON.stringify(start) !== before) fail('plan changed its input');
  const pinned = new Set(pins.map((pin) => pin.instance));
  const target = Math.max(replicas, pinned.size);

  let p = start;
  const changes = new Array<number>(start.buckets).fill(0);
  steps.forEach((s, n) => {
    const q = applyStep(p, s); // throws unless, e.g., every moved bucket is owned by `from`
    if (q.instances.length > 0 && q.owner.some((o) => o === null || !q.instances.includes(o))) fail(`step ${n}: a bucket is unowned`);
    if (s.kind === 'remove' && pinned.has(s.instance)) fail(`step ${n}: removes pinned ${s.instance}`);
    if (s.kind === 'create') {
      const k = Array.from({ length: 100 }, (_, i) => i).find((i) => !p.instances.includes(`mb-${i}`));
      if (s.instance !== `mb-${k}`) fail(`step ${n}: creates ${s.instance}, not mb-${k}`);
      const next = steps[n + 1] as Step | undefined;
      const cloned = next?.kind === 'clone' && next.to === s.instance;
      if (p.instances.length > 0 && !(cloned && next.from === p.instances[0])) fail(`step ${n}: not cloned from the first instance`);
      if (p.instances.length === 0 && cloned) fail(`step ${n}: the first instance is cloned`);
    }
    if (s.kind === 'remove' && target > 0) {
      const prev = steps[n - 1] as Step | undefined;
      if (prev?.kind !== 'merge' || prev.from !== s.instance) fail(`step ${n}: removed without a merge`);
    }
    if (p.instances.length > 0 && q.instances.length > 0) p.owner.forEach((o, b) => (changes[b] += o === q.owner[b] ? 0 : 1));
    p = q;
  });

  if (p.instances.length !== target) fail(`ends with ${p.instances.length} instances, not ${target}`);
  for (const i of pinned) if (!p.instances.includes(i)) fail(`pinned ${i} is gone`);
  if (changes.some((c) => c > 1)) fail('a bucket changed owner twice');
  if (target === 0) {
    if (steps.some((s) => s.kind !== 'remove')) fail('replicas 0 does more than remove');
    if (JSON.stringify(p) !== JSON.stringify(initialPlacement(start.buckets))) fail('replicas 0 leaves something');
  } else {
    if (!isBalanced(p)) fail(`unbalanced: ${JSON.stringify(p)}`);
    // From an empty pool, count from the first create, which owns every bucket.
    const base = start.instances.length > 0 ? start : applyStep(start, steps[0]);
    const moved = steps.reduce((sum, s) => sum + (s.kind === 'move' ? s.buckets.length : 0), 0);
    const changed = p.owner.filter((o, b) => o !== base.owner[b]).length;
    const fewest = fewestMoved(base, target, pinned);
    if (moved !== changed || changed !== fewest) fail(`moved ${moved}, changed ${changed}, fewest ${fewest}`);
  }
  const again = plan({ current: p, replicas, pins, namePrefix: 'mb' });
  if (again.length > 0) fail(`planning again is not empty: ${JSON.stringify(again)}`);
  return p;
}

test('properties: 2000 random placements and replica changes, some interrupted and re-planned', (t) => {
  let plans = 0;
  for (let seed = 1; seed <= 2000; seed++) {
    const rnd = random(seed);
    let p = randomPlacement(rnd);
    const pins: Pin[] = p.instances.length === 0 ? [] : Array.from({ length: rnd.int(0, 3) }, (_, j) => ({ name: `p${j}`, instance: rnd.pick(p.instances) }));
    const changes = Array.from({ length: rnd.int(1, 6) }, () => rnd.int(0, 12));
    try {
      changes.forEach((replicas, i) => {
        const steps = plan({ current: p, replicas, pins, namePrefix: 'mb' });
        // A restart mid-plan: stop after a prefix and plan again, towards the next change if any.
        if (steps.length > 1 && rnd.next() < 0.25) {
          p = applyAll(p, steps.slice(0, rnd.int(1, steps.length - 1)));
          if (i < changes.length - 1) return;
        }
        p = checkPlan(p, replicas, pins);
        plans += 1;
      });
    } catch (e) {
      t.fail(`seed ${seed}: ${(e as Error).message}`);
      return;
    }
  }
  t.log(`${plans} complete plans checked`);
  t.pass();
});

test('failoverTarget: the survivor owning the fewest buckets, the first of equals, never one that died too', (t) => {
  const p = { buckets: 6, instances: ['a', 'b', 'c', 'd'], owner: ['a', 'a', 'b', 'c', 'c', 'd'] };
  t.is(failoverTarget(p, 'a'), 'b');
  t.is(failoverTarget(p, 'a', ['a', 'b']), 'd');
  t.is(failoverTarget(p, 'd', ['a', 'b', 'c', 'd']), null);
});

test('withoutLost: every bucket of the lost instances goes to a survivor, in turn, and none is left unowned while one survives', (t) => {
  const p = { buckets: 6, instances: ['a', 'b', 'c'], owner: ['a', 'a', 'b', 'c', 'c', 'c'] };
  t.deepEqual(withoutLost(p, ['c']), { buckets: 6, instances: ['a', 'b'], owner: ['a', 'a', 'b', 'b', 'b', 'b'] });
  t.deepEqual(withoutLost(p, ['a', 'c']).owner, ['b', 'b', 'b', 'b', 'b', 'b']);
  t.deepEqual(withoutLost(p, ['a', 'b', 'c']), { buckets: 6, instances: [], owner: [null, null, null, null, null, null] });
  t.is(withoutLost(p, []), p);
  for (let n = 1; n <= 5; n++) {
    const instances = Array.from({ length: n }, (_, i) => `i${i}`);
    for (let mask = 1; mask < 2 ** n; mask++) {
      const lost = instances.filter((_, i) => mask & (1 << i));
      const q = { buckets: 12, instances, owner: Array.from({ length: 12 }, (_, b) => instances[b % n]) };
      const r = withoutLost(q, lost);
      t.deepEqual(r.instances, instances.filter((i) => !lost.includes(i)));
      t.true(r.owner.every((o) => (r.instances.length === 0 ? o === null : o !== null && r.instances.includes(o))));
      t.true(r.owner.every((o, b) => lost.includes(q.owner[b]!) || o === q.owner[b]), 'a survivor keeps its own buckets');
    }
  }
});
