/** `openmb operator`: the Kubernetes operator (reconciles MiddleboxPools and StateOperations). */
import { Command, InvalidArgumentError, Option } from 'commander';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { loadSecret, SECRET_ENV } from '../../shims/protocol/auth.js';
import { PodApi } from './pod-api.js';
import { createLogger } from '../../shims/log/logger.js';
import { KubeClient, loadKubeConfig } from './client.js';
import { Operator } from './operator.js';
import { ProcessRuntime } from './process-runtime.js';
import { PodRuntime } from './pod-runtime.js';
import type { RuntimeProvider } from './runtime.js';
import { ControllerServer } from '../engine/controller-server.js';
import { formatAddress } from '../../shims/protocol/address.js';
import { tlsFromOption } from '../../shims/protocol/tls.js';
import { ensureTlsSecret } from './certificates.js';
import { frontProxyTrust, servingCertificate } from './custom-metrics/trust.js';

function hostPortOf(flag: string, example: string) {
  return (v: string): { host: string; port: number } => {
    const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(v);
    const port = m ? Number(m[3]) : NaN;
    if (!m || port > 65535) throw new InvalidArgumentError(`${flag} must be HOST:PORT (e.g. ${example}), got "${v}"`);
    return { host: m[1] ?? m[2], port };
  };
}
const hostPort = hostPortOf('--http', '127.0.0.1:8080');
/** A positive number of seconds; whole for the Lease's leaseDurationSeconds, an integer field. */
const seconds = (flag: string, whole = false) => (v: string) => {
  const n = Number(v);
  if (!(n > 0) || (whole && !Number.isInteger(n))) throw new InvalidArgumentError(`${flag} must be a ${whole ? 'whole ' : ''}number of seconds > 0, got "${v}"`);
  return n;
};
const commaList = (v: string) => v.split(',').map((x) => x.trim()).filter((x) => x.length > 0);

/** In a cluster (a service account's environment) Pods are the default; elsewhere local processes. */
const inCluster = () => process.env.KUBERNETES_SERVICE_HOST !== undefined;

