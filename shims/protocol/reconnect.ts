/** Keeps one authenticated connection up, redialing with capped exponential backoff and jitter. */
import type { Address } from './address.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import { type ChannelOptions, connectPeer, type Peer } from './connection.js';
import type { Hello } from './messages.js';
import type { Logger } from '../log/logger.js';

export interface Link {
  readonly peer: Peer | null;
  /** Resolves when a connection is up (immediately if one is). */
  ready(): Promise<Peer>;
  stop(): void;
}

export interface LinkOptions extends ChannelOptions {
  backoff?: BackoffOptions;
  /** Told why each dial failed (it is retried all the same). */
  onDialError?: (err: Error) => void;
}

export function keepConnected(address: Address, who: Omit<Hello, 'type'>, log: Logger, onPeer: (peer: Peer) => void,
  o: LinkOptions = {}): Link {
  const backoff = o.backoff ?? { baseMs: 50, maxMs: 3000, jitter: 0.25 };
  let current: Peer | null = null;
  let stopped = false;
  /** Dials that failed since the last connection (a lost connection redials after the base delay). */
  let failures = 0;
  let waiters: ((p: Peer) => void)[] = [];
  let timer: NodeJS.Timeout | undefined;

  const dial = async () => {
    if (stopped) return;
    try {
      const peer = await connectPeer(address, who, log, (p) => {
        if (stopped) return;
        current = p;
        failures = 0;
        p.once('close', (reason) => {
          current = null;
          if (!stopped) {
            log.warn({ reason }, 'connection lost; reconnecting');
            timer = setTimeout(dial, backoffDelay({ ...backoff, jitter: 0 }, 1));
          }
        });
        onPeer(p);
      }, o);
      if (stopped) { peer.close('closed locally'); return; }
      for (const w of waiters) w(peer);
      waiters = [];
    } catch (err) {
      const retryMs = backoffDelay(backoff, ++failures);
      log.debug({ err: (err as Error).message, retryMs }, 'connect failed; retrying');
      o.onDialError?.(err as Error);
      timer = setTimeout(dial, retryMs);
    }
  };
  void dial();
  return {
    get peer() { return current; },
    ready: () => (current ? Promise.resolve(current) : new Promise<Peer>((resolve) => waiters.push(resolve))),
    stop: () => {
      stopped = true;
      clearTimeout(timer);
      current?.close('closed locally');
    },
  };
}
