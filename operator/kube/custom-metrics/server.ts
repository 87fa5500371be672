/**
 * The custom metrics API over HTTPS, for the kube-apiserver's aggregation layer. The aggregator
 * proxies the HPA's requests here and authenticates itself with its front-proxy client
 * certificate: a request is answered only over a connection whose client certificate the
 * requestheader client CA signed (and, when names are given, whose CN is one of them), as the
 * API server's own --requestheader-* flags define it; any other gets 401.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../../../shims/log/logger.js';
import { apiMessage } from '../client.js';
import { failure, parseRequest, type Status } from './api.js';
import { answer, type MetricSources } from './handler.js';

/** Who may call: the aggregator's client certificate, as the requestheader flags describe it. */
export interface FrontProxyTrust {
  /** PEM of the CA that signs the front-proxy client certificate (--requestheader-client-ca-file). */
  clientCa: string;
  /** CNs accepted (--requestheader-allowed-names); empty: any certificate that CA signed. */
  allowedNames: string[];
}

export interface CustomMetricsServerOptions {
  host: string;
  port: number;
  /** This server's certificate and key (PEM); the APIService's caBundle must trust its CA. */
  serving: { cert: string; key: string };
  trust: FrontProxyTrust;
  sources: MetricSources;
  log: Logger;
}

/** Why a caller is refused, or null if its certificate is the front proxy's. */
export function refusal(socket: TLSSocket, trust: FrontProxyTrust): string | null {
  if (!socket.authorized) {
    const cert = socket.getPeerCertificate();
    if (!cert || Object.keys(cert).length === 0) return 'no client certificate: only the API server\'s aggregation layer (its front-proxy certificate) is served';
    return `client certificate refused (${String(socket.authorizationError)}): it is not signed by the requestheader client CA`;
  }
  const cn = socket.getPeerCertificate().subject?.CN;
  const name = Array.isArray(cn) ? cn[0] : cn;
  if (trust.allowedNames.length > 0 && !trust.allowedNames.includes(name ?? '')) {
    return `client certificate CN "${name ?? ''}" is not one of the requestheader allowed names (${trust.allowedNames.join(', ')})`;
  }
  return null;
}

export async function serveCustomMetrics(o: CustomMetricsServerOptions): Promise<{ server: Server; address: string }> {
  const send = (res: ServerResponse, code: number, body: unknown) => {
    res.writeHead(code, { 'content-type': 'application/json' }).end(`${JSON.stringify(body)}\n`);
  };
  const sendStatus = (res: ServerResponse, st: Status) => send(res, st.code, st);
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const why = refusal(req.socket as TLSSocket, o.trust);
    if (why) {
      o.log.warn({ from: req.socket.remoteAddress, path: req.url, reason: why }, 'custom metrics request refused');
      return sendStatus(res, failure(401, 'Unauthorized', why));
    }
    if (req.method !== 'GET') return sendStatus(res, failure(405, 'MethodNotAllowed', 'the custom metrics API is read-only: GET'));
    const url = new URL(req.url ?? '/', 'https://localhost');
    answer(parseRequest(url), o.sources).then((a) => {
      // The aggregator names the user it proxies for; kept in the log for whoever asks why an HPA scaled.
      o.log.debug({ user: req.headers['x-remote-user'], path: url.pathname, code: a.code }, 'custom metrics request');
      send(res, a.code, a.body);
    }, (e: unknown) => {
      o.log.warn({ path: url.pathname, err: apiMessage(e) }, 'custom metrics request failed');
      sendStatus(res, failure(503, 'ServiceUnavailable', `could not answer: ${apiMessage(e)}`));
    });
  };
  const server = createServer({
    cert: o.serving.cert, key: o.serving.key, ca: o.trust.clientCa,
    // Checked per request above, so a refused caller gets a Status body rather than a broken handshake.
    requestCert: true, rejectUnauthorized: false,
  }, handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  const a = server.address() as AddressInfo;
  return { server, address: `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}` };
}
