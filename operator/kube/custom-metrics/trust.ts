/**
 * The custom metrics server's TLS: the certificate it serves (the APIService's caBundle trusts its
 * CA), and the front proxy's CA it checks callers against. In a cluster both usually come from
 * outside (a mounted Secret; the API server's own extension-apiserver-authentication ConfigMap);
 * without them a serving certificate is made and kept in its directory, so an e2e can hand its
 * ca.crt to the APIService.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TLS_FILES, writeTlsMaterial, type TlsMaterial } from '../../../shims/protocol/tls.js';
import { createCertificateAuthority, issueCertificate } from '../certificates.js';
import { statusCode, type KubeClient } from '../client.js';
import type { FrontProxyTrust } from './server.js';

/** Where kube-apiserver publishes its --requestheader-* settings for extension API servers. */
export const AUTHENTICATION_CONFIGMAP = { namespace: 'kube-system', name: 'extension-apiserver-authentication' } as const;
const SERVING_NAME = 'openmb-metrics-api';

/**
 * DIR/tls.crt and DIR/tls.key when both are there; else a fresh CA and a certificate (CN `commonName`) for `names`
 * (DNS names or IPs: the Service's `NAME.NAMESPACE.svc`, which the aggregator checks, and any
 * address it is dialed at), with localhost and 127.0.0.1, written to DIR with the CA as ca.crt.
 */
export async function servingCertificate(dir: string, names: string[], commonName = SERVING_NAME): Promise<TlsMaterial & { generated: boolean }> {
  const cert = join(dir, TLS_FILES.cert);
  const key = join(dir, TLS_FILES.key);
  if (existsSync(cert) && existsSync(key)) {
    const ca = join(dir, TLS_FILES.ca);
    return { ca: existsSync(ca) ? readFileSync(ca, 'utf8') : '', cert: readFileSync(cert, 'utf8'), key: readFileSync(key, 'utf8'), generated: false };
  }
  const material = await issueCertificate(await createCertificateAuthority(), { dnsName: commonName, altNames: [...new Set([...names, 'localhost', '127.0.0.1'])] });
  writeTlsMaterial(dir, material);
  return { ...material, generated: true };
}

/** Allowed names as kube-apiserver writes them in the ConfigMap: a JSON array of strings. */
function parseAllowedNames(json: string | undefined): string[] {
  if (!json) return [];
  const names: unknown = JSON.parse(json);
  if (!Array.isArray(names) || names.some((n) => typeof n !== 'string')) throw new Error(`requestheader-allowed-names is not a JSON array of strings: ${json}`);
  return names as string[];
}

/**
 * The front proxy's CA from `caFile` (--requestheader-client-ca-file) with `allowedNames`, else
 * both from the ConfigMap the API server keeps (reading it needs the
 * extension-apiserver-authentication-reader Role in kube-system).
 */
export async function frontProxyTrust(client: KubeClient, o: { caFile?: string; allowedNames?: string[] }): Promise<FrontProxyTrust> {
  if (o.caFile) return { clientCa: readFileSync(o.caFile, 'utf8'), allowedNames: o.allowedNames ?? [] };
  const where = `ConfigMap ${AUTHENTICATION_CONFIGMAP.namespace}/${AUTHENTICATION_CONFIGMAP.name}`;
  let data: Record<string, string> | undefined;
  try {
    data = (await client.core.readNamespacedConfigMap(AUTHENTICATION_CONFIGMAP)).data;
  } catch (e) {
    if (statusCode(e) === 404) throw new Error(`${where} does not exist: give --requestheader-client-ca-file, or run the API server with --requestheader-client-ca-file`);
    throw e;
  }
  const clientCa = data?.['requestheader-client-ca-file'];
  if (!clientCa) throw new Error(`${where} has no requestheader-client-ca-file: the API server's aggregation layer is not configured (see --requestheader-client-ca-file)`);
  return { clientCa, allowedNames: o.allowedNames ?? parseAllowedNames(data?.['requestheader-allowed-names']) };
}
