/**
 * The pool's outputs as one middlebox would report them: every instance's state is put into one
 * in-process instance (per-flow state lands as is, multi-flow and all-flows state merges by the
 * middlebox's own rules), whose outputs are then read.
 */
import { MiddleboxInstance } from '../../shims/shim/runtime.js';
import { putChunks } from '../../shims/shim/in-process.js';
import type { AnyMiddlebox } from '../../shims/shim/definition.js';
import { SCOPES, type Chunk } from '../../shims/protocol/messages.js';
import type { MbSession } from './session.js';

export interface MergedOutputs {
  outputs: Record<string, unknown>;
  /** Flows whose state was found on more than one instance (a broken move leaves these). */
  duplicateFlows: number;
}

export async function mergedOutputs(def: AnyMiddlebox, config: Record<string, unknown>, sessions: MbSession[]): Promise<MergedOutputs> {
  const merged = new MiddleboxInstance(def, config, () => {});
  const seen = new Set<string>();
  let duplicateFlows = 0;
  for (const s of sessions) {
    for (const scope of SCOPES) {
      const chunks: Chunk[] = [];
      await s.get(scope, {}, (cs) => { for (const c of cs) chunks.push(c); });
      if (scope === 'per-flow') {
        for (const c of chunks) {
          if (seen.has(c.key as string)) duplicateFlows++;
          seen.add(c.key as string);
        }
      }
      try {
        putChunks(merged, scope, chunks);
      } catch (e) {
        throw new Error(`merging ${scope} state of ${s.instance}: ${(e as Error).message}`);
      }
    }
  }
  return { outputs: merged.outputs(), duplicateFlows };
}
