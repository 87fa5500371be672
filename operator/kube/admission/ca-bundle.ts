/**
 * The API server trusts the webhook by its configuration's caBundle: the leader, whose webhook the
 * Service routes to, sets every webhook of the ValidatingWebhookConfiguration to the CA of its own
 * serving certificate.
 */
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { KubeClient } from '../client.js';

/** Sets the caBundle of every webhook in the configuration `name`; returns how many it has. */
export async function publishWebhookCa(client: KubeClient, name: string, caPem: string): Promise<number> {
  const api = client.admissionRegistration;
  const config = await api.readValidatingWebhookConfiguration({ name });
  const caBundle = Buffer.from(caPem).toString('base64');
  const webhooks = config.webhooks ?? [];
  if (webhooks.length === 0) throw new Error(`ValidatingWebhookConfiguration ${name} has no webhooks`);
  // A JSON patch of each caBundle alone: every webhook of it is this server's.
  const body = webhooks.map((_, i) => ({ op: 'add', path: `/webhooks/${i}/clientConfig/caBundle`, value: caBundle }));
  await api.patchValidatingWebhookConfiguration({ name, body }, setHeaderOptions('Content-Type', PatchStrategy.JsonPatch));
  return webhooks.length;
}
