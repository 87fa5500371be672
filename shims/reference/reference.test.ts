/**
 * The stored tshark references: one for every capture in data/traces, made from exactly that
 * capture's bytes, and (where tshark is installed) equal to what tshark says now. CI sets
 * OPENMB_REQUIRE_TSHARK=1, so there a missing tshark fails instead of leaving the live check out.
 */
import test from 'ava';
import { isDeepStrictEqual } from 'node:util';
import { tracePath } from '../traffic/trace-dir.js';
import { captures, liveReference, readStoredReference, sha256File } from './stored.js';
import { tsharkAvailable } from './tshark.js';

const live = tsharkAvailable();

test('every capture has a stored reference of its own bytes', (t) => {
  t.true(captures().length >= 19);
  for (const capture of captures()) {
    const stored = readStoredReference(capture);
    t.truthy(stored, `${capture}: no stored reference (npm run references writes it)`);
    t.is(stored?.sha256, sha256File(tracePath(capture)), `${capture}: the stored reference is of other bytes`);
    t.true((stored?.flows.flows.length ?? 0) > 0, `${capture}: no flows`);
  }
});

if (process.env.OPENMB_REQUIRE_TSHARK === '1') {
  test('tshark is installed, as OPENMB_REQUIRE_TSHARK asks', (t) => {
    t.true(live, 'tshark is not on PATH');
  });
}

if (live) {
  for (const capture of captures()) {
    test(`the stored reference of ${capture} is what tshark says now`, (t) => {
      const now = liveReference(tracePath(capture));
      const stored = readStoredReference(capture)!;
      for (const part of ['flows', 'httpRequests', 'badChecksumFrames'] as const) {
        t.true(isDeepStrictEqual(stored[part], now[part]), `${capture}: ${part} differ from ${now.tshark}; rerun npm run references`);
      }
    });
  }
}
