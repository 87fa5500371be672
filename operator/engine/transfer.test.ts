/**
 * Both transfers across real processes, under traffic: a direct move's state goes from source
 * to destination without passing through the controller (what the controller reads from the
 * source is its progress, not the state); a brokered move's passes through it. Either way
 * nothing is lost and the destination ends with the flows the source had.
 */
import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCluster } from '../runtime/local-cluster.js';
import { silentLogger } from '../../shims/log/logger.js';
import { syntheticFlows } from '../../shims/traffic/synthetic.js';
import { BucketRouter } from '../routing/bucket-router.js';
import { MbController } from './controller.js';
import { type OperationStatus, TRANSFERS } from './operation.js';

const BUCKETS = 16;
const half = Array.from({ length: BUCKETS / 2 }, (_, i) => i);

for (const transfer of TRANSFERS) {
  test.serial(`a loss-free ${transfer} move under traffic: state ${transfer === 'direct' ? 'does not pass' : 'passes'} through the controller, and nothing is lost`, async (t) => {
    const c = await LocalCluster.start({ log: silentLogger, logDir: mkdtempSync(join(tmpdir(), 'openmb-transfer-')) });
    try {
      for (const n of ['m0', 'm1']) await c.addInstance('monitor', n, { hosts: false });
      const router = new BucketRouter(() => [c.sw], { key: 'flow', buckets: BUCKETS });
      router.owner.fill('m0');
      await router.apply();
      const mbc = new MbController(c.sessions, router, silentLogger);
      const filled = syntheticFlows({ flows: 20000, handshakeOnly: true });
      await c.replay(filled, { kind: 'asap' });
      await c.settle();
      const flows = (await c.session('m0').stats()).entries['per-flow'];
      const fromSource = () => mbc.session('m0').peer.socket.bytesRead;
      const traffic = syntheticFlows({ flows: 2000, seed: 5 });
      let move: Promise<OperationStatus> | null = null;
      let readBefore = 0;
      await c.replay(traffic, { kind: 'rate', pps: 10000 }, (sent) => {
        if (!move && sent > traffic.length / 4) {
          readBefore = fromSource();
          move = mbc.move('m0', 'm1', router.bucketFilter(half), ['per-flow'], { guarantee: 'loss-free', transfer });
        }
      });
      const s = await move!;
      const read = fromSource() - readBefore;
      t.is(s.phase, 'Succeeded', s.error);
      t.is(s.transfer, transfer);
      t.true(s.bytes > 500_000, `${s.bytes} bytes of state moved`);
      if (transfer === 'direct') t.true(read < s.bytes / 20, `the controller read ${read} bytes from the source for ${s.bytes} bytes of state`);
      else t.true(read >= s.bytes, `the controller read ${read} bytes from the source for ${s.bytes} bytes of state`);
      const settled = await c.settle();
      t.is(settled.processed, filled.length + traffic.length);
      t.is(settled.dropped, 0);
      const after = await Promise.all(['m0', 'm1'].map((n) => c.session(n).stats()));
      t.true(after[1].entries['per-flow'] >= s.flows, 'the destination holds every flow put');
      t.true(after[0].entries['per-flow'] + after[1].entries['per-flow'] >= flows, 'no flow went missing');
      t.true(s.flows > flows / 3, `${s.flows} of ${flows} flows moved`);
    } finally {
      await c.stop();
    }
  });
}
