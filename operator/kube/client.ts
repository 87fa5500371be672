/**
 * The operator's view of the API server: a KubeConfig (from --kubeconfig, $KUBECONFIG,
 * ~/.kube/config or the in-cluster service account), and typed helpers for the two CRDs —
 * list+watch sources for the informers, server-side apply of objects and of /status with one
 * field manager, and Events.
 */
import { hostname } from 'node:os';
import {
  AdmissionregistrationV1Api, ApiException, ApiregistrationV1Api, CoordinationV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, PatchStrategy, Watch, setHeaderOptions,
} from '@kubernetes/client-node';
import {
  API_VERSION, GROUP, MIDDLEBOX_POOL, STATE_OPERATION, VERSION,
  type MiddleboxPool, type MiddleboxPoolStatus, type ObjectMeta, type StateOperation, type StateOperationStatus,
} from '../api/types.js';
import type { KubeObject, ListResult, ListWatchSource, WatchEventType } from './informer.js';

export const FIELD_MANAGER = 'openmb-operator';

type Plural = typeof MIDDLEBOX_POOL.plural | typeof STATE_OPERATION.plural;

const APPLY = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);
const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export function loadKubeConfig(file?: string): KubeConfig {
  const kc = new KubeConfig();
  if (file) kc.loadFromFile(file);
  else kc.loadFromDefault(); // $KUBECONFIG, ~/.kube/config, else in-cluster
  if (!kc.getCurrentCluster()) throw new Error('no Kubernetes cluster configured (set --kubeconfig or $KUBECONFIG)');
  return kc;
}

/** The HTTP status of a failed API call, if it was one. */
export function statusCode(e: unknown): number | undefined {
  if (e instanceof ApiException) return e.code;
  const x = e as { code?: unknown; statusCode?: unknown } | null;
  if (typeof x?.code === 'number') return x.code;
  if (typeof x?.statusCode === 'number') return x.statusCode;
  return undefined;
}

/** A readable message for a failed API call (the server's Status message when there is one). */
export function apiMessage(e: unknown): string {
  if (e instanceof ApiException) {
    try {
      const body = typeof e.body === 'string' ? JSON.parse(e.body) as { message?: string } : e.body as { message?: string };
      if (body?.message) return `${e.code}: ${body.message}`;
    } catch {
      // not JSON
    }
    return `HTTP ${e.code}`;
  }
  return (e as Error).message;
}

export interface EventSpec {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  action?: string;
}

export class KubeClient {
  readonly custom: CustomObjectsApi;
  readonly core: CoreV1Api;
  readonly coordination: CoordinationV1Api;
  readonly apiRegistration: ApiregistrationV1Api;
  readonly admissionRegistration: AdmissionregistrationV1Api;
  private readonly watcher: Watch;
  readonly identity = `${hostname()}-${process.pid}`;

  constructor(readonly kc: KubeConfig) {
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.core = kc.makeApiClient(CoreV1Api);
    this.coordination = kc.makeApiClient(CoordinationV1Api);
    this.apiRegistration = kc.makeApiClient(ApiregistrationV1Api);
    this.admissionRegistration = kc.makeApiClient(AdmissionregistrationV1Api);
    this.watcher = new Watch(kc);
  }

