import test from 'ava';
import { readFileSync } from 'node:fs';
import { SAMPLE_RULES } from './config.js';
import { containsBytes, matchPacket, matchRequest, parseRules, type RequestView } from './rules.js';

function view(method: string, uri: string, host = '', ua = '', header = ''): RequestView {
  return { method: method.toLowerCase(), uri: uri.toLowerCase(), host: host.toLowerCase(), ua: ua.toLowerCase(), header: Buffer.from(header, 'latin1') };
}

function parseError(text: string): string {
  try {
    parseRules(text, 'x.rules');
  } catch (e) {
    return (e as Error).message;
  }
  return 'no error';
}

test('the sample rules parse into request and packet rules', (t) => {
  const rules = parseRules(readFileSync(SAMPLE_RULES, 'utf8'), SAMPLE_RULES);
  t.is(rules.length, 21);
  t.deepEqual(rules.filter((r) => r.kind === 'packet').map((r) => r.id), ['upnp-add-port-mapping', 'ssdp-discovery']);
  t.is(new Set(rules.map((r) => r.id)).size, rules.length);
});

test('a rule: options, operators, quoting, comments', (t) => {
  const [r] = parseRules('  # header comment\n\nalert id=web-passwd msg="say \\"hi\\" \\\\ there" method=GET uri~"/etc/passwd" ua!~Nmap # trailing\n', 'f');
  t.deepEqual(r, {
    id: 'web-passwd', msg: 'say "hi" \\ there', kind: 'request', line: 3, payload: [],
    fields: [
      { field: 'method', exact: true, negate: false, value: 'get' },
      { field: 'uri', exact: false, negate: false, value: '/etc/passwd' },
      { field: 'ua', exact: false, negate: true, value: 'nmap' },
    ],
  });
});

test('payload: text with |hex| runs, and a # inside quotes', (t) => {
  const [r] = parseRules('alert id=p msg=m payload~"A|0d 0a|#|7C|"', 'f');
  t.is(r.kind, 'packet');
  t.deepEqual([...r.payload[0].bytes], [0x41, 0x0d, 0x0a, 0x23, 0x7c]);
});

test('request rules: case-insensitive fields, negation, exact versus contains, payload over the header block', (t) => {
  const [odd, sdk, soap] = parseRules([
    'alert id=odd msg=m method!=GET method!=POST',
    'alert id=sdk msg=m method=post uri="/SDK"',
    'alert id=soap msg=m method=POST payload~"SOAPAction:"',
  ].join('\n'), 'f');
  t.true(matchRequest(odd, view('CCM_POST', '/')));
  t.false(matchRequest(odd, view('POST', '/')));
  t.true(matchRequest(sdk, view('POST', '/sdk')));
  t.false(matchRequest(sdk, view('POST', '/sdk/x')));
  t.true(matchRequest(soap, view('POST', '/', '', '', 'POST / HTTP/1.1\r\nSOAPAction: "x"\r\n\r\n')));
  t.false(matchRequest(soap, view('POST', '/', '', '', 'POST / HTTP/1.1\r\nsoapaction: "x"\r\n\r\n')), 'payload bytes are case-sensitive');
});

test('packet rules see only the given range of the data', (t) => {
  const [r] = parseRules('alert id=p msg=m payload~"abc"', 'f');
  const data = Buffer.from('xxabcxxabc');
  t.true(matchPacket(r, data, 0, 5));
  t.false(matchPacket(r, data, 0, 4));
  t.false(matchPacket(r, data, 3, 9));
  t.true(matchPacket(r, data, 3, 10));
  t.false(containsBytes(data, 8, 10, Buffer.from('abc')));
});

test('syntax errors name the file, line and column', (t) => {
  t.is(parseError('alert id=a msg=m uri~x\nalert id=b msg=m colour=red'), 'x.rules:2:18: unknown option "colour" (known: id, msg, method, uri, host, ua, payload)');
  t.is(parseError('drop id=a msg=m uri~x'), 'x.rules:1:1: a rule starts with "alert", got "drop"');
  t.is(parseError('alert msg=m uri~x'), 'x.rules:1:1: rule has no id=');
  t.is(parseError('alert id=a uri~x'), 'x.rules:1:1: rule has no msg=');
  t.is(parseError('alert id=a msg=m'), 'x.rules:1:1: rule needs an HTTP field (method, uri, host, ua) or a payload~ condition');
  t.is(parseError('alert id=a msg=m payload!~"x"'), 'x.rules:1:1: rule needs an HTTP field (method, uri, host, ua) or a payload~ condition');
  t.is(parseError('alert id=a msg=m uri:x'), 'x.rules:1:21: option "uri" needs an operator (=, ~, != or !~) and a value');
  t.is(parseError('alert id=a msg="open uri~x'), 'x.rules:1:16: string is not closed with "');
  t.is(parseError('alert id=a msg="x"uri~x'), 'x.rules:1:19: expected a blank after the closing quote');
  t.is(parseError('alert id=a msg="x\\n" uri~x'), 'x.rules:1:18: unknown escape "\\n" (only \\" and \\\\)');
  t.is(parseError('alert id=a msg=m method='), 'x.rules:1:25: option "method" has an empty value');
  t.is(parseError('alert id=a msg~m uri~x'), 'x.rules:1:15: option "msg" takes "=", got "~"');
  t.is(parseError('alert id=a id=b msg=m uri~x'), 'x.rules:1:12: option "id" is given twice');
  t.is(parseError('alert id=a/b msg=m uri~x'), 'x.rules:1:10: rule id "a/b" may hold only letters, digits, "_", "-" and "."');
  t.is(parseError('alert id=PortScan msg=m uri~x'), 'x.rules:1:10: rule id "PortScan" is reserved for the scan detector');
  t.is(parseError('alert id=a msg=m payload="x"'), 'x.rules:1:25: option "payload" takes "~" or "!~" (contains), got "="');
  t.is(parseError('alert id=a msg=m payload~"ab|0g|"'), 'x.rules:1:31: "g" is not a hex digit');
  t.is(parseError('alert id=a msg=m payload~"|0d 0|"'), 'x.rules:1:27: hex bytes need two digits each');
  t.is(parseError('alert id=a msg=m payload~"ab|0d"'), 'x.rules:1:29: hex bytes opened with | are not closed');
  t.is(parseError('alert id=a msg=m uri~x\n# two\nalert id=a msg=m uri~y'), 'x.rules:3:10: rule id "a" is already used on line 1');
});
