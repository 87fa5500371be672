/** What an instance holds for the controller is bounded; past a bound the packet is dropped and counted. */
import test from 'ava';
import { monitor } from '../middleboxes/monitor/monitor.js';
import type { WirePacket } from '../protocol/packets.js';
import { udpFrame } from '../middleboxes/nat/testing.js';
import { MAX_BUFFERED, MiddleboxInstance } from './runtime.js';

const frame = udpFrame('10.0.0.1', 4000, '10.0.0.2', 53);
const packet = (seq: number): WirePacket => ({ seq, tsSec: 1, tsNsec: seq, ingressMs: 0, origLen: frame.length, linkType: 1, inPort: 0, data: frame });
const request = (mb: MiddleboxInstance, req: Parameters<MiddleboxInstance['handle']>[0]) => mb.handle(req, (r) => {
  if (r.type === 'error') throw new Error(String(r.message));
});

test('a buffer rule holds at most MAX_BUFFERED packets; the rest are dropped and counted, and the held ones are all processed on release', (t) => {
  const mb = new MiddleboxInstance(monitor, {}, () => true);
  request(mb, { type: 'enable-events', id: 1, filter: {}, action: 'buffer' });
  for (let i = 1; i <= MAX_BUFFERED + 7; i++) mb.receive(packet(i));
  t.like(mb.stats(), { packetsReceived: MAX_BUFFERED + 7, eventsBuffered: MAX_BUFFERED, packetsDropped: 7, packetsProcessed: 0 });
  request(mb, { type: 'disable-events', id: 2, filter: {} });
  t.like(mb.stats(), { eventsBuffered: 0, packetsDropped: 7, packetsProcessed: MAX_BUFFERED });
});

test('an event the node has no room for counts as a dropped packet, not as raised', (t) => {
  let room = 3;
  const mb = new MiddleboxInstance(monitor, {}, () => room-- > 0);
  request(mb, { type: 'enable-events', id: 1, filter: {}, action: 'drop' });
  for (let i = 1; i <= 5; i++) mb.receive(packet(i));
  t.like(mb.stats(), { eventsRaised: 3, packetsDropped: 2, packetsProcessed: 0 });
});
