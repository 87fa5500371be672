/** Where the shared real captures live: $OPENMB_TRACES, else `../shared/traces` beside the repository. */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export function tracesDir(): string {
  return process.env.OPENMB_TRACES ?? fileURLToPath(new URL('../../../../shared/traces/', import.meta.url));
}

export function tracePath(name: string): string {
  return join(tracesDir(), name);
}
