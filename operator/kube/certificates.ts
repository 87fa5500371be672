/**
 * Certificates for a cluster. Every OpenMB Pod mounts one Secret of type kubernetes.io/tls with
 * keys ca.crt, tls.crt and tls.key, and the operator's controller listener uses the same
 * material: one CA, one certificate for client and server use naming DNS:openmb (see
 * shims/protocol/tls.ts). A Secret someone else made (cert-manager, the user) is used as it is.
 * Keys are ECDSA P-256, made and signed by Node's WebCrypto; @peculiar/x509 writes the X.509.
 */
// @peculiar/x509 resolves its algorithms through tsyringe, which needs the Reflect metadata API.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import type { V1Secret } from '@kubernetes/client-node';
import { randomBytes, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import { checkTlsMaterial, TLS_FILES, TLS_SERVER_NAME, type TlsMaterial } from '../../shims/protocol/tls.js';
import { type KubeClient, statusCode } from './client.js';

export const TLS_SECRET_TYPE = 'kubernetes.io/tls';
const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const DAY_MS = 24 * 3600 * 1000;

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export interface CertificateAuthority {
  cert: x509.X509Certificate;
  keys: CryptoKeyPair;
}

/** Validity from a few minutes ago, so a peer whose clock is slightly behind accepts it too. */
function validity(days: number): { notBefore: Date; notAfter: Date } {
  const now = Date.now();
  return { notBefore: new Date(now - 5 * 60 * 1000), notAfter: new Date(now + days * DAY_MS) };
}

/** A positive 128-bit serial, random so that two generated CAs never share one. */
function serialNumber(): string {
  const b = randomBytes(16);
  b[0] &= 0x7f;
  return b.toString('hex');
}

function generateKeys(): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']) as Promise<CryptoKeyPair>;
}

export async function createCertificateAuthority(validDays = 365): Promise<CertificateAuthority> {
  const keys = await generateKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(), name: 'CN=OpenMB CA', ...validity(validDays), keys, signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert, keys };
}

/**
 * A certificate for both ends of a channel (serverAuth + clientAuth), signed by `ca`. `altNames`
 * adds DNS names and IP addresses a server is reached by (a Service's DNS name, a node's address).
 */
export async function issueCertificate(ca: CertificateAuthority, o: { dnsName?: string; altNames?: string[]; validDays?: number } = {}): Promise<TlsMaterial> {
  const keys = await generateKeys();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(), subject: `CN=${o.dnsName ?? TLS_SERVER_NAME}`, issuer: ca.cert.subject, ...validity(o.validDays ?? 365),
    publicKey: keys.publicKey, signingKey: ca.keys.privateKey, signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension([o.dnsName ?? TLS_SERVER_NAME, ...o.altNames ?? []].map((value) => ({ type: isIP(value) ? 'ip' as const : 'dns' as const, value }))),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey),
    ],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { ca: ca.cert.toString('pem'), cert: cert.toString('pem'), key: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') };
}

/** A fresh CA and one certificate from it, valid for `validDays`. */
export async function generateTlsMaterial(validDays = 365): Promise<TlsMaterial> {
  return issueCertificate(await createCertificateAuthority(validDays), { validDays });
}

/** The material a Secret holds, checked; the error names the Secret and the key that is missing or wrong. */
export function materialFromSecret(secret: V1Secret, where: string): TlsMaterial {
  const value = (key: string) => {
    const b64 = secret.data?.[key];
    if (!b64) throw new Error(`${where} has no "${key}": OpenMB needs ${Object.values(TLS_FILES).join(', ')} (a cert-manager Secret carries ca.crt when its issuer knows its CA)`);
    return Buffer.from(b64, 'base64').toString('utf8');
  };
  return checkTlsMaterial({ ca: value(TLS_FILES.ca), cert: value(TLS_FILES.cert), key: value(TLS_FILES.key) }, where);
}

async function readSecret(client: KubeClient, namespace: string, name: string): Promise<V1Secret | null> {
  try {
    return await client.core.readNamespacedSecret({ namespace, name });
  } catch (e) {
    if (statusCode(e) === 404) return null;
    throw e;
  }
}

/**
 * Makes sure Secret `namespace/name` exists and returns its material. A missing Secret is
 * created from `from` (so several namespaces share the operator's CA) or from fresh material.
 * An existing one is used as it is, after checking its keys and, with `from`, that it trusts the
 * same CA: Pods mounting a Secret of another CA could not reach the operator.
 */
export async function ensureTlsSecret(client: KubeClient, namespace: string, name: string, from?: TlsMaterial): Promise<TlsMaterial> {
  const where = `Secret ${namespace}/${name}`;
  const use = (secret: V1Secret) => {
    const m = materialFromSecret(secret, where);
    if (from && m.ca.trim() !== from.ca.trim()) throw new Error(`${where}: its ${TLS_FILES.ca} is not the CA the operator's listener trusts`);
    return m;
  };
  const existing = await readSecret(client, namespace, name);
  if (existing) return use(existing);
  const material = from ?? await generateTlsMaterial();
  try {
    await client.core.createNamespacedSecret({
      namespace,
      body: {
        metadata: { name, namespace, labels: { 'app.kubernetes.io/managed-by': 'openmb-operator' } },
        type: TLS_SECRET_TYPE,
        stringData: { [TLS_FILES.ca]: material.ca, [TLS_FILES.cert]: material.cert, [TLS_FILES.key]: material.key },
      },
    });
    return material;
  } catch (e) {
    if (statusCode(e) !== 409) throw e;
    // Someone else (another operator replica, cert-manager) created it since we looked: theirs stands.
    const theirs = await readSecret(client, namespace, name);
    if (!theirs) throw e;
    return use(theirs);
  }
}
