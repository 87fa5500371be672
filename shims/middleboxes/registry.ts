/** The middleboxes this build ships, by type name. */
import type { AnyMiddlebox } from '../shim/definition.js';
import { ids } from './ids/ids.js';
import { monitor } from './monitor/monitor.js';
import { nat } from './nat/nat.js';
import { re } from './re/re.js';

export const MIDDLEBOXES: Record<string, AnyMiddlebox> = { monitor, nat, ids, re };

export function middleboxByType(type: string): AnyMiddlebox {
  const def = MIDDLEBOXES[type];
  if (!def) throw new Error(`unknown middlebox type "${type}" (known: ${Object.keys(MIDDLEBOXES).join(', ')})`);
  return def;
}
