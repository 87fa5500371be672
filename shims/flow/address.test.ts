import test from 'ava';
import { ipText, parseIp, parsePrefix, prefixContains } from './address.js';

const v6 = (groups: number[]) => {
  const b = new Uint8Array(16);
  groups.forEach((g, i) => { b[2 * i] = g >> 8; b[2 * i + 1] = g & 0xff; });
  return b;
};

test('IPv6 text follows RFC 5952', (t) => {
  const cases: [number[], string][] = [
    [[0, 0, 0, 0, 0, 0, 0, 0], '::'],
    [[0, 0, 0, 0, 0, 0, 0, 1], '::1'],
    [[1, 0, 0, 0, 0, 0, 0, 0], '1::'],
    [[0x2001, 0xdb8, 0, 0, 0, 0, 0, 1], '2001:db8::1'],
    // a single zero group is never compressed
    [[0x2001, 0xdb8, 0, 1, 1, 1, 1, 1], '2001:db8:0:1:1:1:1:1'],
    // the longest run wins, whatever its position
    [[1, 0, 0, 1, 0, 0, 0, 1], '1:0:0:1::1'],
    // equal runs: the first one is compressed
    [[1, 0, 0, 2, 0, 0, 3, 4], '1::2:0:0:3:4'],
    // lowercase, no leading zeros
    [[0xabcd, 0x00ef, 0x000a, 0x0100, 0xffff, 0xa, 0xb, 0xc], 'abcd:ef:a:100:ffff:a:b:c'],
    [[0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304], '::ffff:1.2.3.4'],
    [[0, 0, 0, 0, 0, 0xfffe, 0x0102, 0x0304], '::fffe:102:304'], // only ffff is IPv4-mapped
  ];
  for (const [groups, text] of cases) t.is(ipText(v6(groups)), text);
});

test('parseIp round-trips canonical text and normalizes the rest', (t) => {
  for (const text of ['0.0.0.0', '255.255.255.255', '10.1.2.3', '::', '::1', '1::', '2001:db8::1', 'fe80::1:2', '::ffff:1.2.3.4', '1:2:3:4:5:6:7:8']) {
    const b = parseIp(text);
    t.truthy(b, text);
    t.is(ipText(b!), text);
  }
  t.is(ipText(parseIp('2001:0DB8:0000:0000:0:0:0:0001')!), '2001:db8::1');
  t.is(ipText(parseIp('1:2:3:4:5:6:7::')!), '1:2:3:4:5:6:7:0'); // one zero group: written out
  t.is(ipText(parseIp('::1.2.3.4')!), '::102:304');
  t.is(ipText(parseIp('1:2:3:4:5:6:1.2.3.4')!), '1:2:3:4:5:6:102:304');
  t.deepEqual([...parseIp('::ffff:10.0.0.1')!], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1]);
});

test('parseIp rejects malformed addresses', (t) => {
  for (const text of ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1.2.3.x', '1..2.3', '1::2::3', '12345::', ':::', '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7', '::g', '1:2:3:4:5:6:7:8::', '::1.2.3', '::256.0.0.1', '1.2.3.4::', '1.2.3.4::1', '::1.2.3.4:1']) {
    t.is(parseIp(text), null, text);
  }
});

test('parsePrefix reads lengths and names what is wrong', (t) => {
  t.deepEqual(parsePrefix('10.0.0.0/8'), { bytes: Uint8Array.from([10, 0, 0, 0]), length: 8 });
  t.is(parsePrefix('10.0.0.1').length, 32);
  t.is(parsePrefix('2001:db8::').length, 128);
  t.is(parsePrefix('::/0').length, 0);
  t.throws(() => parsePrefix('10.0.0.0/40'), { message: '"10.0.0.0/40": prefix length 40 exceeds 32 for IPv4' });
  t.throws(() => parsePrefix('2001:db8::/129'), { message: '"2001:db8::/129": prefix length 129 exceeds 128 for IPv6' });
  t.throws(() => parsePrefix('10.0.0.0/x'), { message: '"10.0.0.0/x": prefix length "x" is not a number' });
  t.throws(() => parsePrefix('10.0.0.0/'), { message: /prefix length "" is not a number/ });
  t.throws(() => parsePrefix('10.0.0/8'), { message: '"10.0.0/8" is not an IPv4 or IPv6 address or prefix' });
});

test('prefixContains honours non-byte-aligned lengths', (t) => {
  const has = (prefix: string, ip: string) => {
    const b = parseIp(ip)!;
    return prefixContains(parsePrefix(prefix), b, 0, b.length);
  };
  t.true(has('10.0.0.0/9', '10.127.255.255'));
  t.false(has('10.0.0.0/9', '10.128.0.0'));
  t.true(has('192.168.4.0/22', '192.168.7.1'));
  t.false(has('192.168.4.0/22', '192.168.8.1'));
  t.false(has('192.168.4.0/22', '192.168.3.255'));
  t.true(has('10.1.2.3/8', '10.200.0.0')); // host bits in the prefix are ignored
  t.true(has('0.0.0.0/0', '203.0.113.9'));
  t.true(has('10.0.0.1/31', '10.0.0.0'));
  t.false(has('10.0.0.1/32', '10.0.0.0'));
  t.true(has('2001:db8::/33', '2001:db8:7fff::1'));
  t.false(has('2001:db8::/33', '2001:db8:8000::1'));
  t.true(has('fe80::/10', 'febf::1'));
  t.false(has('fe80::/10', 'fec0::1'));
  t.false(has('::/0', '10.0.0.1')); // families never match each other
  t.false(has('0.0.0.0/0', '::1'));
  // the address may sit at an offset inside a larger buffer (a frame)
  const frame = Uint8Array.from([9, 9, 10, 0x7f, 0, 1, 9]);
  t.true(prefixContains(parsePrefix('10.0.0.0/9'), frame, 2, 4));
  t.false(prefixContains(parsePrefix('10.0.0.0/9'), frame, 1, 4));
});
