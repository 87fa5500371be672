import test from 'ava';
import fc from 'fast-check';
import { decode } from './decode.js';
import { PROPERTIES } from './decode.fuzz.js';

for (const [name, property] of Object.entries(PROPERTIES)) {
  test(name, (t) => {
    fc.assert(property, { numRuns: 3000 });
    t.pass();
  });
}

test('regression: an IPv6 extension header longer than the capture leaves the payload offset inside the frame', (t) => {
  // Found by the property above: hop-by-hop (length 16) in a jumbogram cut 8 bytes after it started.
  const frame = Uint8Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x86, 0xdd, 0x60, ...new Array<number>(39).fill(0), 2, 1, 0, 0, 0, 0, 0, 0]);
  const d = decode(frame);
  t.like(d, { ipVersion: 6, proto: 2, payloadOff: frame.length, payloadLen: 0 });
});
