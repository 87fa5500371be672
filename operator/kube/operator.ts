/**
 * The operator: after winning leader election (optional), informers on MiddleboxPools and
 * StateOperations feed one work queue each; workers reconcile (one reconcile at a time per
 * object, failures retried with exponential backoff); a small HTTP endpoint serves health,
 * metrics and pool outputs, and an HTTPS one the custom metrics API (both start before the
 * election, on every replica). A sampler polls the instances' load for both. stop() ends it all
 * but the pools' data planes, which keep running for the next operator to adopt.
 */
import type { Server } from 'node:http';
import { performance } from 'node:perf_hooks';
import { mkdirSync } from 'node:fs';
import { MIDDLEBOX_POOL, STATE_OPERATION, type MiddleboxPool, type StateOperation } from '../api/types.js';
import type { Logger } from '../../shims/log/logger.js';
import { apiMessage, type KubeClient } from './client.js';
import { serveHttp } from './http.js';
import { Informer, objectKey } from './informer.js';
import { LeaderElector, type LeaderOptions } from './leader.js';
import { OperationReconciler } from './operation-reconciler.js';
import { PoolReconciler } from './pool-reconciler.js';
import { PoolRegistry } from './pool-registry.js';
import { runWorkers, WorkQueue } from './queue.js';
import type { RuntimeProvider } from './runtime.js';
import { PatchStrategy, setHeaderOptions, type V1Pod } from '@kubernetes/client-node';
import { LEADER_LABEL, POOL_LABEL, SWITCH_OF_LABEL } from './labels.js';
import { PodApi, podReady } from './pod-api.js';
import { LoadSampler, registryPools } from './load.js';
import { operatorMetrics } from './metrics.js';
import { serveCustomMetrics, type FrontProxyTrust } from './custom-metrics/server.js';
import { clusterSources } from './custom-metrics/sources.js';
import { serveAdmission } from './admission/server.js';
import { publishWebhookCa } from './admission/ca-bundle.js';
import { checkConfig } from '../runtime/check-config.js';
import { describeMiddlebox } from '../runtime/describe.js';

export interface OperatorOptions {
  client: KubeClient;
  runtime: RuntimeProvider;
  log: Logger;
  /** Logs of pool processes and drained outputs go here. */
  stateDir: string;
  /** Watch one namespace only (default: all). */
  namespace?: string;
  /** host:port for the HTTP endpoint; none when absent. */
  http?: { host: string; port: number };
  /** The shared secret: the HTTP endpoint's bearer token for pool outputs. */
  secret: string;
  leader?: LeaderOptions;
  workers?: number;
  /** Serve the custom metrics API over HTTPS here, for the aggregation layer. */
  metricsApi?: { host: string; port: number; serving: { ca: string; cert: string; key: string }; trust: FrontProxyTrust };
  /** The APIService whose caBundle the leader sets to the metrics API's serving CA. */
  apiService?: string;
  /** Serve the validating admission webhook for MiddleboxPools over HTTPS here. */
  webhook?: { host: string; port: number; serving: { ca: string; cert: string; key: string } };
  /** The ValidatingWebhookConfiguration whose caBundle the leader sets to the webhook's serving CA. */
  webhookConfiguration?: string;
}

export class Operator {
  readonly registry = new PoolRegistry();
  private readonly poolQueue = new WorkQueue<string>();
  private readonly opQueue = new WorkQueue<string>();
  private pools!: Informer<MiddleboxPool>;
  private ops!: Informer<StateOperation>;
  private podInformer: Informer<V1Pod> | null = null;
  private server: Server | null = null;
  private metricsApiServer: Server | null = null;
  private webhookServer: Server | null = null;
  /** Set once this replica reconciles (it leads, or runs without election). */
  private leading = false;
  readonly load = new LoadSampler(registryPools(this.registry));
  private elector: LeaderElector | null = null;
  private synced = false;