export function operatorCommand(): Command {
  return new Command('operator')
    .description('run the Kubernetes operator: reconcile MiddleboxPools (scale, with each step a StateOperation) and user StateOperations')
    .addOption(new Option('--runtime <runtime>', 'where switches and instances run: pod = Pods owned by each pool; process = local processes started by the operator, '
      + 'which outlive it and are adopted by the next operator on the same --state-dir (no kubelet needed)')
      .choices(['pod', 'process']).default(inCluster() ? 'pod' : 'process', 'pod in a cluster, else process'))
    .option('--controller-listen <host:port>', 'pod runtime: where the MB controller accepts instances and switches', hostPortOf('--controller-listen', '0.0.0.0:7100'), { host: '0.0.0.0', port: 7100 })
    .option('--controller-address <host:port>', 'pod runtime: the address Pods dial to reach the controller (a Service, or the node\'s address) (default: $OPENMB_CONTROLLER_ADDRESS)')
    .option('--image <image>', 'pod runtime: image of switch and instance Pods when a pool\'s spec.template names none (default: $OPENMB_IMAGE, else the operator\'s own image in a cluster, else openmb:dev)')
    .option('--tls-dir <dir>', 'pod runtime: the operator\'s TLS material, a directory with ca.crt, tls.crt and tls.key (a mounted kubernetes.io/tls Secret; '
      + 'the certificate must name DNS:openmb) (default: $OPENMB_TLS_DIR, else the Secret --tls-secret in --lease-namespace, made when absent)')
    .option('--tls-secret <name>', 'pod runtime: the kubernetes.io/tls Secret, in each pool\'s namespace, mounted into its Pods (made from the operator\'s CA when absent)', 'openmb-tls')
    .option('--pod-secret <name>', 'pod runtime: the Secret, in each pool\'s namespace, that gives its Pods the shared secret (created and kept current by the operator)', 'openmb-shared-secret')
    .option('--kubeconfig <file>', 'kubeconfig to use (default: $KUBECONFIG, ~/.kube/config, or in-cluster)')
    .option('--secret-file <path>', 'file holding the shared secret of switches, instances and traffic sources (default: $OPENMB_SECRET; pod runtime: else the Secret --pod-secret in --lease-namespace, made when absent)')
    .option('--namespace <ns>', 'watch only this namespace (default: all)')
    .option('--http <host:port>', 'serve /healthz and /metrics (open) and /pools/NAMESPACE/NAME/outputs (needs "Authorization: Bearer SECRET") here', hostPort)
    .option('--metrics-api <host:port>', 'serve the custom metrics API (custom.metrics.k8s.io/v1beta2: packets_per_second of pools and instance Pods, for an HPA) over HTTPS here, '
      + 'for the API server\'s aggregation layer', hostPortOf('--metrics-api', '0.0.0.0:6443'))
    .option('--metrics-apiservice <name>', 'the APIService (e.g. v1beta2.custom.metrics.k8s.io) whose caBundle the leader sets to the metrics API\'s serving CA')
    .option('--metrics-api-tls-dir <dir>', 'the metrics API\'s serving certificate: tls.crt and tls.key (a mounted kubernetes.io/tls Secret); when absent, a CA and certificate are made '
      + 'and written there, and ca.crt is the APIService\'s caBundle (default: STATE_DIR/metrics-api)')
    .option('--metrics-api-names <names>', 'DNS names and IPs, comma-separated, a made serving certificate carries besides localhost and 127.0.0.1 '
      + '(the Service\'s NAME.NAMESPACE.svc, which the aggregator checks)', commaList, [])
    .option('--requestheader-client-ca-file <file>', 'the CA of the aggregation layer\'s front-proxy client certificate; only callers with a certificate it signed are answered '
      + '(default: from ConfigMap kube-system/extension-apiserver-authentication)')
    .option('--requestheader-allowed-names <names>', 'CNs of that certificate accepted, comma-separated (default: as the ConfigMap says; none: any it signed)', commaList)
    .option('--webhook <host:port>', 'serve the validating admission webhook for MiddleboxPools (spec.middlebox.config checked by the middlebox\'s own validator) over HTTPS here',
      hostPortOf('--webhook', '0.0.0.0:9443'))
    .option('--webhook-configuration <name>', 'the ValidatingWebhookConfiguration (e.g. openmb-validation) whose caBundle the leader sets to the webhook\'s serving CA')
    .option('--webhook-tls-dir <dir>', 'the webhook\'s serving certificate: tls.crt and tls.key (a mounted kubernetes.io/tls Secret); when absent, a CA and certificate are made '
      + 'and written there, and ca.crt is the configuration\'s caBundle (default: STATE_DIR/webhook)')
    .option('--webhook-names <names>', 'DNS names and IPs, comma-separated, a made webhook certificate carries besides localhost and 127.0.0.1 (the Service\'s NAME.NAMESPACE.svc, which the API server checks)',
      commaList, [])
    .option('--state-dir <dir>', 'logs of pool processes and drained outputs; process runtime: each pool\'s data plane record (STATE_DIR/NAMESPACE/NAME/data-plane.json)', join(tmpdir(), 'openmb-operator'))
    .option('--leader-elect', 'take a coordination.k8s.io Lease before reconciling (for more than one replica)')
    .option('--lease-namespace <ns>', 'namespace of the leader Lease, and of the operator\'s own Secrets', process.env.POD_NAMESPACE ?? 'default')
    .option('--lease-name <name>', 'name of the leader Lease', 'openmb-operator')
    .option('--lease-duration <s>', 'seconds a standby waits, after the leader last renewed the Lease, before taking it', seconds('--lease-duration', true), 15)
    .option('--renew-deadline <s>', 'seconds the leader goes on trying to renew the Lease before it gives up leading (less than --lease-duration)', seconds('--renew-deadline'), 10)
    .option('--retry-period <s>', 'seconds between attempts to take or renew the Lease', seconds('--retry-period'), 2)
    .option('--workers <n>', 'reconciles running at once (each object one at a time)', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`--workers must be a whole number ≥ 1, got "${v}"`);
      return n;
    }, 4)
    .addHelpText('after', `
The pod runtime runs, for each MiddleboxPool, a steering switch Pod and one Pod per instance,
owned by the pool; they dial the controller at --controller-address. The process runtime runs the
same programs as local processes, detached from this one so they outlive it (the next operator on
the same --state-dir adopts them; deleting the pool stops them). Either way the pool's
status.switch.address says where \`openmb replay --switch ADDRESS\` sends traffic, with the same secret.

Example:
  kubectl apply -f manifests/crds/
  openmb operator --runtime pod --controller-address 10.250.0.1:7100 --secret-file secret --http 127.0.0.1:8080 &
  kubectl apply -f manifests/samples/monitor-pool.yaml
  kubectl scale mbp/monitor --replicas=3 && kubectl get sop -w`)
    .action(async (o: {
      runtime: string; kubeconfig?: string; secretFile?: string; namespace?: string; http?: { host: string; port: number };
      stateDir: string; leaderElect?: boolean; leaseNamespace: string; leaseName: string; leaseDuration: number; renewDeadline: number; retryPeriod: number; workers: number;
      controllerListen: { host: string; port: number }; controllerAddress?: string; image?: string; podSecret: string; tlsDir?: string; tlsSecret: string;
      metricsApi?: { host: string; port: number }; metricsApiTlsDir?: string; metricsApiNames: string[]; metricsApiservice?: string; requestheaderClientCaFile?: string; requestheaderAllowedNames?: string[];
      webhook?: { host: string; port: number }; webhookConfiguration?: string; webhookTlsDir?: string; webhookNames: string[];
    }) => {
      if (o.renewDeadline >= o.leaseDuration) throw new InvalidArgumentError(`--renew-deadline (${o.renewDeadline} s) must be less than --lease-duration (${o.leaseDuration} s): a leader must give up before a standby may take over`);
      const log = createLogger('operator');
      const client = new KubeClient(loadKubeConfig(o.kubeconfig));
      // In a cluster the operator may keep the shared secret itself, in a Secret of its namespace.
      const secret = o.secretFile || process.env[SECRET_ENV] || o.runtime !== 'pod'
        ? loadSecret(o.secretFile)
        : await new PodApi(client).ownSharedSecret(o.leaseNamespace, o.podSecret);
      let runtime: RuntimeProvider;
      if (o.runtime === 'pod') {
        const controllerAddress = o.controllerAddress ?? process.env.OPENMB_CONTROLLER_ADDRESS;
        if (!controllerAddress) throw new InvalidArgumentError('--runtime pod needs --controller-address HOST:PORT (or $OPENMB_CONTROLLER_ADDRESS): where Pods reach the controller');
        hostPortOf('--controller-address', '10.96.0.20:7100')(controllerAddress);
        // Pods talk across a network: always mutual TLS, from the operator's own material or a Secret it keeps.
        const tls = tlsFromOption(o.tlsDir) ?? await ensureTlsSecret(client, o.leaseNamespace, o.tlsSecret);
        const server = new ControllerServer(secret, log.child({ component: 'controller' }));
        const bound = await server.listen(o.controllerListen, tls);
        log.info({ listen: formatAddress(bound), advertised: controllerAddress }, 'MB controller listening for Pods (mutual TLS)');
        runtime = new PodRuntime({
          client, server, controllerAddress, image: o.image ?? process.env.OPENMB_IMAGE ?? await new PodApi(client).ownImage() ?? 'openmb:dev', secret, secretName: o.podSecret,
          tls, tlsSecretName: o.tlsSecret, log,
        });
      } else {
        runtime = new ProcessRuntime({ secret, logDir: o.stateDir, log, outlive: true });
      }
      let metricsApi;
      if (o.metricsApi) {
        const dir = o.metricsApiTlsDir ?? join(o.stateDir, 'metrics-api');
        const serving = await servingCertificate(dir, o.metricsApiNames);
        if (serving.generated) log.info({ caBundle: join(dir, 'ca.crt') }, 'made a serving certificate for the metrics API; its CA is the APIService\'s caBundle');
        const trust = await frontProxyTrust(client, { caFile: o.requestheaderClientCaFile, allowedNames: o.requestheaderAllowedNames });
        metricsApi = { ...o.metricsApi, serving, trust };
      }
      let webhook;
      if (o.webhook) {
        const dir = o.webhookTlsDir ?? join(o.stateDir, 'webhook');
        const serving = await servingCertificate(dir, o.webhookNames, 'openmb-webhook');
        if (serving.generated) log.info({ caBundle: join(dir, 'ca.crt') }, 'made a serving certificate for the webhook; its CA is the webhook configuration\'s caBundle');
        webhook = { ...o.webhook, serving };
      }
      const operator = new Operator({
        client, runtime, log, secret, stateDir: o.stateDir, namespace: o.namespace, http: o.http, workers: o.workers, metricsApi, apiService: o.metricsApiservice,
        webhook, webhookConfiguration: o.webhookConfiguration,
        ...(o.leaderElect ? {
          leader: { namespace: o.leaseNamespace, name: o.leaseName, leaseDurationS: o.leaseDuration, renewDeadlineMs: o.renewDeadline * 1000, retryMs: o.retryPeriod * 1000 },
        } : {}),
      });
      let stopping = false;
      const stop = (code: number) => {
        if (stopping) return;
        stopping = true;
        log.info(o.runtime === 'pod' ? 'stopping: the pools\' Pods keep running for the next operator' : 'stopping: the pools\' processes keep running for the next operator on this --state-dir');
        operator.stop().finally(() => process.exit(code));
      };
      for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => stop(0));
      await operator.start(() => stop(1));
      if (operator.httpAddress) process.stdout.write(`http ${operator.httpAddress}\n`);
      if (operator.metricsApiAddress) process.stdout.write(`metrics-api ${operator.metricsApiAddress}\n`);
      if (operator.webhookAddress) process.stdout.write(`webhook ${operator.webhookAddress}\n`);
    });
}
