/**
 * What the Pod runtime asks of the API server: create, read and delete Pods, wait for one to be
 * ready (naming why it is not, e.g. an image that cannot be pulled), keep the shared secret in a
 * Secret of the pool's namespace, and a list+watch of the Pods OpenMB owns for an informer.
 */
import { PatchStrategy, setHeaderOptions, type CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { statusCode } from './client.js';
import type { ListResult, ListWatchSource, WatchEventType } from './informer.js';
import type { KubeClient } from './client.js';
import { ROLE_LABEL } from './labels.js';
import { SECRET_KEY } from './pods.js';

/** Container waiting reasons that will not pass by themselves. */
const STUCK = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'CreateContainerConfigError', 'CreateContainerError', 'RunContainerError', 'CrashLoopBackOff']);

export function podReady(p: V1Pod): boolean {
  return p.status?.phase === 'Running' && (p.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** Why a Pod has stopped for good (Failed, Succeeded, or stuck waiting), or null while it may still become ready. */
export function podFailure(p: V1Pod): string | null {
  const phase = p.status?.phase;
  const states = p.status?.containerStatuses ?? [];
  for (const s of states) {
    const t = s.state?.terminated;
    if (t && (phase === 'Failed' || phase === 'Succeeded')) return `container ${s.name} ${t.reason ?? 'terminated'} (exit code ${t.exitCode})${t.message ? `: ${t.message}` : ''}`;
    const w = s.state?.waiting;
    if (w?.reason && STUCK.has(w.reason)) return `container ${s.name} ${w.reason}${w.message ? `: ${w.message}` : ''}`;
  }
  if (phase === 'Failed' || phase === 'Succeeded') return `Pod ${phase}${p.status?.reason ? ` (${p.status.reason})` : ''}${p.status?.message ? `: ${p.status.message}` : ''}`;
  return null;
}

export class PodApi {
  private readonly core: CoreV1Api;

  constructor(readonly client: KubeClient) {
    this.core = client.core;
  }

  async create(pod: V1Pod): Promise<V1Pod> {
    return this.core.createNamespacedPod({ namespace: pod.metadata!.namespace!, body: pod });
  }

  async get(namespace: string, name: string): Promise<V1Pod | null> {
    try {
      return await this.core.readNamespacedPod({ namespace, name });
    } catch (e) {
      if (statusCode(e) === 404) return null;
      throw e;
    }
  }

  /** Deletes a Pod and waits until it is gone (its containers have stopped). */
  async delete(namespace: string, name: string, timeoutMs = 60_000): Promise<void> {
    try {
      await this.core.deleteNamespacedPod({ namespace, name });
    } catch (e) {
      if (statusCode(e) !== 404) throw e;
    }
    const deadline = Date.now() + timeoutMs;
    while (await this.get(namespace, name)) {
      if (Date.now() > deadline) throw new Error(`Pod ${namespace}/${name} still exists ${timeoutMs} ms after it was deleted`);
      await sleep(200);
    }
  }

  /** Waits until the Pod is Ready; fails at once, with the reason, if it cannot become so. */
  async waitReady(namespace: string, name: string, timeoutMs = 120_000): Promise<V1Pod> {
    const deadline = Date.now() + timeoutMs;
    let last: V1Pod | null = null;
    for (;;) {
      last = await this.get(namespace, name);
      if (!last) throw new Error(`Pod ${namespace}/${name} was deleted while starting`);
      if (podReady(last)) return last;
      const failure = podFailure(last);
      if (failure) throw new Error(`Pod ${namespace}/${name} did not start: ${failure}`);
      if (Date.now() > deadline) {
        const why = (last.status?.conditions ?? []).filter((c) => c.status !== 'True').map((c) => `${c.type}: ${c.reason ?? ''} ${c.message ?? ''}`.trim());
        throw new Error(`Pod ${namespace}/${name} not ready after ${timeoutMs} ms (phase ${last.status?.phase ?? 'unknown'}${why.length ? `; ${why.join('; ')}` : ''})`);
      }
      await sleep(250);
    }
  }

  /** Creates the Secret holding the shared secret in a namespace, or replaces a different value. */
  async ensureSharedSecret(namespace: string, name: string, secret: string, owner?: string): Promise<void> {
    const data = { [SECRET_KEY]: Buffer.from(secret).toString('base64') };
    const body = { metadata: { name, namespace, labels: { 'app.kubernetes.io/managed-by': owner ?? 'openmb-operator' } }, type: 'Opaque', data };
    try {
      const have = await this.core.readNamespacedSecret({ namespace, name });
      if (have.data?.[SECRET_KEY] === data[SECRET_KEY]) return;
      await this.core.replaceNamespacedSecret({ namespace, name, body: { ...body, metadata: { ...body.metadata, resourceVersion: have.metadata?.resourceVersion } } });
    } catch (e) {
      if (statusCode(e) !== 404) throw e;
      await this.core.createNamespacedSecret({ namespace, body });
    }
  }

  /** The image this process runs, when it runs in a Pod that says who it is (POD_NAME, POD_NAMESPACE). */
  async ownImage(): Promise<string | undefined> {
    const name = process.env.POD_NAME;
    const namespace = process.env.POD_NAMESPACE;
    if (!name || !namespace) return undefined;
    return (await this.get(namespace, name))?.spec?.containers[0]?.image;
  }

  /** Sets labels on a Pod (a JSON merge patch: other labels stay). */
  async label(namespace: string, name: string, labels: Record<string, string>): Promise<void> {
    await this.core.patchNamespacedPod({ namespace, name, body: { metadata: { labels } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
  }

  /** The shared secret kept in a Secret of this namespace; a random one is stored there when absent. */
  async ownSharedSecret(namespace: string, name: string): Promise<string> {
    try {
      const have = await this.core.readNamespacedSecret({ namespace, name });
      const value = have.data?.[SECRET_KEY];
      if (!value) throw new Error(`Secret ${namespace}/${name} has no key "${SECRET_KEY}"`);
      return Buffer.from(value, 'base64').toString('utf8');
    } catch (e) {
      if (statusCode(e) !== 404) throw e;
    }
    const secret = randomBytes(24).toString('base64url');
    try {
      await this.core.createNamespacedSecret({ namespace, body: { metadata: { name, namespace }, type: 'Opaque', stringData: { [SECRET_KEY]: secret } } });
      return secret;
    } catch (e) {
      // Another replica stored one first: theirs stands.
      if (statusCode(e) === 409) return this.ownSharedSecret(namespace, name);
      throw e;
    }
  }

  /** List+watch of every Pod the Pod runtime starts (labelled with a role), in all namespaces or one. */
  source(namespace?: string): ListWatchSource<V1Pod> {
    const labelSelector = ROLE_LABEL;
    const path = namespace ? `/api/v1/namespaces/${namespace}/pods` : '/api/v1/pods';
    return {
      list: async (): Promise<ListResult<V1Pod>> => {
        const list = namespace
          ? await this.core.listNamespacedPod({ namespace, labelSelector })
          : await this.core.listPodForAllNamespaces({ labelSelector });
        return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? '' };
      },
      watch: (resourceVersion, onEvent, onDone) =>
        this.client.watch(path, { resourceVersion, labelSelector }, (type: WatchEventType, obj: unknown) => onEvent(type, obj), onDone),
    };
  }
}
