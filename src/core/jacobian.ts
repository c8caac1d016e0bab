// The Jacobian J of F(W, v) = s(XW) v (METHOD.md section 2), used matrix-free:
// row i, block j of J_W is v_j s'(x_i . w_j) x_i; the v block is J_v = A = s(XW).
// Every function here is O(n d m) or the O(n^2 (d + m)) Gram matrix; none is on the training step.
// This is the TypeScript path and the oracle; engines with a compiled Jacobian
// (Problem.linearize) take its place in a run.
import { act, dact } from './activations.js';
import type { Activation, FloatArray, Linearization, Problem } from './types.js';

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
 * The Jacobian at the problem's current W, v: the engine's compiled one when it has it, else this
 * file's TypeScript one (with the engine's Gram matrix when it has that). Valid while W and v stay.
 */
export function linearize(prob: Problem, X: Float64Array): Linearization {
  if (prob.linearize) return prob.linearize();
  const J = jacobianAt(X, prob.n, prob.d, prob.m, prob.W, prob.v, prob.activation);
  return {
    n: J.n, d: J.d, m: J.m,
    jvp: (dW, dv, out) => { jvp(J, dW, dv, out); },
    vjp: (z, gW, gv) => { vjp(J, z, gW, gv); },
    gram: prob.gram ? (G, withV) => { prob.gram!(G, withV); } : (G, withV) => { gramTS(J, withV, G); },
  };
}
