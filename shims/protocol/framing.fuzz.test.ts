import test from 'ava';
import fc from 'fast-check';
import { FrameError } from './framing.js';
import { PROPERTIES } from './framing.fuzz.js';
import { decodePacketBatch } from './packets.js';

for (const [name, property] of Object.entries(PROPERTIES)) {
  test(name, (t) => {
    fc.assert(property, { numRuns: 3000 });
    t.pass();
  });
}

test('regression: a batch whose count its bytes cannot hold is refused without sizing anything by its count', (t) => {
  // Found by the property above, as a slow run: this 5-byte batch made the decoder allocate a 128 MB array.
  const payload = Buffer.from([1, 0xff, 0xff, 0xff, 0x00]);
  const started = process.hrtime.bigint();
  const err = t.throws(() => decodePacketBatch(payload), { instanceOf: FrameError });
  t.is(err.offset, 5);
  t.true(process.hrtime.bigint() - started < 20_000_000n, 'refused in well under 20 ms');
});
