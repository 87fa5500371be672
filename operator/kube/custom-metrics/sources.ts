/** The custom metrics API's sources in a cluster: Pods and pools as the API server has them, load as the operator samples it. */
import type { V1Pod } from '@kubernetes/client-node';
import { statusCode, type KubeClient } from '../client.js';
import type { LoadSampler } from '../load.js';
import type { MetricSources, PodRef } from './handler.js';

const podRef = (p: V1Pod): PodRef => ({ name: p.metadata?.name ?? '', labels: p.metadata?.labels ?? {} });

export interface ClusterSourceOptions {
  leading: () => boolean;
  /** Whether the informer's cache has the pool, or undefined before it has synced (then the API server is asked). */
  cachedPool: (key: string) => boolean | undefined;
  load: LoadSampler;
}

export function clusterSources(client: KubeClient, o: ClusterSourceOptions): MetricSources {
  return {
    leading: o.leading,
    load: o.load,
    poolExists: async (namespace, name) => o.cachedPool(`${namespace}/${name}`) ?? (await client.getPool(namespace, name)) !== null,
    listPods: async (namespace, labelSelector) => (await client.core.listNamespacedPod({ namespace, ...(labelSelector ? { labelSelector } : {}) })).items.map(podRef),
    getPod: async (namespace, name) => {
      try {
        return podRef(await client.core.readNamespacedPod({ namespace, name }));
      } catch (e) {
        if (statusCode(e) === 404) return null;
        throw e;
      }
    },
  };
}
