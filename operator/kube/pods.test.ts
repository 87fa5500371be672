import test from 'ava';
import { API_VERSION, type MiddleboxPool } from '../api/types.js';
import { instanceSelector, POOL_LABEL } from './labels.js';
import { instancePod, PROBE_PORT, switchPod, TLS_MOUNT } from './pods.js';

const pool: MiddleboxPool = {
  apiVersion: API_VERSION, kind: 'MiddleboxPool',
  metadata: { name: 'web', namespace: 'edge', uid: 'u-1' },
  spec: {
    middlebox: { type: 'monitor' },
    template: { resources: { limits: { cpu: 1, memory: '256Mi' } }, nodeSelector: { disk: 'ssd' }, tolerations: [{ key: 'k', operator: 'Exists' }] },
  },
};
const ctx = { pool, image: 'openmb:dev', controller: '10.250.0.1:7100', secretName: 'openmb-shared-secret', tlsSecretName: 'openmb-tls' };

/** Just enough of a label selector ("k=v,k=v") to check which Pods it selects. */
const selects = (selector: string, labels: Record<string, string> = {}) =>
  selector.split(',').every((term) => { const [k, v] = term.split('='); return labels[k] === v; });

test('an instance Pod is owned by its pool, selected by its selector, and runs the middlebox as a non-root user on a read-only root', (t) => {
  const p = instancePod(ctx, { instance: 'web-2', mbType: 'monitor', config: { hosts: true }, partitioning: { key: 'flow', buckets: 64 }, switchAddress: '10.244.0.9:7000' });
  t.is(p.metadata?.name, 'web-2');
  t.deepEqual(p.metadata?.ownerReferences, [{ apiVersion: API_VERSION, kind: 'MiddleboxPool', name: 'web', uid: 'u-1', controller: true, blockOwnerDeletion: true }]);
  t.true(selects(instanceSelector('web'), p.metadata?.labels));
  t.is(p.metadata?.labels?.['openmb.io/instance'], 'web-2');
  const c = p.spec!.containers[0];
  t.deepEqual(c.args!.slice(0, 4), ['mb', '--type', 'monitor', '--instance']);
  t.true(c.args!.join(' ').includes('--pool edge/web --controller 10.250.0.1:7100 --switch 10.244.0.9:7000 --config {"hosts":true} --partitioning {"key":"flow","buckets":64}'));
  t.like(c.securityContext, { runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
  t.is(c.readinessProbe?.httpGet?.path, '/readyz');
  t.is(c.livenessProbe?.httpGet?.path, '/healthz');
  t.is(c.readinessProbe?.httpGet?.port, PROBE_PORT);
  t.deepEqual(c.resources, { limits: { cpu: '1', memory: '256Mi' } });
  t.deepEqual(p.spec?.nodeSelector, { disk: 'ssd' });
  t.is(p.spec?.restartPolicy, 'Never');
  t.deepEqual(c.env?.find((e) => e.name === 'OPENMB_SECRET')?.valueFrom?.secretKeyRef, { name: 'openmb-shared-secret', key: 'secret' });
  // Every channel is mutual TLS from the pool's TLS Secret, mounted read-only.
  t.is(c.args![c.args!.indexOf('--tls-dir') + 1], TLS_MOUNT);
  t.like(c.volumeMounts?.find((m) => m.mountPath === TLS_MOUNT), { readOnly: true });
  t.is(p.spec?.volumes?.find((v) => v.secret)?.secret?.secretName, 'openmb-tls');
});

test('the switch Pod is owned by the pool but not selected as an instance', (t) => {
  const p = switchPod(ctx);
  t.is(p.metadata?.name, 'web-switch');
  t.is(p.metadata?.labels?.[POOL_LABEL], undefined);
  t.false(selects(instanceSelector('web'), p.metadata?.labels));
  t.is(p.spec!.containers[0].args![0], 'switch');
  t.true(p.spec!.containers[0].ports!.some((x) => x.containerPort === 7000));
  t.is(p.metadata?.ownerReferences?.[0].uid, 'u-1');
});

test('a template image wins over the operator\'s default', (t) => {
  const p = instancePod({ ...ctx, pool: { ...pool, spec: { ...pool.spec, template: { image: 'registry.example/openmb:1', imagePullPolicy: 'Always' } } } },
    { instance: 'web-0', mbType: 'monitor', config: {}, partitioning: { key: 'flow', buckets: 64 }, switchAddress: 'a:1' });
  t.is(p.spec!.containers[0].image, 'registry.example/openmb:1');
  t.is(p.spec!.containers[0].imagePullPolicy, 'Always');
});
