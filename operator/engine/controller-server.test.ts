/**
 * One controller endpoint serves every pool: peers of two pools may use the same instance and
 * switch names, and each pool sees only its own (over real sockets, with the real handshake).
 */
import test from 'ava';
import { connectPeer } from '../../shims/protocol/connection.js';
import { silentLogger } from '../../shims/log/logger.js';
import { ControllerServer } from './controller-server.js';

test('two pools with instances and switches of the same names do not collide', async (t) => {
  const server = new ControllerServer('s3cret', silentLogger);
  const address = await server.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => server.close());
  const a = server.pool('team-a/web');
  const b = server.pool('team-b/web');
  const peers = await Promise.all([
    connectPeer(address, { secret: 's3cret', role: 'mb', name: 'web-0', pool: 'team-a/web', mbType: 'monitor' }, silentLogger),
    connectPeer(address, { secret: 's3cret', role: 'mb', name: 'web-0', pool: 'team-b/web', mbType: 'ids' }, silentLogger),
    connectPeer(address, { secret: 's3cret', role: 'switch', name: 'switch', pool: 'team-a/web' }, silentLogger),
    connectPeer(address, { secret: 's3cret', role: 'switch', name: 'switch', pool: 'team-b/web' }, silentLogger),
  ]);
  t.teardown(() => peers.forEach((p) => p.close('test over')));
  const [ia, ib] = await Promise.all([a.waitForInstance('web-0', 5000), b.waitForInstance('web-0', 5000)]);
  await Promise.all([a.waitForSwitch('switch', 5000), b.waitForSwitch('switch', 5000)]);
  t.not(ia, ib);
  t.is(ia.mbType, 'monitor');
  t.is(ib.mbType, 'ids');
  t.is(ia.pool, 'team-a/web');
  t.is(a.instances.size, 1);
  t.is(b.instances.size, 1);
  t.is(a.switches.size, 1);
  t.is(b.switches.size, 1);
  // A peer of pool a going away leaves pool b's same-named session alone.
  peers[0].close('leaving');
  await new Promise<void>((resolve) => ia.once('close', () => resolve()));
  t.is(a.instance('web-0'), undefined);
  t.is(b.instance('web-0'), ib);
});