  /** List+watch of one CRD in every namespace (or one), for an informer. */
  source<T extends KubeObject>(plural: Plural, namespace?: string): ListWatchSource<T> {
    const path = namespace ? `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${plural}` : `/apis/${GROUP}/${VERSION}/${plural}`;
    return {
      list: async (): Promise<ListResult<T>> => {
        const list = (namespace
          ? await this.custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural })
          : await this.custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural })) as { items: T[]; metadata?: { resourceVersion?: string } };
        return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? '' };
      },
      watch: (resourceVersion, onEvent, onDone) => this.watch(path, { resourceVersion }, onEvent, onDone),
    };
  }

  /**
   * Starts a watch of any path, with bookmarks. The server ends it after a while, randomized so
   * watchers do not all relist at once.
   */
  async watch(path: string, query: Record<string, string>, onEvent: (type: WatchEventType, obj: unknown) => void, onDone: (err?: unknown) => void): Promise<{ abort(): void }> {
    const timeoutSeconds = 240 + Math.floor(Math.random() * 120);
    const ctl = await this.watcher.watch(path, { ...query, allowWatchBookmarks: true, timeoutSeconds },
      (type: string, obj: unknown) => onEvent(type as WatchEventType, obj), onDone);
    return { abort: () => ctl.abort() };
  }

  async getPool(namespace: string, name: string): Promise<MiddleboxPool | null> {
    return this.get<MiddleboxPool>(MIDDLEBOX_POOL.plural, namespace, name);
  }

  async getOperation(namespace: string, name: string): Promise<StateOperation | null> {
    return this.get<StateOperation>(STATE_OPERATION.plural, namespace, name);
  }

  private async get<T>(plural: Plural, namespace: string, name: string): Promise<T | null> {
    try {
      return await this.custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural, name }) as T;
    } catch (e) {
      if (statusCode(e) === 404) return null;
      throw e;
    }
  }

  /**
   * Server-side apply of the fields we own on a pool's metadata (our finalizer, our annotations):
   * the user's fields are left alone, and a field we stop sending is removed.
   */
  async applyPoolMetadata(namespace: string, name: string, meta: Pick<ObjectMeta, 'finalizers' | 'annotations'>): Promise<MiddleboxPool> {
    const body = { apiVersion: API_VERSION, kind: MIDDLEBOX_POOL.kind, metadata: { name, namespace, ...meta } };
    return await this.custom.patchNamespacedCustomObject(
      { group: GROUP, version: VERSION, namespace, plural: MIDDLEBOX_POOL.plural, name, body, fieldManager: FIELD_MANAGER, force: true }, APPLY) as MiddleboxPool;
  }

  /**
   * Removes our finalizer, whoever added it, leaving any other: a JSON merge patch of the list,
   * guarded by the resourceVersion it was computed from, retried on a conflict.
   */
  async removePoolFinalizer(namespace: string, name: string, finalizer: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const pool = await this.getPool(namespace, name);
      if (!pool || !(pool.metadata.finalizers ?? []).includes(finalizer)) return;
      try {
        await this.custom.patchNamespacedCustomObject({
          group: GROUP, version: VERSION, namespace, plural: MIDDLEBOX_POOL.plural, name,
          body: { metadata: { finalizers: pool.metadata.finalizers!.filter((f) => f !== finalizer), resourceVersion: pool.metadata.resourceVersion } },
        }, MERGE);
        return;
      } catch (e) {
        if (statusCode(e) === 404) return;
        if (statusCode(e) !== 409 || attempt >= 4) throw e;
      }
    }
  }

  async applyPoolStatus(namespace: string, name: string, status: MiddleboxPoolStatus): Promise<MiddleboxPool> {
    const body = { apiVersion: API_VERSION, kind: MIDDLEBOX_POOL.kind, metadata: { name, namespace }, status };
    return await this.custom.patchNamespacedCustomObjectStatus(
      { group: GROUP, version: VERSION, namespace, plural: MIDDLEBOX_POOL.plural, name, body, fieldManager: FIELD_MANAGER, force: true }, APPLY) as MiddleboxPool;
  }

  /** Creates or updates a StateOperation we own (metadata and spec), by server-side apply. */
  async applyOperation(op: Omit<StateOperation, 'status'>): Promise<StateOperation> {
    const ns = op.metadata.namespace!;
    return await this.custom.patchNamespacedCustomObject(
      { group: GROUP, version: VERSION, namespace: ns, plural: STATE_OPERATION.plural, name: op.metadata.name, body: op, fieldManager: FIELD_MANAGER, force: true }, APPLY) as StateOperation;
  }

  /** Adds an owner reference to a StateOperation someone else created (adoption by its pool). */
  async applyOperationOwner(namespace: string, name: string, owner: NonNullable<ObjectMeta['ownerReferences']>[number]): Promise<void> {
    const body = { apiVersion: API_VERSION, kind: STATE_OPERATION.kind, metadata: { name, namespace, ownerReferences: [owner] } };
    await this.custom.patchNamespacedCustomObject(
      { group: GROUP, version: VERSION, namespace, plural: STATE_OPERATION.plural, name, body, fieldManager: FIELD_MANAGER, force: true }, APPLY);
  }

  async applyOperationStatus(namespace: string, name: string, status: StateOperationStatus): Promise<void> {
    const body = { apiVersion: API_VERSION, kind: STATE_OPERATION.kind, metadata: { name, namespace }, status };
    await this.custom.patchNamespacedCustomObjectStatus(
      { group: GROUP, version: VERSION, namespace, plural: STATE_OPERATION.plural, name, body, fieldManager: FIELD_MANAGER, force: true }, APPLY);
  }

  /** Records a core/v1 Event about an object (shown by `kubectl describe` and `kubectl get events`). */
  async event(obj: { kind: string; metadata: ObjectMeta }, e: EventSpec): Promise<void> {
    const now = new Date();
    await this.core.createNamespacedEvent({
      namespace: obj.metadata.namespace!,
      body: {
        metadata: { generateName: `${obj.metadata.name}.`, namespace: obj.metadata.namespace },
        involvedObject: {
          apiVersion: API_VERSION, kind: obj.kind, name: obj.metadata.name, namespace: obj.metadata.namespace,
          uid: obj.metadata.uid, resourceVersion: obj.metadata.resourceVersion,
        },
        type: e.type, reason: e.reason, message: e.message, action: e.action ?? e.reason,
        firstTimestamp: now, lastTimestamp: now, count: 1,
        source: { component: FIELD_MANAGER }, reportingComponent: `${GROUP}/operator`, reportingInstance: this.identity,
      },
    });
  }
}
