/** `openmb operator`: the Kubernetes operator (reconciles MiddleboxPools and StateOperations). */
import { Command, InvalidArgumentError, Option } from 'commander';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { loadSecret } from '../../shims/protocol/auth.js';
import { createLogger } from '../../shims/log/logger.js';
import { KubeClient, loadKubeConfig } from './client.js';
import { Operator } from './operator.js';
import { ProcessRuntime } from './process-runtime.js';

function hostPort(v: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(v);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new InvalidArgumentError(`--http must be HOST:PORT (e.g. 127.0.0.1:8080), got "${v}"`);
  return { host: m[1] ?? m[2], port };
}

export function operatorCommand(): Command {
  return new Command('operator')
    .description('run the Kubernetes operator: reconcile MiddleboxPools (scale, with each step a StateOperation) and user StateOperations')
    .addOption(new Option('--runtime <runtime>', 'where instances run: process = local child processes (no kubelet needed)').choices(['process']).default('process'))
    .option('--kubeconfig <file>', 'kubeconfig to use (default: $KUBECONFIG, ~/.kube/config, or in-cluster)')
    .option('--secret-file <path>', 'file holding the shared secret of switches, instances and traffic sources (default: $OPENMB_SECRET)')
    .option('--namespace <ns>', 'watch only this namespace (default: all)')
    .option('--http <host:port>', 'serve /healthz and /pools/NAMESPACE/NAME/outputs here', hostPort)
    .option('--state-dir <dir>', 'logs of pool processes and drained outputs', join(tmpdir(), 'openmb-operator'))
    .option('--leader-elect', 'take a coordination.k8s.io Lease before reconciling (for more than one replica)')
    .option('--lease-namespace <ns>', 'namespace of the leader Lease', 'default')
    .option('--lease-name <name>', 'name of the leader Lease', 'openmb-operator')
    .option('--workers <n>', 'reconciles running at once (each object one at a time)', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`--workers must be a whole number ≥ 1, got "${v}"`);
      return n;
    }, 4)
    .addHelpText('after', `
The process runtime runs, for each MiddleboxPool, a steering switch and the pool's instances as
child processes of this one; the pool's annotation openmb.io/switch names the switch's socket, to
which \`openmb replay --switch SOCKET\` sends traffic with the same secret.

Example:
  kubectl apply -f crds/
  openmb operator --runtime process --secret-file secret --http 127.0.0.1:8080 &
  kubectl apply -f manifests/samples/monitor-pool.yaml
  kubectl scale mbp/monitor --replicas=3 && kubectl get sop -w`)
    .action(async (o: {
      runtime: string; kubeconfig?: string; secretFile?: string; namespace?: string; http?: { host: string; port: number };
      stateDir: string; leaderElect?: boolean; leaseNamespace: string; leaseName: string; workers: number;
    }) => {
      const log = createLogger('operator');
      const secret = loadSecret(o.secretFile);
      const client = new KubeClient(loadKubeConfig(o.kubeconfig));
      const runtime = new ProcessRuntime({ secret, logDir: o.stateDir, log });
      const operator = new Operator({
        client, runtime, log, stateDir: o.stateDir, namespace: o.namespace, http: o.http, workers: o.workers,
        ...(o.leaderElect ? { leader: { namespace: o.leaseNamespace, name: o.leaseName } } : {}),
      });
      let stopping = false;
      const stop = (code: number) => {
        if (stopping) return;
        stopping = true;
        log.info('stopping: every pool process started here stops too');
        operator.stop().finally(() => process.exit(code));
      };
      for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => stop(0));
      await operator.start(() => stop(1));
      if (operator.httpAddress) process.stdout.write(`http ${operator.httpAddress}\n`);
    });
}
