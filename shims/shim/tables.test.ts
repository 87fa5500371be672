/** A put's chunks are checked before any is applied, and every refusal names the chunk without throwing on its own. */
import test from 'ava';
import { monitor } from '../middleboxes/monitor/monitor.js';
import { MiddleboxInstance } from './runtime.js';

test('a chunk whose scope is an object that cannot become a string is refused naming the chunk (found by the state fuzz)', (t) => {
  const mb = new MiddleboxInstance(monitor, {});
  const replies: Record<string, unknown>[] = [];
  const chunk = { scope: { toString: false }, key: null, state: { packets: 1, bytes: 60, nonIpPackets: 0, flows: 1 } };
  mb.handle({ type: 'put', id: 1, scope: 'all-flows', chunks: [chunk as never] }, (r) => replies.push(r));
  t.deepEqual(replies, [{ type: 'error', id: 1, cause: 'malformed', message: 'chunks[0].scope: {"toString":false} differs from the request\'s scope "all-flows"' }]);
});
