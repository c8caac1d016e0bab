// Dense symmetric linear algebra on flat row-major Float64Arrays, for the n x n Gram matrix J J^T:
// Cholesky (lm steps, the auto radius) and eigenvalues (sigma_min certificate). This is the
// TypeScript path (tsLinalg), used when the engine brings no LAPACK (src/engines/native.ts does,
// through OpenBLAS), and the oracle the compiled path is tested against.
// Written here rather than taken from ml-matrix: that library always accumulates eigenvectors
// (3-4x the work of eigenvalues alone) and works on its own Matrix objects, which would mean a copy
// of the n x n matrix per call inside the lm loop.
import type { DenseLinalg } from './types.js';

/** In-place Cholesky: the lower triangle of A becomes L with A = L L^T. Returns false if A is not positive definite. */
export function cholesky(A: Float64Array, n: number): boolean {
  for (let j = 0; j < n; j++) {
    let s = A[j * n + j]!;
    for (let k = 0; k < j; k++) { const l = A[j * n + k]!; s -= l * l; }
    if (!(s > 0)) return false;
    const Ljj = Math.sqrt(s);
    A[j * n + j] = Ljj;
    for (let i = j + 1; i < n; i++) {
      let t = A[i * n + j]!;
      for (let k = 0; k < j; k++) t -= A[i * n + k]! * A[j * n + k]!;
      A[i * n + j] = t / Ljj;
    }
  }
  return true;
}

/** Solves L L^T x = b given the factor from `cholesky`; b is overwritten with x. */
export function choleskySolve(L: Float64Array, n: number, b: Float64Array): Float64Array {
  for (let i = 0; i < n; i++) {
    let t = b[i]!;
    for (let k = 0; k < i; k++) t -= L[i * n + k]! * b[k]!;
    b[i] = t / L[i * n + i]!;
  }
  for (let i = n - 1; i >= 0; i--) {
    let t = b[i]!;
    for (let k = i + 1; k < n; k++) t -= L[k * n + i]! * b[k]!;
    b[i] = t / L[i * n + i]!;
  }
  return b;
}

/**
 * All eigenvalues of a symmetric matrix, ascending: Householder reduction to tridiagonal form
 * followed by the implicit QL method (EISPACK tred1 + tql1). Backward stable: each eigenvalue is
 * accurate to a few eps * ||A||. `A` is overwritten.
 */
export function symmetricEigenvalues(A: Float64Array, n: number): Float64Array {
  const dg = new Float64Array(n), e = new Float64Array(n);
  for (let i = n - 1; i > 0; i--) {
    const l = i - 1;
    let h = 0;
    if (l > 0) {
      let scale = 0;
      for (let k = 0; k <= l; k++) scale += Math.abs(A[i * n + k]!);
      if (scale === 0) {
        e[i] = A[i * n + l]!;
      } else {
        for (let k = 0; k <= l; k++) { const a = A[i * n + k]! / scale; A[i * n + k] = a; h += a * a; }
        let f = A[i * n + l]!;
        let g = f >= 0 ? -Math.sqrt(h) : Math.sqrt(h);
        e[i] = scale * g;
        h -= f * g;
        A[i * n + l] = f - g;
        f = 0;
        for (let j = 0; j <= l; j++) {
          g = 0;
          for (let k = 0; k <= j; k++) g += A[j * n + k]! * A[i * n + k]!;
          for (let k = j + 1; k <= l; k++) g += A[k * n + j]! * A[i * n + k]!;
          e[j] = g / h;
          f += e[j]! * A[i * n + j]!;
        }
        const hh = f / (h + h);
        for (let j = 0; j <= l; j++) {
          const fj = A[i * n + j]!;
          const gj = e[j]! - hh * fj;
          e[j] = gj;
          for (let k = 0; k <= j; k++) A[j * n + k] = A[j * n + k]! - (fj * e[k]! + gj * A[i * n + k]!);
        }
      }
    } else {
      e[i] = A[i * n + l]!;
    }
    dg[i] = h;
  }
  for (let i = 0; i < n; i++) dg[i] = A[i * n + i]!;
  tql(dg, e, n, null);
  dg.sort();
  return dg;
}

