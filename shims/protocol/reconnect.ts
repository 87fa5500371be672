/** Keeps one authenticated connection up, redialing with capped exponential backoff and jitter. */
import type { Address } from './address.js';
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
  backoff?: { initialMs: number; maxMs: number };
  /** Told why each dial failed (it is retried all the same). */
  onDialError?: (err: Error) => void;
}

export function keepConnected(address: Address, who: Omit<Hello, 'type'>, log: Logger, onPeer: (peer: Peer) => void,
  o: LinkOptions = {}): Link {
  const backoff = o.backoff ?? { initialMs: 50, maxMs: 3000 };
  let current: Peer | null = null;
  let stopped = false;
  let delay = backoff.initialMs;
  let waiters: ((p: Peer) => void)[] = [];
  let timer: NodeJS.Timeout | undefined;

  const dial = async () => {
    if (stopped) return;
    try {
      const peer = await connectPeer(address, who, log, (p) => {
        if (stopped) return;
        current = p;
        delay = backoff.initialMs;
        p.once('close', (reason) => {
          current = null;
          if (!stopped) {
            log.warn({ reason }, 'connection lost; reconnecting');
            timer = setTimeout(dial, delay);
          }
        });
        onPeer(p);
      }, o);
      if (stopped) { peer.close('closed locally'); return; }
      for (const w of waiters) w(peer);
      waiters = [];
    } catch (err) {
      log.debug({ err: (err as Error).message, retryMs: delay }, 'connect failed; retrying');
      o.onDialError?.(err as Error);
      timer = setTimeout(dial, delay * (0.75 + Math.random() / 2));
      delay = Math.min(delay * 2, backoff.maxMs);
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
