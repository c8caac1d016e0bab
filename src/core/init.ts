// Initialisations (METHOD.md section 2): LeCun, and mirrored LeCun W0 = [W', W'], v0 = [v', -v']
// (pairs interleaved, see below), so that F(W0, v0) = 0 exactly. `outputScale` (alpha) multiplies v0 in both.
import { Rng } from './rng.js';
import type { ResolvedConfig } from './types.js';

export interface Params {
  /** d x m row-major. */
  W: Float64Array;
  v: Float64Array;
}

/**
 * The stream depends on (seed, d, m, init, outputScale) only, so every method of a cell that
 * shares an init also shares the initial point.
 */
export function initParams(cfg: Pick<ResolvedConfig, 'seed' | 'd' | 'm' | 'init' | 'outputScale'>): Params {
  const { d, m, seed, init, outputScale: alpha } = cfg;
  const rng = new Rng(`init|seed=${seed}|d=${d}|m=${m}|${init}`);
  const W = new Float64Array(d * m);
  const v = new Float64Array(m);
  const sdW = 1 / Math.sqrt(d), sdv = 1 / Math.sqrt(m);
  if (init === 'lecun') {
    rng.fillNormal(W, sdW);
    for (let j = 0; j < m; j++) v[j] = alpha * sdv * rng.normal();
    return { W, v };
  }
  if (m % 2 !== 0) throw new Error(`mirrored init needs an even width, got m = ${m}`);
  // The mirrored pairs sit side by side: columns 2k and 2k + 1 are both w'_k, and v0 holds
  // (v'_k, -v'_k). This is [W', W'], [v', -v'] with the hidden units reordered (the network is the
  // same function), and it makes F(W0, v0) = 0 exactly in floating point too: every engine sums
  // s(z_ij) v_j over j so that each pair's two terms cancel exactly (a left-to-right sum cancels at
  // every pair; SIMD lanes and their reductions pair lane 2k with lane 2k + 1).
  const h = m / 2;
  for (let k = 0; k < d; k++) {
    for (let j = 0; j < h; j++) {
      const w = sdW * rng.normal();
      W[k * m + 2 * j] = w;
      W[k * m + 2 * j + 1] = w;
    }
  }
  for (let j = 0; j < h; j++) {
    const vj = alpha * sdv * rng.normal();
    v[2 * j] = vj;
    v[2 * j + 1] = -vj;
  }
  return { W, v };
}
