// See linalg.h. Compiled into the addon only with NARROWSWEEP_LAPACK.
#if defined(NARROWSWEEP_LAPACK)
#include "linalg.h"

#include <cblas.h>
#include <lapacke.h>
#include <stdlib.h>

#include <algorithm>

// OpenBLAS's own entry points (declared here too, since <cblas.h> may be another BLAS's header).
extern "C" {
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char* openblas_get_config(void);
}

namespace narrowsweep {

void linalg_init() { openblas_set_num_threads(1); }

const char* linalg_name() { return openblas_get_config(); }

int linalg_threads() { return openblas_get_num_threads(); }

// X X^T, lower triangle, n x n (dsyrk): the same for every Gram matrix of a problem, so the
// caller may keep it (lm takes one Gram matrix per iteration, a run two for its certificates).
bool gram_xx(const LinViews& v, int n, double* XX) {
  cblas_dsyrk(CblasRowMajor, CblasLower, CblasNoTrans, n, v.dx, 1.0, v.X, v.dx, 0.0, XX, n);
  return true;
}

// Block rows of B rows: for rows i0..i0+b and columns 0..i0+b (the lower triangle and the
// diagonal block), DD = D_b D^T by dgemm, G = XX .* DD (+ A_b A^T), then the lower triangle is
// mirrored. XX is the caller's X X^T (gram_xx), or null: then X_b X^T is formed per block.
// Scratch: 2 B n doubles.
bool gram_blas(const LinViews& v, int n, double* G, int withV, const double* XXfull) {
  const int B = 256;
  const size_t nn = size_t(n);
  double* XX = XXfull ? nullptr : static_cast<double*>(malloc(sizeof(double) * size_t(B) * nn));
  double* T = static_cast<double*>(malloc(sizeof(double) * size_t(B) * nn));
  if ((!XXfull && !XX) || !T) {
    free(XX);
    free(T);
    return false;
  }
  for (int i0 = 0; i0 < n; i0 += B) {
    const int b = std::min(B, n - i0), cols = i0 + b;
    if (!XXfull)
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b, cols, v.dx, 1.0, v.X + size_t(i0) * v.dx, v.dx, v.X,
                  v.dx, 0.0, XX, cols);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b, cols, v.mpd, 1.0, v.D + size_t(i0) * v.mpd, v.mpd, v.D,
                v.mpd, 0.0, T, cols);
    for (int r = 0; r < b; r++) {
      double* g = G + size_t(i0 + r) * nn;
      const double* xx = XXfull ? XXfull + size_t(i0 + r) * nn : XX + size_t(r) * cols;
      const double* dd = T + size_t(r) * cols;
      for (int c = 0; c <= i0 + r; c++) g[c] = xx[c] * dd[c];
    }
    if (withV) {
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b, cols, v.mpd, 1.0, v.A + size_t(i0) * v.mpd, v.mpd,
                  v.A, v.mpd, 0.0, T, cols);
      for (int r = 0; r < b; r++) {
        double* g = G + size_t(i0 + r) * nn;
        const double* aa = T + size_t(r) * cols;
        for (int c = 0; c <= i0 + r; c++) g[c] += aa[c];
      }
    }
  }
  free(XX);
  free(T);
  for (size_t i = 0; i < nn; i++)
    for (size_t c = i + 1; c < nn; c++) G[i * nn + c] = G[c * nn + i];
  return true;
}

int cholesky_lower(double* A, int n) { return LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'U', n, A, n); }

int cholesky_solve(const double* L, int n, double* b) {
  return LAPACKE_dpotrs(LAPACK_COL_MAJOR, 'U', n, 1, L, n, b, n);
}

int symmetric_eigenvalues(double* A, int n, double* w) {
  // The two-stage reduction: 1.7x faster than dsyevd's at n = 4000 on this machine (bench notes).
  return LAPACKE_dsyevd_2stage(LAPACK_COL_MAJOR, 'N', 'U', n, A, n, w);
}

}  // namespace narrowsweep
#endif