  /** Ready: a standby as soon as it serves (it waits for the lease), a leader once its informers synced. */
  private get ready(): boolean {
    return !this.leading || this.synced;
  }
  private running: Promise<unknown>[] = [];
  httpAddress: string | null = null;
  metricsApiAddress: string | null = null;
  webhookAddress: string | null = null;

  constructor(private readonly o: OperatorOptions) {}

  async start(onLostLeadership: () => void): Promise<void> {
    const { client, log } = this.o;
    mkdirSync(this.o.stateDir, { recursive: true });
    const leading = () => this.leading && (this.elector?.isLeader ?? true);
    operatorMetrics.attach({ load: this.load, queues: { pools: this.poolQueue, operations: this.opQueue }, leading });
    if (this.o.http) {
      const { server, address } = await serveHttp({ ...this.o.http, registry: this.registry, ready: () => this.ready, log, secret: this.o.secret, metrics: operatorMetrics.collector });
      this.server = server;
      this.httpAddress = address;
      log.info({ http: address }, 'serving /healthz, /metrics and /pools');
    }
    if (this.o.metricsApi) {
      const sources = clusterSources(client, { leading, load: this.load, cachedPool: (key) => (this.synced ? this.pools.get(key) !== undefined : undefined) });
      const { server, address } = await serveCustomMetrics({ ...this.o.metricsApi, sources, log: log.child({ component: 'custom-metrics' }) });
      this.metricsApiServer = server;
      this.metricsApiAddress = address;
      log.info({ metricsApi: address }, 'serving the custom metrics API (custom.metrics.k8s.io/v1beta2) over HTTPS');
    }
    if (this.o.webhook) {
      const validator = { check: checkConfig, partitionKeyOf: async (type: string) => (await describeMiddlebox(type)).partitionKey };
      const { server, address } = await serveAdmission({ ...this.o.webhook, validator, log: log.child({ component: 'webhook' }) });
      this.webhookServer = server;
      this.webhookAddress = address;
      log.info({ webhook: address }, 'serving the MiddleboxPool validating webhook over HTTPS');
    }
    if (this.o.leader) {
      this.elector = new LeaderElector(client, this.o.leader, log);
      await this.elector.acquire(onLostLeadership);
    }
    await this.markLeaderPod();
    await this.publishWebhookCaBundle();
    await this.publishCaBundle();
    this.leading = true;
    this.pools = new Informer<MiddleboxPool>('middleboxpools', client.source<MiddleboxPool>(MIDDLEBOX_POOL.plural, this.o.namespace), log);
    this.ops = new Informer<StateOperation>('stateoperations', client.source<StateOperation>(STATE_OPERATION.plural, this.o.namespace), log);
    this.pools.on({
      add: (p) => this.poolQueue.add(objectKey(p)),
      // Status writes (ours) do not need a reconcile; spec, deletion and finalizer changes do.
      update: (a, b) => {
        const m = (x: MiddleboxPool) => JSON.stringify([x.metadata.generation, x.metadata.deletionTimestamp ?? null, x.metadata.finalizers ?? [], x.metadata.annotations ?? {}]);
        if (m(a) !== m(b)) this.poolQueue.add(objectKey(b));
      },
      delete: (p) => this.poolQueue.add(objectKey(p)),
    });
    this.ops.on({
      add: (op) => { if (OperationReconciler.isUsers(op)) this.opQueue.add(objectKey(op)); },
      update: (_a, op) => { if (OperationReconciler.isUsers(op)) this.opQueue.add(objectKey(op)); },
    });
    const podSource = this.o.runtime.podSource?.(this.o.namespace);
    if (podSource) {
      // A Pod that is deleted, fails or changes readiness requeues its pool at once (failover).
      this.podInformer = new Informer<V1Pod>('pods', podSource, log);
      const poolOf = (p: V1Pod) => {
        const name = p.metadata?.labels?.[POOL_LABEL] ?? p.metadata?.labels?.[SWITCH_OF_LABEL];
        if (name) this.poolQueue.add(`${p.metadata?.namespace}/${name}`);
      };
      const state = (p: V1Pod) => JSON.stringify([p.status?.phase, podReady(p), p.metadata?.deletionTimestamp ?? null]);
      this.podInformer.on({ update: (a, b) => { if (state(a) !== state(b)) poolOf(b); }, delete: poolOf });
      this.running.push(this.podInformer.run());
      await this.podInformer.synced;
    }
    const poolReconciler = new PoolReconciler(client, this.pools, this.ops, this.o.runtime, this.registry, log.child({ reconciler: 'pool' }), this.o.stateDir);
    const opReconciler = new OperationReconciler(client, this.pools, this.ops, this.registry, log.child({ reconciler: 'operation' }), (k) => this.poolQueue.add(k));
    this.running.push(this.pools.run(), this.ops.run());
    await Promise.all([this.pools.synced, this.ops.synced]);
    this.synced = true;
    log.info({ pools: this.pools.list().length, operations: this.ops.list().length, runtime: this.o.runtime.name }, 'informers synced; reconciling');
    const workers = this.o.workers ?? 4;
    const onError = (what: string, queue: string) => (key: string, err: Error, retryInMs: number) => {
      operatorMetrics.retried(queue);
      log.warn({ [what]: key, err: apiMessage(err), retryInMs }, 'reconcile failed; will retry');
    };
    const timed = <R>(controller: string, reconcile: (key: string) => Promise<R>) => async (key: string): Promise<R> => {
      const start = performance.now();
      let ok = false;
      try {
        const r = await reconcile(key);
        ok = true;
        return r;
      } finally {
        operatorMetrics.reconciled(controller, (performance.now() - start) / 1000, ok);
      }
    };
    this.load.start();
    this.running.push(
      runWorkers(this.poolQueue, workers, timed('pool', (k) => poolReconciler.reconcile(k)), onError('pool', 'pools')),
      runWorkers(this.opQueue, workers, timed('operation', (k) => opReconciler.reconcile(k)), onError('operation', 'operations')),
    );
  }

