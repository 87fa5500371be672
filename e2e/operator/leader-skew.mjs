/* global process, console, performance, setInterval, setTimeout */
// leader-skew.mjs - two leader candidates whose wall clocks disagree by three minutes, on a real
// Lease of a real API server: never two leaders at once, and the survivor takes over within the
// lease duration (plus one retry) after the leader is killed.
//
// Usage: node e2e/operator/leader-skew.mjs NAMESPACE   (KUBECONFIG names the cluster)
//
// Each candidate is a child process running the operator's LeaderElector with its wall clock
// shifted (the clock that writes the lease's renew times); the parent records, on its own clock,
// when each one says it leads. A candidate that compared the holder's renew time with its local
// clock would, running 90 s ahead, take a live leader's lease at once.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';

const root = resolve(fileURLToPath(import.meta.url), '../../..');
const [, , namespace, role, skewArg] = process.argv;
const LEASE = 'openmb-skew-test';
const DURATION_S = 6;
const RETRY_MS = 500;

if (role) {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const { KubeClient } = await import(`${root}/dist/operator/kube/client.js`);
  const { LeaderElector } = await import(`${root}/dist/operator/kube/leader.js`);
  const { silentLogger } = await import(`${root}/dist/shims/log/logger.js`);
  const kc = new KubeConfig();
  kc.loadFromDefault();
  const skew = Number(skewArg);
  const clock = { wall: () => new Date(Date.now() + skew), monotonic: () => performance.now() };
  const elector = new LeaderElector(new KubeClient(kc), { namespace, name: LEASE, leaseDurationS: DURATION_S, retryMs: RETRY_MS, renewDeadlineMs: 4000, clock }, silentLogger);
  await elector.acquire(() => {
    console.log('lost');
    process.exit(3);
  });
  console.log('leader');
  setInterval(() => {}, 1000);
} else {
  if (!namespace) {
    console.error('usage: leader-skew.mjs NAMESPACE');
    process.exit(2);
  }
  const leading = new Map();
  const overlaps = [];
  const start = (name, skewMs) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), namespace, name, String(skewMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (text) => {
      for (const line of text.split('\n').filter(Boolean)) {
        if (line === 'leader') {
          if (leading.size > 0) overlaps.push(`${name} became the leader while ${[...leading.keys()].join(', ')} led`);
          leading.set(name, Date.now());
        } else if (line === 'lost') leading.delete(name);
      }
    });
    child.on('exit', () => leading.delete(name));
    return child;
  };
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const waitFor = async (what, ms) => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (what()) return true;
      await sleep(50);
    }
    return false;
  };
  const behind = start('behind', -90_000);
  const problems = [];
  if (!(await waitFor(() => leading.has('behind'), 20_000))) problems.push('the first candidate never became the leader');
  const ahead = start('ahead', 90_000);
  // Several lease durations: a candidate that trusted the renew times would have taken over.
  await sleep(DURATION_S * 3 * 1000);
  if (leading.has('ahead')) problems.push('the candidate 90 s ahead took a lease that was being renewed');
  const killedAt = Date.now();
  behind.kill('SIGKILL');
  const tookOver = await waitFor(() => leading.has('ahead'), (DURATION_S + 10) * 1000);
  const takeover = Date.now() - killedAt;
  if (!tookOver) problems.push('the survivor never took over the lease');
  else if (takeover > DURATION_S * 1000 + 3 * RETRY_MS + 1000) problems.push(`the survivor took ${takeover} ms to take over, more than the lease duration and a retry`);
  ahead.kill('SIGKILL');
  problems.push(...overlaps);
  if (problems.length > 0) {
    console.error(problems.join('\n'));
    process.exit(1);
  }
  console.log(`clocks 180 s apart: one leader at a time; the survivor led ${takeover} ms after the leader was killed (lease ${DURATION_S} s)`);
  process.exit(0);
}
