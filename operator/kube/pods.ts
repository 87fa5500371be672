/**
 * The Pods of a pool under the Pod runtime, as plain objects (no I/O): one per middlebox
 * instance and one for the pool's steering switch. Both run the one openmb image, as a non-root
 * user on a read-only root filesystem, with probes on /healthz and /readyz. Every Pod is owned
 * by its pool (garbage-collected with it). Instance Pods carry the pool's selector labels;
 * the switch Pod does not, so the scale subresource's selector counts instances only.
 */
import type { V1Affinity, V1Container, V1Pod, V1ResourceRequirements, V1Volume } from '@kubernetes/client-node';
import { DEFAULTS, type MiddleboxPool, type PodTemplateSpec } from '../api/types.js';
import type { Partitioning } from '../routing/bucket-router.js';
import { INSTANCE_LABEL, POOL_LABEL, ROLE_LABEL, SWITCH_OF_LABEL } from './labels.js';
import { ownerReference } from './operations.js';

export const SWITCH_PORT = 7000;
/** Where an instance Pod listens for the state its peers put straight into it (a direct transfer). */
export const PEER_PORT = 7300;
export const PROBE_PORT = 8081;
/** Where the shared secret Secret is read from, in each Pod's environment. */
export const SECRET_KEY = 'secret';
const NON_ROOT_UID = 65532;
/** Where the TLS Secret is mounted in every Pod. */
export const TLS_MOUNT = '/etc/openmb/tls';

export interface PodContext {
  pool: MiddleboxPool;
  /** The image when the pool's template names none. */
  image: string;
  /** host:port at which Pods reach the MB controller. */
  controller: string;
  /** Name of the Secret (in the pool's namespace) holding the shared secret under SECRET_KEY. */
  secretName: string;
  /** Name of the kubernetes.io/tls Secret (in the pool's namespace) every channel's TLS comes from. */
  tlsSecretName: string;
}

export const switchPodName = (pool: string) => `${pool}-switch`;

function container(c: PodContext, name: string, args: string[], t: PodTemplateSpec): V1Container {
  return {
    name,
    image: t.image ?? c.image,
    imagePullPolicy: t.imagePullPolicy ?? DEFAULTS.imagePullPolicy,
    args: [...args, '--probes', `0.0.0.0:${PROBE_PORT}`, '--tls-dir', TLS_MOUNT],
    env: [
      { name: 'OPENMB_SECRET', valueFrom: { secretKeyRef: { name: c.secretName, key: SECRET_KEY } } },
      { name: 'NODE_OPTIONS', value: '--max-old-space-size=512' },
    ],
    ports: [{ name: 'probes', containerPort: PROBE_PORT }],
    readinessProbe: { httpGet: { path: '/readyz', port: PROBE_PORT }, periodSeconds: 1, failureThreshold: 3 },
    livenessProbe: { httpGet: { path: '/healthz', port: PROBE_PORT }, initialDelaySeconds: 5, periodSeconds: 10, failureThreshold: 3 },
    securityContext: {
      runAsNonRoot: true, runAsUser: NON_ROOT_UID, runAsGroup: NON_ROOT_UID, readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] },
    },
    volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }, { name: 'tls', mountPath: TLS_MOUNT, readOnly: true }],
  };
}

function pod(c: PodContext, name: string, labels: Record<string, string>, main: V1Container, t: PodTemplateSpec): V1Pod {
  const volumes: V1Volume[] = [{ name: 'tmp', emptyDir: { sizeLimit: '64Mi' } }, { name: 'tls', secret: { secretName: c.tlsSecretName } }];
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: c.pool.metadata.namespace, labels, ownerReferences: [ownerReference(c.pool)] },
    spec: {
      containers: [main],
      volumes,
      // A crashed instance's state is gone: it must not come back under its old name as if nothing
      // happened. The operator sees the Pod fail, fails its buckets over and starts a new instance.
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      terminationGracePeriodSeconds: 5,
      securityContext: { runAsNonRoot: true, runAsUser: NON_ROOT_UID, fsGroup: NON_ROOT_UID },
      ...(t.nodeSelector ? { nodeSelector: t.nodeSelector } : {}),
      ...(t.tolerations ? { tolerations: t.tolerations } : {}),
      ...(t.affinity ? { affinity: t.affinity as V1Affinity } : {}),
    },
  };
}

/** Quantities as the core API types them (strings); a schema-valid integer is the same quantity. */
function resources(r: NonNullable<PodTemplateSpec['resources']>): V1ResourceRequirements {
  const text = (m?: Record<string, string | number>) => (m ? Object.fromEntries(Object.entries(m).map(([k, v]) => [k, String(v)])) : undefined);
  return { ...(r.limits ? { limits: text(r.limits) } : {}), ...(r.requests ? { requests: text(r.requests) } : {}) };
}

/** `partitioning`: the pool's, for middleboxes that derive configuration from it (a NAT's port classes). */
export function instancePod(c: PodContext, o: { instance: string; mbType: string; config: Record<string, unknown>; partitioning: Partitioning; switchAddress: string }): V1Pod {
  const t = c.pool.spec.template ?? {};
  const name = c.pool.metadata.name;
  const args = ['mb', '--type', o.mbType, '--instance', o.instance, '--pool', `${c.pool.metadata.namespace}/${name}`,
    '--controller', c.controller, '--switch', o.switchAddress, '--config', JSON.stringify(o.config), '--partitioning', JSON.stringify(o.partitioning),
    '--peer-listen', `0.0.0.0:${PEER_PORT}`, '--peer-advertise', `$(POD_IP):${PEER_PORT}`];
  const main = container(c, 'middlebox', args, t);
  // The kubelet expands $(POD_IP) in the arguments from this variable.
  main.env!.push({ name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } });
  main.ports!.push({ name: 'peers', containerPort: PEER_PORT });
  if (t.resources) main.resources = resources(t.resources);
  return pod(c, o.instance, { [POOL_LABEL]: name, [ROLE_LABEL]: 'instance', [INSTANCE_LABEL]: o.instance }, main, t);
}

export function switchPod(c: PodContext): V1Pod {
  const t = c.pool.spec.template ?? {};
  const name = c.pool.metadata.name;
  const args = ['switch', '--listen', `0.0.0.0:${SWITCH_PORT}`, '--name', 'switch', '--pool', `${c.pool.metadata.namespace}/${name}`,
    '--controller', c.controller];
  const main = container(c, 'switch', args, t);
  main.ports!.push({ name: 'packets', containerPort: SWITCH_PORT });
  return pod(c, switchPodName(name), { [SWITCH_OF_LABEL]: name, [ROLE_LABEL]: 'switch' }, main, t);
}
