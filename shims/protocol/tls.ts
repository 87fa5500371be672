/**
 * Mutual TLS for channels that cross a network. Every process holds the same kind of material,
 * laid out like a mounted Kubernetes TLS Secret: `ca.crt` (the one CA every side trusts),
 * `tls.crt` and `tls.key` (its own certificate, signed by that CA, for both client and server
 * use). Pod IPs change, so identity is not an address: every certificate carries the one DNS name
 * TLS_SERVER_NAME, and a dialer checks the listener's certificate against that name.
 */
import { X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';
import type { Address } from './address.js';

export const TLS_DIR_ENV = 'OPENMB_TLS_DIR';
export const TLS_SERVER_NAME = 'openmb';
/** File names in the directory, the same keys as in a kubernetes.io/tls Secret (plus ca.crt). */
export const TLS_FILES = { ca: 'ca.crt', cert: 'tls.crt', key: 'tls.key' } as const;

/** PEM text of the CA certificate, this side's certificate (chain) and its private key. */
export interface TlsMaterial {
  ca: string;
  cert: string;
  key: string;
}

/**
 * Reads and checks a TLS directory: each file must exist, parse, and the key must match the
 * certificate, so a bad mount fails at start naming the file rather than at the first handshake.
 */
export function loadTlsMaterial(dir: string): TlsMaterial {
  const read = (file: string) => {
    const path = join(dir, file);
    if (!existsSync(path)) {
      throw new Error(`TLS directory ${dir} has no ${file} (it needs ${Object.values(TLS_FILES).join(', ')}, as a mounted kubernetes.io/tls Secret has)`);
    }
    return readFileSync(path, 'utf8');
  };
  return checkTlsMaterial({ ca: read(TLS_FILES.ca), cert: read(TLS_FILES.cert), key: read(TLS_FILES.key) }, `TLS directory ${dir}`);
}

/** Throws, naming `where`, unless the PEMs parse, the key matches the certificate and it names TLS_SERVER_NAME. */
export function checkTlsMaterial(m: TlsMaterial, where: string): TlsMaterial {
  let names: string | undefined;
  try {
    tls.createSecureContext(m);
    names = new X509Certificate(m.cert).checkHost(TLS_SERVER_NAME);
  } catch (e) {
    throw new Error(`${where}: ${(e as Error).message}`);
  }
  if (!names) throw new Error(`${where}: the certificate in ${TLS_FILES.cert} does not carry the DNS name "${TLS_SERVER_NAME}", which every peer checks`);
  return m;
}

/** The material of `--tls-dir DIR` (default $OPENMB_TLS_DIR); none when neither is given. */
export function tlsFromOption(dir: string | undefined): TlsMaterial | undefined {
  const chosen = dir ?? process.env[TLS_DIR_ENV];
  return chosen ? loadTlsMaterial(chosen) : undefined;
}

/** Writes material in the layout loadTlsMaterial reads; the key readable by its owner only. */
export function writeTlsMaterial(dir: string, m: TlsMaterial): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(join(dir, TLS_FILES.ca), m.ca);
  writeFileSync(join(dir, TLS_FILES.cert), m.cert);
  const keyFile = join(dir, TLS_FILES.key);
  writeFileSync(keyFile, m.key, { mode: 0o600 });
  chmodSync(keyFile, 0o600);
}

/** A listener's options: it presents its certificate and admits only peers whose certificate the CA signed. */
export function serverOptions(m: TlsMaterial, handshakeTimeoutMs: number): tls.TlsOptions {
  return { ...m, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3', handshakeTimeout: handshakeTimeoutMs };
}

/** Dials `address` over TLS, presenting our certificate and checking the listener's against TLS_SERVER_NAME. */
export function connectTls(address: Address, m: TlsMaterial): tls.TLSSocket {
  return tls.connect({
    ...('path' in address ? { path: address.path } : { host: address.host, port: address.port }),
    ...m,
    minVersion: 'TLSv1.3',
    servername: TLS_SERVER_NAME,
    // The name is fixed whatever address was dialed (a Pod IP, a Service, a socket path).
    checkServerIdentity: (_host, cert) => tls.checkServerIdentity(TLS_SERVER_NAME, cert),
  });
}
