/** The metrics API's serving certificate: made once for the names given, then reused from its directory. */
import test from 'ava';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { servingCertificate } from './trust.js';

test('a serving certificate is made for the Service name and IPs, written with its CA, and reused after', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'openmb-serving-'));
  const made = await servingCertificate(dir, ['openmb-metrics-api.openmb-system.svc', '10.250.0.1']);
  t.true(made.generated);
  const cert = new X509Certificate(made.cert);
  for (const name of ['openmb-metrics-api.openmb-system.svc', 'localhost']) t.is(cert.checkHost(name), name);
  for (const ip of ['10.250.0.1', '127.0.0.1']) t.is(cert.checkIP(ip), ip);
  t.true(cert.verify(new X509Certificate(readFileSync(join(dir, 'ca.crt'))).publicKey), 'ca.crt (the caBundle) signed it');
  t.is(statSync(join(dir, 'tls.key')).mode & 0o777, 0o600);
  const again = await servingCertificate(dir, ['other.example']);
  t.false(again.generated);
  t.is(again.cert, made.cert, 'an existing certificate is used as it is');
});
