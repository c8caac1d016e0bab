// The Jacobian J of F(W, v) = s(XW) v (METHOD.md section 2), used matrix-free:
// row i, block j of J_W is v_j s'(x_i . w_j) x_i; the v block is J_v = A = s(XW).
// Every function here is O(n d m) or the O(n^2 (d + m)) Gram matrix; none is on the training step.
import { act, dact } from './activations.js';
import type { Activation, FloatArray } from './types.js';

/** The data and the point at which J is taken, with s(Z) and v .* s'(Z) precomputed. */
export interface JacobianAt {
  n: number; d: number; m: number;
  X: Float64Array;
  /** A = s(XW), n x m. */
  A: Float64Array;
  /** D_ij = v_j s'(z_ij), n x m. */
  D: Float64Array;
}

export function jacobianAt(X: Float64Array, n: number, d: number, m: number, W: FloatArray, v: FloatArray, a: Activation): JacobianAt {
  const A = new Float64Array(n * m), D = new Float64Array(n * m);
  const z = new Float64Array(m);
  for (let i = 0; i < n; i++) {
    z.fill(0);
    for (let k = 0; k < d; k++) {
      const xik = X[i * d + k]!;
      for (let j = 0; j < m; j++) z[j]! += xik * W[k * m + j]!;
    }
    for (let j = 0; j < m; j++) {
      A[i * m + j] = act(a, z[j]!);
      D[i * m + j] = v[j]! * dact(a, z[j]!);
    }
  }
  return { n, d, m, X, A, D };
}

/** out = J u for u = (dW, dv) (dv may be null: the W block only). out has n entries. */
export function jvp(J: JacobianAt, dW: Float64Array, dv: Float64Array | null, out: Float64Array): Float64Array {
  const { n, d, m, X, A, D } = J;
  const t = new Float64Array(m);
  for (let i = 0; i < n; i++) {
    t.fill(0);
    for (let k = 0; k < d; k++) {
      const xik = X[i * d + k]!;
      for (let j = 0; j < m; j++) t[j]! += xik * dW[k * m + j]!;
    }
    let s = 0;
    for (let j = 0; j < m; j++) s += D[i * m + j]! * t[j]!;
    if (dv) for (let j = 0; j < m; j++) s += A[i * m + j]! * dv[j]!;
    out[i] = s;
  }
  return out;
}

/** (gW, gv) = J^T z. gv may be null (W block only). */
export function vjp(J: JacobianAt, z: Float64Array, gW: Float64Array, gv: Float64Array | null): void {
  const { n, d, m, X, A, D } = J;
  gW.fill(0);
  if (gv) gv.fill(0);
  const g = new Float64Array(m);
  for (let i = 0; i < n; i++) {
    const zi = z[i]!;
    for (let j = 0; j < m; j++) g[j] = zi * D[i * m + j]!;
    for (let k = 0; k < d; k++) {
      const xik = X[i * d + k]!;
      for (let j = 0; j < m; j++) gW[k * m + j]! += xik * g[j]!;
    }
    if (gv) for (let j = 0; j < m; j++) gv[j]! += A[i * m + j]! * zi;
  }
}

/**
 * Gram matrix G = J J^T (n x n, full symmetric): (X X^T) .* (D D^T), plus A A^T when `withV`.
 */
export function gramTS(J: JacobianAt, withV: boolean, G: Float64Array): Float64Array {
  const { n, d, m, X, A, D } = J;
  for (let i = 0; i < n; i++) {
    for (let k = 0; k <= i; k++) {
      let xx = 0;
      for (let c = 0; c < d; c++) xx += X[i * d + c]! * X[k * d + c]!;
      let dd = 0, aa = 0;
      for (let j = 0; j < m; j++) dd += D[i * m + j]! * D[k * m + j]!;
      if (withV) for (let j = 0; j < m; j++) aa += A[i * m + j]! * A[k * m + j]!;
      const g = xx * dd + aa;
      G[i * n + k] = g;
      G[k * n + i] = g;
    }
  }
  return G;
}

/**
 * lambda_max(J J^T) by power iteration on J^T J (matrix-free), from a fixed start so the result
 * is deterministic. Relative tolerance `tol` on successive Rayleigh quotients.
 */
export function lambdaMax(J: JacobianAt, withV: boolean, start: Float64Array, tol = 1e-6, maxIter = 500): number {
  const { n, d, m } = J;
  const uW = new Float64Array(d * m), uv = withV ? new Float64Array(m) : null;
  uW.set(start.subarray(0, d * m));
  if (uv) uv.set(start.subarray(d * m, d * m + m));
  const Ju = new Float64Array(n);
  let lambda = 0;
  for (let it = 0; it < maxIter; it++) {
    let nrm = 0;
    for (let q = 0; q < uW.length; q++) nrm += uW[q]! * uW[q]!;
    if (uv) for (let j = 0; j < m; j++) nrm += uv[j]! * uv[j]!;
    nrm = Math.sqrt(nrm);
    if (nrm === 0) return 0;
    for (let q = 0; q < uW.length; q++) uW[q]! /= nrm;
    if (uv) for (let j = 0; j < m; j++) uv[j]! /= nrm;
    jvp(J, uW, uv, Ju);
    let next = 0;
    for (let i = 0; i < n; i++) next += Ju[i]! * Ju[i]!; // u^T J^T J u with ||u|| = 1
    vjp(J, Ju, uW, uv);
    if (it > 2 && Math.abs(next - lambda) <= tol * next) return next;
    lambda = next;
  }
  return lambda;
}
