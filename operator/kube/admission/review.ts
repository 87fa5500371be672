/**
 * The admission.k8s.io/v1 AdmissionReview the API server posts to a validating webhook, as far as
 * the operator reads it, and the review it answers with. Parsed at the boundary: a body that is
 * not a review is refused with the field named.
 */
import { z } from 'zod';

const groupVersionResource = z.object({ group: z.string(), version: z.string(), resource: z.string() }).passthrough();

export const admissionReview = z.object({
  apiVersion: z.literal('admission.k8s.io/v1'),
  kind: z.literal('AdmissionReview'),
  request: z.object({
    uid: z.string().min(1),
    resource: groupVersionResource,
    subResource: z.string().optional(),
    operation: z.enum(['CREATE', 'UPDATE', 'DELETE', 'CONNECT']),
    name: z.string().optional(),
    namespace: z.string().optional(),
    object: z.unknown().optional(),
    oldObject: z.unknown().optional(),
    dryRun: z.boolean().optional(),
  }).passthrough(),
}).passthrough();
export type AdmissionRequest = z.infer<typeof admissionReview>['request'];

export type Admission = { allowed: true } | { allowed: false; code: number; reason: string; message: string };

/** The answer to the request `uid`; a refusal carries a Status kubectl prints as the reason. */
export function reviewResponse(uid: string, a: Admission): Record<string, unknown> {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: a.allowed ? { uid, allowed: true } : { uid, allowed: false, status: { status: 'Failure', code: a.code, reason: a.reason, message: a.message } },
  };
}
