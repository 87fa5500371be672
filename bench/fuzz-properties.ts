/** The shape shared by each `*.fuzz.ts` module and its runners (the tests and bench/fuzz.ts). */
import type fc from 'fast-check';

// Each property has its own argument tuple; the runners only hand them (all synchronous) to fc.assert and fc.check.
export type Properties = Record<string, fc.IProperty<unknown[]>>;
