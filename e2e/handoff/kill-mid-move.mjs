/* global process, console, setTimeout, clearTimeout */
// kill-mid-move.mjs - SIGKILLs the leading operator while one of a pool's moves is under way:
// it watches the namespace's StateOperations on the real API server and, the moment a move of
// POOL is Running with status.journal.step = STEP, kills PID. It then reads the operation back,
// so the suite knows what the next leader found: still Running, with that step in its journal.
//
// Usage: node e2e/handoff/kill-mid-move.mjs NAMESPACE POOL PID [STEP] [TIMEOUT_S]
//   (KUBECONFIG names the cluster; STEP defaults to copy: the switch holds the moved flows)
// Prints "watching" once the watch is open, then one JSON line:
//   {"op", "step", "killedAtMs", "phaseAfter", "stepAfter"}. Exits 1 if no such move came in time.
import { KubeConfig, CustomObjectsApi, Watch } from '@kubernetes/client-node';

const [, , namespace, pool, pidArg, step = 'copy', timeoutArg = '120'] = process.argv;
if (!namespace || !pool || !pidArg) {
  console.error('usage: kill-mid-move.mjs NAMESPACE POOL PID [STEP] [TIMEOUT_S]');
  process.exit(2);
}
const pid = Number(pidArg);
const kc = new KubeConfig();
kc.loadFromDefault();
const GROUP = 'openmb.io';
const VERSION = 'v1alpha1';

const timer = setTimeout(() => {
  console.error(`no move of ${pool} reached step ${step} within ${timeoutArg} s`);
  process.exit(1);
}, Number(timeoutArg) * 1000);

let killed = false;
const api = kc.makeApiClient(CustomObjectsApi);
const watch = new Watch(kc);
const path = `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/stateoperations`;
let request = null;
function consider(op) {
  if (killed || op.spec?.pool !== pool || op.spec?.kind !== 'move') return;
  if (op.status?.phase !== 'Running' || op.status?.journal?.step !== step) return;
  killed = true;
  process.kill(pid, 'SIGKILL');
  const killedAtMs = Date.now();
  clearTimeout(timer);
  request?.abort();
  void report(op.metadata.name, killedAtMs);
}
// A list, then a watch from its resourceVersion; a watch the server ends (or refuses, as it does
// with 429 until its cache is ready) is opened again.
async function listAndWatch() {
  const list = await api.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: 'stateoperations' });
  for (const op of list.items) consider(op);
  if (killed) return;
  request = await watch.watch(path, { resourceVersion: list.metadata.resourceVersion }, (type, op) => {
    if (type === 'ADDED' || type === 'MODIFIED') consider(op);
  }, () => {
    if (!killed) setTimeout(() => void listAndWatch().catch(retry), 200);
  });
}
function retry(e) {
  console.error(`list or watch failed, again: ${e.message ?? e}`);
  setTimeout(() => void listAndWatch().catch(retry), 500);
}
await listAndWatch().catch(retry);
console.log('watching');

async function report(name, killedAtMs) {
  const op = await api.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: 'stateoperations', name });
  console.log(JSON.stringify({ op: name, step, killedAtMs, phaseAfter: op.status?.phase ?? null, stepAfter: op.status?.journal?.step ?? null }));
  process.exit(0);
}
