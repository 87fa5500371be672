/**
 * The Pod runtime: each MiddleboxPool's steering switch and instances are Pods on the cluster's
 * nodes, owned by the pool, created and deleted by the operator one instance at a time (so it
 * chooses which instance leaves, and deletes its Pod only once its state has moved away). Every
 * Pod dials the operator's one controller endpoint and names its pool in its hello; traffic
 * sources send to the switch Pod's address (status.switch.address).
 *
 * A pool whose Pods outlived an operator is adopted: a live switch Pod and instance Pods that
 * reconnect are kept, anything failed or silent is deleted.
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { ControllerServer } from '../engine/controller-server.js';
import { MbController } from '../engine/controller.js';
import type { PoolSessions } from '../engine/pool-sessions.js';
import type { MbSession } from '../engine/session.js';
import { BucketRouter } from '../routing/bucket-router.js';
import type { SwitchSession } from '../routing/switch-session.js';
import type { MbCounters } from '../../shims/protocol/messages.js';
import type { Logger } from '../../shims/log/logger.js';
import type { TlsMaterial } from '../../shims/protocol/tls.js';
import { ensureTlsSecret } from './certificates.js';
import type { KubeClient } from './client.js';
import { PodApi, podFailure, podReady } from './pod-api.js';
import { POOL_LABEL, ROLE_LABEL } from './labels.js';
import { instancePod, type PodContext, SWITCH_PORT, switchPod, switchPodName } from './pods.js';
import { MAX_RETIRED, type EngineSpec, type InstanceRuntime, type PoolEngine, type RuntimeProvider } from './runtime.js';
import { settleInstances } from '../runtime/settle.js';
import { BoundedMap } from './bounded-map.js';

export interface PodRuntimeOptions {
  client: KubeClient;
  /** The operator's controller endpoint, already listening. */
  server: ControllerServer;
  /** host:port at which Pods reach it. */
  controllerAddress: string;
  /** Image of instance and switch Pods when a pool's template names none. */
  image: string;
  secret: string;
  /** Name of the Secret, in each pool's namespace, that holds the shared secret for its Pods. */
  secretName: string;
  /** The controller's TLS material: every pool's Pods get a Secret of the same CA. */
  tls: TlsMaterial;
  /** Name of the kubernetes.io/tls Secret, in each pool's namespace, mounted into its Pods. */
  tlsSecretName: string;
  log: Logger;
  /** How long a Pod may take to become ready (image pull, scheduling). */
  startTimeoutMs?: number;
}

const SWITCH_NAME = 'switch';
/** How long an instance Pod that is still running gets to reconnect to a new operator. */
const ADOPT_MS = 15_000;

class PodPool implements PoolEngine {
  readonly retired = new BoundedMap<string, MbCounters>(MAX_RETIRED);
  readonly controller: MbController;
  readonly router: BucketRouter;
  readonly instances: InstanceRuntime = {
    start: (name) => this.startInstance(name),
    stop: (name) => this.stopInstance(name),
  };

  constructor(readonly spec: EngineSpec, private readonly o: PodRuntimeOptions, private readonly pods: PodApi,
    private readonly sessions: PoolSessions, readonly switchAddress: string, private readonly log: Logger) {
    this.router = new BucketRouter(() => { const s = this.sw(); return s ? [s] : []; }, spec.partitioning);
    this.controller = new MbController(sessions, this.router, log);
  }

  get switchPod(): string {
    return switchPodName(this.spec.resource.metadata.name);
  }

  private get namespace(): string {
    return this.spec.resource.metadata.namespace!;
  }

  private sw(): SwitchSession | undefined {
    const s = this.sessions.switches.get(SWITCH_NAME);
    return s && !s.closed ? s : undefined;
  }

  context(): PodContext {
    return { pool: this.spec.resource, image: this.o.image, controller: this.o.controllerAddress, secretName: this.o.secretName, tlsSecretName: this.o.tlsSecretName };
  }

  session(instance: string): MbSession | undefined {
    return this.sessions.instance(instance);
  }

  private async startInstance(name: string): Promise<void> {
    if (await this.pods.get(this.namespace, name)) await this.pods.delete(this.namespace, name);
    await this.pods.create(instancePod(this.context(), { instance: name, mbType: this.spec.mbType, config: this.spec.config, partitioning: this.spec.partitioning, switchAddress: this.switchAddress }));
    await this.pods.waitReady(this.namespace, name, this.o.startTimeoutMs);
    await this.sessions.waitForInstance(name, 10_000);
    this.log.info({ instance: name }, 'instance Pod ready and connected');
  }

