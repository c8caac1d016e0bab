// What one run allocates, estimated from its resolved config before it starts, so that a size whose
// arrays cannot exist is refused at validation (with the memory it would need) instead of becoming
// a RangeError record, or the operating system's OOM killer, hours into a sweep.
//
// The large arrays of a run (src/core/train.ts, src/core/jacobian.ts), each a Float64Array:
// - X, n x d (and the test rows), plus the engine's own copy of the training rows;
// - the Jacobian's A = s(XW) and D = v .* s'(XW), n x m each (at the start; lm takes a new pair per
//   iteration while the last one is still alive);
// - the Gram matrix J J^T, n x n, when n <= certificateMaxN (sigma_min), for lm and for radius auto,
//   with the copy its eigen-solve, Cholesky or LM system takes (lm: G, the damped system and the
//   next iteration's G);
// - W and its companions (W0, the gradient, Adam's or momentum's state), d x m.
// They live outside the JavaScript heap, so --worker-memory does not bound them; the machine's RAM
// does. V8 in Node 20 also caps one typed array at 2^32 entries, whatever the RAM.
import { totalmem } from 'node:os';
import type { ResolvedConfig } from '../core/types.js';

/** The most entries one typed array may have in Node 20 (V8's limit). */
export const MAX_ARRAY_ENTRIES = 2 ** 32;

export interface ArrayNeed {
  /** What the array is, as the message names it, e.g. "the n x n Gram matrix J J^T". */
  what: string;
  /** Entries of one such array. */
  entries: number;
  /** How many of them a run holds at once. */
  copies: number;
  /** The config field to change to make it smaller. */
  field: 'n' | 'm';
}

/** The large arrays of a run at `cfg`, as listed at the top of this file. */
export function runArrays(cfg: ResolvedConfig): ArrayNeed[] {
  const { n, d, m } = cfg;
  const nTest = cfg.data.nTest ?? 0;
  const lm = cfg.optimizer === 'lm';
  const gram = n <= cfg.certificateMaxN || lm || (cfg.constraint === 'ball' && cfg.radius === 'auto');
  const out: ArrayNeed[] = [
    { what: 'the data X (n x d)', entries: n * d, copies: 2, field: 'n' },
    { what: 'the Jacobian factors A and D (n x m each)', entries: n * m, copies: lm ? 4 : 2, field: m >= n ? 'm' : 'n' },
    { what: 'the weights W and their companions (d x m)', entries: d * m, copies: cfg.optimizer === 'adam' ? 7 : 5, field: 'm' },
  ];
  if (nTest > 0) out.push({ what: 'the test data (nTest x d)', entries: nTest * d, copies: 1, field: 'n' });
  if (gram) out.push({ what: 'the n x n Gram matrix J J^T', entries: n * n, copies: lm ? 3 : 2, field: 'n' });
  return out;
}

/** Bytes as GB (or MB below 1 GB), 3 significant digits. */
export function gigabytes(bytes: number): string {
  return bytes >= 1e9 ? `${Number((bytes / 1e9).toPrecision(3))} GB` : `${Number((bytes / 1e6).toPrecision(3))} MB`;
}

/**
 * Why a run at `cfg` cannot allocate its arrays, or null when it can: one array beyond
 * MAX_ARRAY_ENTRIES, or all of them together beyond `ramBytes` (default: this machine's RAM).
 */
export function memoryProblem(cfg: ResolvedConfig, ramBytes = totalmem()): { field: 'n' | 'm'; message: string } | null {
  const arrays = runArrays(cfg);
  const size = `n = ${cfg.n}, d = ${cfg.d}, m = ${cfg.m}`;
  // a Gram matrix wanted only for the certificate can be skipped instead
  const certificateOnly = cfg.n <= cfg.certificateMaxN && cfg.optimizer !== 'lm' && !(cfg.constraint === 'ball' && cfg.radius === 'auto');
  const gramHint = (a: ArrayNeed) => (a.what.includes('Gram') && certificateOnly
    ? ` (or certificateMaxN below ${cfg.n}: the Gram matrix is then not computed)` : '');
  for (const a of arrays) {
    if (a.entries > MAX_ARRAY_ENTRIES) {
      const hint = gramHint(a);
      return {
        field: a.field,
        message: `at ${size}, ${a.what} would have ${a.entries.toExponential(3)} entries (${gigabytes(8 * a.entries)}), ` +
          `more than one array can hold (${MAX_ARRAY_ENTRIES}); choose a smaller ${a.field}${hint}`,
      };
    }
  }
  const bytes = arrays.reduce((s, a) => s + 8 * a.entries * a.copies, 0);
  if (bytes > ramBytes) {
    const parts = [...arrays].sort((a, b) => b.entries * b.copies - a.entries * a.copies).slice(0, 3)
      .map((a) => `${a.what}: ${gigabytes(8 * a.entries * a.copies)}`);
    const largest = [...arrays].sort((a, b) => b.entries * b.copies - a.entries * a.copies)[0]!;
    return {
      field: largest.field,
      message: `a run at ${size} needs about ${gigabytes(bytes)} of memory (${parts.join('; ')}), more than this machine's ` +
        `${gigabytes(ramBytes)} of RAM (these arrays are outside the --worker-memory heap limit); choose a smaller ${largest.field}${gramHint(largest)}`,
    };
  }
  return null;
}