/**
 * The largest eigenvalue theta of the symmetric tridiagonal matrix with diagonal `alpha` (k
 * entries) and off-diagonal `beta` (k - 1), and the last component s of its unit eigenvector: the
 * top Ritz pair of a Lanczos run, whose residual is |beta_k s| (src/core/lanczos.ts).
 */
export function tridiagonalTop(alpha: ArrayLike<number>, beta: ArrayLike<number>): { theta: number; s: number } {
  const k = alpha.length;
  const d = Float64Array.from(alpha), e = new Float64Array(k);
  for (let i = 1; i < k; i++) e[i] = beta[i - 1]!;
  const z = new Float64Array(k);
  z[k - 1] = 1; // the last row of the identity; the QL rotations turn it into the eigenvectors' last row
  tql(d, e, k, z);
  let top = 0;
  for (let i = 1; i < k; i++) if (d[i]! > d[top]!) top = i;
  return { theta: d[top]!, s: z[top]! };
}

/**
 * Implicit QL on a tridiagonal matrix (diagonal d, subdiagonal e[1..n-1]); eigenvalues into d, in
 * no particular order. With `z`, one row of the eigenvector matrix is carried along (start it at a
 * row of the identity): EISPACK tql2's vector update restricted to that row.
 */
function tql(d: Float64Array, e: Float64Array, n: number, z: Float64Array | null): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i]!;
  if (n > 0) e[n - 1] = 0;
  // e[m] is negligible when it is tiny against its neighbours on the diagonal, or against the
  // whole matrix (eps ||T||: the backward error the method has anyway). The second test matters
  // for rank-deficient Gram matrices (e.g. rows of zeros where tanh saturates): near a cluster of
  // zero eigenvalues the first test alone, or EISPACK's running maximum, never deflates.
  let normT = 0;
  for (let i = 0; i < n; i++) normT = Math.max(normT, Math.abs(d[i]!) + Math.abs(e[i]!) + (i > 0 ? Math.abs(e[i - 1]!) : 0));
  const tiny = Number.EPSILON * normT;
  for (let l = 0; l < n; l++) {
    let iter = 0;
    let m: number;
    do {
      for (m = l; m < n - 1; m++) {
        const em = Math.abs(e[m]!);
        if (em <= tiny || em <= Number.EPSILON * (Math.abs(d[m]!) + Math.abs(d[m + 1]!))) break;
      }
      if (m !== l) {
        if (iter++ === 60) throw new Error('symmetricEigenvalues: QL iteration did not converge');
        let g = (d[l + 1]! - d[l]!) / (2 * e[l]!);
        let r = Math.hypot(g, 1);
        g = d[m]! - d[l]! + e[l]! / (g + (g >= 0 ? Math.abs(r) : -Math.abs(r)));
        let s = 1, c = 1, p = 0;
        let i: number;
        let underflow = false;
        for (i = m - 1; i >= l; i--) {
          const f = s * e[i]!;
          const b = c * e[i]!;
          r = Math.hypot(f, g);
          e[i + 1] = r;
          if (r === 0) { d[i + 1] = d[i + 1]! - p; e[m] = 0; underflow = true; break; }
          s = f / r; c = g / r;
          g = d[i + 1]! - p;
          r = (d[i]! - g) * s + 2 * c * b;
          p = s * r;
          d[i + 1] = g + p;
          g = c * r - b;
          if (z) { const zf = z[i + 1]!; z[i + 1] = s * z[i]! + c * zf; z[i] = c * z[i]! - s * zf; }
        }
        if (underflow) continue;
        d[l] = d[l]! - p; e[l] = g; e[m] = 0;
      }
    } while (m !== l);
  }
}

/** The TypeScript dense linear algebra of this file, as the core's default DenseLinalg. */
export const tsLinalg: DenseLinalg = {
  name: 'TypeScript',
  cholesky,
  choleskySolve,
  symmetricEigenvalues,
};