  private async stopInstance(name: string): Promise<void> {
    const last = await this.session(name)?.stats().catch(() => null);
    if (last) this.retired.set(name, last);
    await this.pods.delete(this.namespace, name);
  }

  async settle(instances: string[], timeoutMs = 30_000): Promise<void> {
    await settleInstances(() => this.sw(), () => instances.map((n) => this.session(n)).filter((s): s is MbSession => s !== undefined), { timeoutMs });
  }

  async stop(): Promise<void> {
    const names = await this.podNames();
    await Promise.all(names.map((n) => this.pods.delete(this.namespace, n)));
    this.o.server.dropPool(this.spec.pool);
  }

  async detach(): Promise<void> {
    this.o.server.dropPool(this.spec.pool);
  }

  /** Every Pod of this pool: its instances and its switch. */
  private async podNames(): Promise<string[]> {
    const list = await this.o.client.core.listNamespacedPod({ namespace: this.namespace, labelSelector: `${POOL_LABEL}=${this.spec.resource.metadata.name}` });
    return [...list.items.map((p) => p.metadata!.name!), switchPodName(this.spec.resource.metadata.name)];
  }

  /** Keeps the instance Pods of this pool that are alive and reconnect; deletes the rest. */
  async adoptInstances(): Promise<string[]> {
    const list = await this.o.client.core.listNamespacedPod({ namespace: this.namespace, labelSelector: `${POOL_LABEL}=${this.spec.resource.metadata.name},${ROLE_LABEL}=instance` });
    const kept: string[] = [];
    await Promise.all(list.items.map(async (p: V1Pod) => {
      const name = p.metadata!.name!;
      const alive = !p.metadata?.deletionTimestamp && podFailure(p) === null && podReady(p);
      if (alive && await this.sessions.waitForInstance(name, ADOPT_MS).then(() => true, () => false)) {
        kept.push(name);
        return;
      }
      this.log.warn({ instance: name }, 'deleting an instance Pod left by an earlier operator that is not serving');
      await this.pods.delete(this.namespace, name);
    }));
    return kept.sort();
  }
}

export class PodRuntime implements RuntimeProvider {
  readonly name = 'pod';
  private readonly pods: PodApi;

  constructor(private readonly o: PodRuntimeOptions) {
    this.pods = new PodApi(o.client);
  }

  podSource(namespace?: string) {
    return this.pods.source(namespace);
  }

  async open(spec: EngineSpec): Promise<PoolEngine> {
    const ns = spec.resource.metadata.namespace!;
    const log = this.o.log.child({ pool: spec.pool });
    await this.pods.ensureSharedSecret(ns, this.o.secretName, this.o.secret);
    await ensureTlsSecret(this.o.client, ns, this.o.tlsSecretName, this.o.tls);
    const sessions = this.o.server.pool(spec.pool);
    const ctx: PodContext = { pool: spec.resource, image: this.o.image, controller: this.o.controllerAddress, secretName: this.o.secretName, tlsSecretName: this.o.tlsSecretName };
    const name = switchPodName(spec.resource.metadata.name);
    let pod = await this.pods.get(ns, name);
    if (pod && (pod.metadata?.deletionTimestamp || podFailure(pod) !== null)) {
      await this.pods.delete(ns, name);
      pod = null;
    }
    if (!pod) {
      await this.pods.create(switchPod(ctx));
      log.info({ pod: name }, 'switch Pod created');
    }
    pod = await this.pods.waitReady(ns, name, this.o.startTimeoutMs);
    await sessions.waitForSwitch(SWITCH_NAME, 15_000);
    const ip = pod.status?.podIP;
    if (!ip) throw new Error(`switch Pod ${ns}/${name} is ready but has no Pod IP`);
    const engine = new PodPool(spec, this.o, this.pods, sessions, `${ip}:${SWITCH_PORT}`, log);
    const adopted = await engine.adoptInstances();
    if (adopted.length > 0) {
      await engine.router.learn();
      log.info({ instances: adopted }, 'adopted the instance Pods of an earlier operator');
    }
    return engine;
  }
}
