import test from 'ava';
import { ConfigError } from '../../shim/definition.js';
import { NAT_DEFAULTS, parseNatConfig } from './config.js';

const parse = (over: Record<string, unknown>) => parseNatConfig({ ...NAT_DEFAULTS, ...over });

test('the defaults parse: RFC 1918 inside, one TEST-NET-3 address, ports 1024-65535', (t) => {
  const c = parseNatConfig(NAT_DEFAULTS);
  t.deepEqual(c.internalPrefixes, [
    { net: 0x0a000000, mask: 0xff000000 },
    { net: 0xac100000, mask: 0xfff00000 },
    { net: 0xc0a80000, mask: 0xffff0000 },
  ]);
  t.deepEqual(c.externalAddresses, [0xcb007101]);
  t.is(c.portFirst, 1024);
  t.is(c.portLast, 65535);
  t.is(c.partitionBuckets, 64);
  t.is(c.partitionKey, 'flow');
  t.deepEqual(c.partitionInside, []);
  t.is(c.tcpEstablishedTimeout, 7440);
  t.is(c.tcpTransitoryTimeout, 240);
  t.is(c.udpTimeout, 300);
});

test('host bits of a prefix are ignored and /0 holds everything', (t) => {
  t.deepEqual(parse({ internalPrefixes: ['10.1.2.3/16', '0.0.0.0/0'] }).internalPrefixes, [
    { net: 0x0a010000, mask: 0xffff0000 },
    { net: 0, mask: 0 },
  ]);
});

const refused: [string, Record<string, unknown>, string][] = [
  ['a prefix that is no address', { internalPrefixes: ['10.0.0.0/8', 'intranet'] }, 'config.internalPrefixes: "intranet" is not an IPv4 or IPv6 address or prefix'],
  ['a prefix length too long', { internalPrefixes: ['10.0.0.0/33'] }, 'config.internalPrefixes: "10.0.0.0/33": prefix length 33 exceeds 32 for IPv4'],
  ['a prefix length that is no number', { internalPrefixes: ['10.0.0.0/x'] }, 'config.internalPrefixes: "10.0.0.0/x": prefix length "x" is not a number'],
  ['an IPv6 prefix', { internalPrefixes: ['fd00::/8'] }, 'config.internalPrefixes: "fd00::/8" is not an IPv4 prefix (only IPv4 is translated)'],
  ['no prefixes', { internalPrefixes: [] }, 'config.internalPrefixes: must be a non-empty list of strings, got []'],
  ['prefixes not as a list', { internalPrefixes: '10.0.0.0/8' }, 'config.internalPrefixes: must be a non-empty list of strings, got "10.0.0.0/8"'],
  ['an external IPv6 address', { externalAddresses: ['2001:db8::1'] }, 'config.externalAddresses: "2001:db8::1" is not an IPv4 address'],
  ['an external prefix', { externalAddresses: ['203.0.113.0/24'] }, 'config.externalAddresses: "203.0.113.0/24" is not an IPv4 address'],
  ['an external name', { externalAddresses: ['nat.example'] }, 'config.externalAddresses: "nat.example" is not an IPv4 address'],
  ['an external address twice', { externalAddresses: ['203.0.113.1', '203.0.113.1'] }, 'config.externalAddresses: "203.0.113.1" is listed twice'],
  ['no external address', { externalAddresses: [] }, 'config.externalAddresses: must be a non-empty list of strings, got []'],
  ['an empty port range', { portRange: [] }, 'config.portRange: must be [first, last], two whole port numbers, got []'],
  ['a port range of one number', { portRange: [1024] }, 'config.portRange: must be [first, last], two whole port numbers, got [1024]'],
  ['a fractional port', { portRange: [1024, 2000.5] }, 'config.portRange: must be [first, last], two whole port numbers, got [1024,2000.5]'],
  ['an inverted port range', { portRange: [5000, 4000] }, 'config.portRange: [5000, 4000] is inverted: first must not exceed last'],
  ['port 0', { portRange: [0, 100] }, 'config.portRange: port 0 is outside 1-65535'],
  ['a port above 65535', { portRange: [1024, 65536] }, 'config.portRange: port 65536 is outside 1-65535'],
  ['a zero timeout', { udpTimeout: 0 }, 'config.udpTimeout: must be a positive number of seconds, got 0'],
  ['a negative timeout', { tcpEstablishedTimeout: -5 }, 'config.tcpEstablishedTimeout: must be a positive number of seconds, got -5'],
  ['a timeout as text', { tcpTransitoryTimeout: '240' }, 'config.tcpTransitoryTimeout: must be a positive number of seconds, got "240"'],
  ['an infinite timeout', { udpTimeout: Infinity }, 'config.udpTimeout: must be a positive number of seconds, got Infinity'],
  ['an unknown field', { externalAddress: '203.0.113.1' },
    'config.externalAddress: unknown setting for the nat (known: internalPrefixes, externalAddresses, portRange, partitionBuckets, partitionKey, partitionInside, tcpEstablishedTimeout, tcpTransitoryTimeout, udpTimeout)'],
  ['an unknown partition key', { partitionKey: 'port' }, 'config.partitionKey: must be one of flow, hostPair, host, got "port"'],
  ['partition prefixes not as a list', { partitionInside: '10.0.0.0/8' }, 'config.partitionInside: must be a list of prefixes, got "10.0.0.0/8"'],
  ['a partition prefix that is no prefix', { partitionInside: ['10.0.0.0/8', 'lan'] }, 'config.partitionInside: "lan" is not an IPv4 or IPv6 address or prefix'],
  ['zero port classes', { partitionBuckets: 0 }, 'config.partitionBuckets: must be a whole number from 1 to 65535, got 0'],
  ['a fractional number of port classes', { partitionBuckets: 2.5 }, 'config.partitionBuckets: must be a whole number from 1 to 65535, got 2.5'],
  ['more port classes than ports', { portRange: [2000, 2009] }, 'config.partitionBuckets: 64 buckets need at least 64 ports; portRange [2000, 2009] has 10'],
];

for (const [what, over, message] of refused) {
  test(`refuses ${what}`, (t) => {
    const e = t.throws(() => parse(over), { instanceOf: ConfigError });
    t.is(e?.message, message);
  });
}
