/** Fuzz properties of the packet decoder: run briefly by decode.fuzz.test.ts, at length by bench/fuzz.ts. */
import fc from 'fast-check';
import type { Properties } from '../../bench/fuzz-properties.js';
import { decode, dstText, ETH_IPV4, ETH_IPV6, LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, LINKTYPE_NULL, LINKTYPE_RAW, srcText } from './decode.js';

/** Decodes and checks that what the decoder reports lies inside the frame. */
function decodeChecked(data: Uint8Array, linkType: number): void {
  const d = decode(data, linkType);
  if (d.ipVersion !== 0) {
    if (d.srcOff + d.addrLen > data.length || d.dstOff + d.addrLen > data.length) throw new Error('address past the frame');
    srcText(data, d);
    dstText(data, d);
  }
  if (d.payloadLen < 0 || d.payloadOff + d.payloadLen > data.length) {
    throw new Error(`payload ${d.payloadOff}+${d.payloadLen} outside a frame of ${data.length}`);
  }
}

const linkType = fc.oneof(fc.constantFrom(LINKTYPE_NULL, LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_LINUX_SLL), fc.nat({ max: 300 }));

// Random bytes rarely get past the EtherType and version checks, so build frames that do: VLAN
// tags, then an IP header of the right version whose other fields (lengths, IHL, extension
// headers, fragment offsets) are random, then a random transport header.
const ipFrame = fc.record({
  vlans: fc.array(fc.constantFrom(0x8100, 0x88a8, 0x9100), { maxLength: 2 }),
  v6: fc.boolean(),
  header: fc.uint8Array({ minLength: 40, maxLength: 64 }),
  proto: fc.constantFrom(0, 1, 6, 17, 43, 44, 51, 58, 60, 135, 255),
  rest: fc.uint8Array({ maxLength: 80 }),
  cut: fc.nat(),
}).map(({ vlans, v6, header, proto, rest, cut }) => {
  const eth = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  for (const tag of vlans) eth.push(tag >> 8, tag & 0xff, 0x0f, 0xff);
  const type = v6 ? ETH_IPV6 : ETH_IPV4;
  eth.push(type >> 8, type & 0xff);
  const ip = Uint8Array.from(header);
  ip[0] = (ip[0] & 0x0f) | (v6 ? 0x60 : 0x40);
  ip[v6 ? 6 : 9] = proto;
  const frame = Uint8Array.from([...eth, ...ip, ...rest]);
  return frame.subarray(0, Math.max(14, cut % (frame.length + 1)));
});

export const PROPERTIES: Properties = {
  'arbitrary frames of any link type decode without a throw, within the frame': fc.property(fc.uint8Array({ maxLength: 128 }), linkType, decodeChecked),
  'Ethernet frames with random IPv4 and IPv6 headers decode without a throw, within the frame':
    fc.property(ipFrame, (frame) => decodeChecked(frame, LINKTYPE_ETHERNET)),
};
