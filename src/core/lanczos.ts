// Extreme eigenvalues by Lanczos (METHOD.md sections 3b and 5): lambda_max of the tangent kernel
// J J^T for `lr: auto` (matrix-free, on the engine's compiled J u and J^T z), and lambda_min of
// the Gram matrix for the certificate sigma_min(J) (Lanczos on its inverse, through a Cholesky
// factor from LAPACK when the engine has it).
//
// Written here rather than taken from a library: ARPACK keeps its state in Fortran SAVE variables,
// so it cannot run in several worker threads at once, and Spectra (C++) would leave the wasm, ts
// and tfjs engines without one. The loop is short; the work is in the operator.
import { tridiagonalTop } from './linalg.js';
import type { DenseLinalg, Linearization } from './types.js';

/** Thrown from inside a phase when the run's budget is used up (train.ts turns it into `timeout`). */
export class BudgetStop extends Error {
  constructor(readonly phase: string) {
    super(`stopped during ${phase}`);
  }
}

export interface LanczosResult {
  /** The largest Ritz value: within tol * value of an eigenvalue when `converged`. */
  value: number;
  iterations: number;
  converged: boolean;
}

export interface LanczosOptions {
  /** Relative bound on the residual |beta_k s_k| of the top Ritz pair (default 1e-10). */
  tol?: number;
  /** At most this many iterations (default min(dim, 300)). */
  maxIter?: number;
  /** Checked before every application of the operator; true throws BudgetStop(phase). */
  shouldStop?: () => boolean;
  phase?: string;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/**
 * The largest eigenvalue of the symmetric operator `apply` (y = A x) on R^dim, from `start`, by
 * Lanczos with full reorthogonalisation (classical Gram-Schmidt, twice). For any Ritz pair
 * (theta, s) of T_k, some eigenvalue of A lies within |beta_k s_k| of theta, so the stopping rule
 * |beta_k s_k| <= tol * theta bounds the error; it stops early, exact, when the Krylov space is
 * invariant (beta_k = 0). Deterministic: the same operator and start give the same value.
 */
export function lanczosLargest(
  apply: (x: Float64Array, y: Float64Array) => void, dim: number, start: Float64Array, opts: LanczosOptions = {},
): LanczosResult {
  const tol = opts.tol ?? 1e-10;
  const maxIter = Math.max(1, Math.min(dim, opts.maxIter ?? 300));
  const Q: Float64Array[] = [];
  let q = Float64Array.from(start.subarray(0, dim));
  const n0 = Math.sqrt(dot(q, q));
  if (!(n0 > 0) || !Number.isFinite(n0)) throw new RangeError('lanczosLargest: the start vector must be finite and nonzero');
  for (let i = 0; i < dim; i++) q[i]! /= n0;
  const alpha: number[] = [], beta: number[] = [];
  const w = new Float64Array(dim);
  const c = new Float64Array(maxIter);
  let theta = 0;
  for (let k = 0; k < maxIter; k++) {
    if (opts.shouldStop?.()) throw new BudgetStop(opts.phase ?? 'Lanczos');
    Q.push(q);
    apply(q, w);
    const a = dot(q, w);
    alpha.push(a);
    for (let pass = 0; pass < 2; pass++) {
      for (let j = 0; j <= k; j++) c[j] = dot(Q[j]!, w);
      for (let j = 0; j <= k; j++) {
        const qj = Q[j]!, cj = c[j]!;
        for (let i = 0; i < dim; i++) w[i]! -= cj * qj[i]!;
      }
    }
    const b = Math.sqrt(dot(w, w));
    const top = tridiagonalTop(alpha, beta);
    theta = top.theta;
    if (!Number.isFinite(theta) || !Number.isFinite(b)) return { value: NaN, iterations: k + 1, converged: false };
    if (b * Math.abs(top.s) <= tol * Math.abs(theta) || b === 0) return { value: theta, iterations: k + 1, converged: true };
    beta.push(b);
    q = new Float64Array(dim);
    for (let i = 0; i < dim; i++) q[i] = w[i]! / b;
  }
  return { value: theta, iterations: maxIter, converged: false };
}

/**
 * lambda_max(J J^T) (METHOD.md 3b: L = lambda_max / n for `lr: auto`), with the v block J_v J_v^T
 * added when `withV`. Matrix-free in R^n: y = J (J^T x), two compiled passes over X per iteration.
 */
export function lambdaMax(J: Linearization, withV: boolean, start: Float64Array, opts: LanczosOptions = {}): LanczosResult {
  const gW = new Float64Array(J.d * J.m), gv = withV ? new Float64Array(J.m) : null;
  return lanczosLargest((x, y) => { J.vjp(x, gW, gv); J.jvp(gW, gv, y); }, J.n, start, { phase: 'lambda_max for lr: auto', ...opts });
}

/**
 * The smallest eigenvalue of a symmetric positive semidefinite G (n x n), as 1 / lambda_max of
 * (G + delta I)^-1 minus delta, by Lanczos on Cholesky solves: n^3/3 flops for the factor, then
 * 2 n^2 per iteration. delta is 0 when G is numerically positive definite; otherwise (a rank
 * deficient G, e.g. J at a mirrored point with md/2 < n) the smallest multiple of 1e-14 trace(G)
 * (times 16^k) that makes the factorisation succeed, and the result is then as accurate as a
 * dense eigen-solve's, a few eps ||G|| in absolute terms. When Lanczos does not converge within
 * its iterations, the dense eigen-solve of `la` gives the answer instead. Null for a non-finite G.
 */
export function smallestEigenvalue(G: Float64Array, n: number, la: DenseLinalg, start: Float64Array, opts: LanczosOptions = {}): number | null {
  for (let q = 0; q < G.length; q++) if (!Number.isFinite(G[q]!)) return null;
  const L = G.slice();
  let delta = 0;
  if (!la.cholesky(L, n)) {
    let tr = 0;
    for (let i = 0; i < n; i++) tr += Math.abs(G[i * n + i]!);
    delta = 1e-14 * (tr > 0 ? tr : 1);
    for (let attempt = 0; ; attempt++) {
      L.set(G);
      for (let i = 0; i < n; i++) L[i * n + i]! += delta;
      if (la.cholesky(L, n)) break;
      if (attempt === 12) return la.symmetricEigenvalues(G.slice(), n)[0] ?? null;
      delta *= 16;
    }
  }
  const r = lanczosLargest((x, y) => { y.set(x); la.choleskySolve(L, n, y); }, n, start, { tol: 1e-10, phase: 'sigma_min(J)', ...opts });
  if (!r.converged || !(r.value > 0)) return la.symmetricEigenvalues(G.slice(), n)[0] ?? null;
  return 1 / r.value - delta;
}
