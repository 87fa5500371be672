/**
 * The controller's listener: middlebox instances and steering switches of every pool dial in
 * here. Each peer's hello names its pool; its session joins that pool's PoolSessions, so the
 * pool's MB controller and router see only their own peers.
 */
import type { Server } from 'node:net';
import type { Address } from '../../shims/protocol/address.js';
import { acceptPeers, boundAddress } from '../../shims/protocol/connection.js';
import type { TlsMaterial } from '../../shims/protocol/tls.js';
import type { Logger } from '../../shims/log/logger.js';
import { MbSession } from './session.js';
import { PoolSessions } from './pool-sessions.js';
import { SwitchSession } from '../routing/switch-session.js';

export class ControllerServer {
  private readonly pools = new Map<string, PoolSessions>();
  private server: Server | null = null;

  constructor(private readonly secret: string, private readonly log: Logger) {}

  /** The sessions of one pool ("namespace/name"; a peer that names none is in pool ""). */
  pool(name: string): PoolSessions {
    return this.pools.get(name) ?? this.pools.set(name, new PoolSessions(name)).get(name)!;
  }

  /** Forgets a pool once it is gone, closing what is still connected of it. */
  dropPool(name: string): void {
    this.pools.get(name)?.close();
    this.pools.delete(name);
  }

  /** With `tls`, peers must present a certificate from its CA (mutual TLS) before their hello. */
  async listen(address: Address, tls?: TlsMaterial): Promise<Address> {
    this.server = await acceptPeers(address, this.secret, this.log, (peer, hello) => {
      const pool = hello.pool ?? '';
      if (hello.role === 'mb') this.pool(pool).addInstance(new MbSession(peer, pool, hello.name, hello.mbType ?? '', hello.descriptor, hello.peerAddress));
      else if (hello.role === 'switch') this.pool(pool).addSwitch(new SwitchSession(peer, hello.name));
      else peer.close(`role "${hello.role}" does not connect to the controller`);
    }, { tls });
    return boundAddress(this.server);
  }

  close(): void {
    for (const p of this.pools.values()) p.close();
    this.server?.close();
  }
}
