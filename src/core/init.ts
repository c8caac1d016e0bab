// Initialisations (METHOD.md section 2): LeCun, and mirrored LeCun W0 = [W', W'], v0 = [v', -v'],
// so that F(W0, v0) = 0 exactly. `outputScale` (alpha) multiplies v0 in both.
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
  const h = m / 2;
  for (let k = 0; k < d; k++) {
    for (let j = 0; j < h; j++) {
      const w = sdW * rng.normal();
      W[k * m + j] = w;
      W[k * m + j + h] = w;
    }
  }
  for (let j = 0; j < h; j++) {
    const vj = alpha * sdv * rng.normal();
    v[j] = vj;
    v[j + h] = -vj;
  }
  return { W, v };
}
