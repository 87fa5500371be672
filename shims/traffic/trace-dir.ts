/** Where the real captures live: $OPENMB_TRACES, else the repository's own `data/traces`. */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export function tracesDir(): string {
  // dist/shims/traffic/ is three levels below the repository.
  return process.env.OPENMB_TRACES ?? fileURLToPath(new URL('../../../data/traces/', import.meta.url));
}

export function tracePath(name: string): string {
  return join(tracesDir(), name);
}
