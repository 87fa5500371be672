/**
 * The validating admission webhook over HTTPS: the API server posts an AdmissionReview for each
 * MiddleboxPool created or updated (as the ValidatingWebhookConfiguration's rules scope it) to
 * POST /validate-middleboxpools, and gets the verdict of admitPool. A review that cannot be
 * checked (the middlebox's validator did not answer) is refused with the cause: the webhook
 * fails closed for MiddleboxPools, and is never asked about anything else.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../../shims/log/logger.js';
import { describeIssues } from '../../../shims/protocol/messages.js';
import { admissionReview, reviewResponse } from './review.js';
import { admitPool, type PoolValidator } from './validate.js';

export const WEBHOOK_PATH = '/validate-middleboxpools';
/** A review carries the object and its old version: a pool is far smaller; the API server's own limit is 3 MiB per object. */
const MAX_BODY = 8 * 1024 * 1024;

export interface AdmissionServerOptions {
  host: string;
  port: number;
  /** This server's certificate and key (PEM); the webhook configuration's caBundle must trust its CA. */
  serving: { cert: string; key: string };
  validator: PoolValidator;
  log: Logger;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (b: Buffer) => {
      size += b.length;
      if (size > MAX_BODY) {
        reject(new Error(`the review is over ${MAX_BODY} bytes`));
        req.destroy();
        return;
      }
      parts.push(b);
    });
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

export async function serveAdmission(o: AdmissionServerOptions): Promise<{ server: Server; address: string }> {
  const send = (res: ServerResponse, code: number, body: unknown) => {
    res.writeHead(code, { 'content-type': 'application/json' }).end(`${JSON.stringify(body)}\n`);
  };
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'https://localhost').pathname;
    if (path !== WEBHOOK_PATH) return send(res, 404, { message: `no webhook at ${path} (the MiddleboxPool webhook is ${WEBHOOK_PATH})` });
    if (req.method !== 'POST') return send(res, 405, { message: 'POST an admission.k8s.io/v1 AdmissionReview' });
    let json: unknown;
    try {
      json = JSON.parse(await readBody(req));
    } catch (e) {
      return send(res, 400, { message: `not a JSON AdmissionReview: ${(e as Error).message}` });
    }
    const review = admissionReview.safeParse(json);
    if (!review.success) return send(res, 400, { message: `not an admission.k8s.io/v1 AdmissionReview: ${describeIssues(review.error)}` });
    const r = review.data.request;
    const what = { uid: r.uid, operation: r.operation, pool: `${r.namespace ?? ''}/${r.name ?? ''}` };
    const verdict = await admitPool(r, o.validator).catch((e: unknown) => {
      o.log.warn({ ...what, err: (e as Error).message }, 'could not check a MiddleboxPool; refusing it');
      return { allowed: false as const, code: 503, reason: 'ServiceUnavailable', message: `the configuration could not be checked: ${(e as Error).message}` };
    });
    if (!verdict.allowed) o.log.info({ ...what, reason: verdict.message }, 'refused a MiddleboxPool');
    send(res, 200, reviewResponse(r.uid, verdict));
  };
  const server = createServer({ cert: o.serving.cert, key: o.serving.key }, (req, res) => {
    handle(req, res).catch((e: unknown) => send(res, 500, { message: (e as Error).message }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  const a = server.address() as AddressInfo;
  return { server, address: `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}` };
}