  /**
   * In a cluster, the leader labels its own Pod LEADER_LABEL: the controller Service selects that
   * label, so instances and switches reach the replica that runs their pools, never the standby.
   * A replica that loses the lease exits, and its label goes with its Pod.
   */
  private async markLeaderPod(): Promise<void> {
    const name = process.env.POD_NAME;
    const namespace = process.env.POD_NAMESPACE;
    if (!name || !namespace) return;
    await new PodApi(this.o.client).label(namespace, name, { [LEADER_LABEL]: 'true' });
    this.o.log.info({ pod: `${namespace}/${name}`, label: LEADER_LABEL }, 'labelled this Pod as the leader');
  }

  /**
   * The API server trusts the metrics API by the APIService's caBundle: the leader, whose metrics
   * API the Service routes to, sets it to the CA of its own serving certificate.
   */
  private async publishCaBundle(): Promise<void> {
    const name = this.o.apiService;
    const ca = this.o.metricsApi?.serving.ca;
    if (!name || !ca) return;
    await this.o.client.apiRegistration.patchAPIService({ name, body: { spec: { caBundle: Buffer.from(ca).toString('base64') } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    this.o.log.info({ apiService: name }, 'set the APIService\'s caBundle to the metrics API\'s serving CA');
  }

  /** As the APIService's: the webhook's configuration trusts the leader's serving CA. */
  private async publishWebhookCaBundle(): Promise<void> {
    const name = this.o.webhookConfiguration;
    const ca = this.o.webhook?.serving.ca;
    if (!name || !ca) return;
    const n = await publishWebhookCa(this.o.client, name, ca);
    this.o.log.info({ webhookConfiguration: name, webhooks: n }, 'set the webhook configuration\'s caBundle to the webhook\'s serving CA');
  }

  async stop(): Promise<void> {
    this.poolQueue.shutDown();
    this.opQueue.shutDown();
    this.pools?.stop();
    this.ops?.stop();
    this.podInformer?.stop();
    this.load.stop();
    this.leading = false;
    this.server?.close();
    this.metricsApiServer?.close();
    this.webhookServer?.close();
    await this.registry.stopAll();
    await this.elector?.release();
  }
}
