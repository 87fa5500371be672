import test from 'ava';
import fc from 'fast-check';
import { readCapture } from './pcap.js';
import { PROPERTIES, SAMPLES } from './pcap.fuzz.js';

test('the sample captures read', (t) => {
  for (const s of SAMPLES) t.is([...readCapture(s)].length, 2);
});

for (const [name, property] of Object.entries(PROPERTIES)) {
  test(name, (t) => {
    fc.assert(property, { numRuns: 3000 });
    t.pass();
  });
}
