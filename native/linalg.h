// Dense linear algebra from LAPACK and BLAS (OpenBLAS), linked into the addon when the build finds
// them (scripts/detect-lapack.mjs sets NARROWSWEEP_LAPACK). Every matrix is a row-major n x n
// Float64Array of JavaScript's; a symmetric row-major matrix is its own column-major transpose,
// so the routines run in place with uplo 'U' on the row-major lower triangle, with no copy.
#ifndef NARROWSWEEP_LINALG_H
#define NARROWSWEEP_LINALG_H

#include "kernel.h"

namespace narrowsweep {

#if defined(NARROWSWEEP_LAPACK)
// Runs once when the addon loads: one BLAS thread per caller, since the pool's worker threads
// already use every core.
void linalg_init();
// "OpenBLAS 0.3.21 ..." (the library's own configuration string).
const char* linalg_name();
int linalg_threads();
// X X^T (lower triangle) into XX, n x n.
bool gram_xx(const LinViews& v, int n, double* XX);
// G = (X X^T) .* (D D^T) + [withV] A A^T, full and exactly symmetric; XX from gram_xx, or null to
// form X X^T block by block. False when out of memory.
bool gram_blas(const LinViews& v, int n, double* G, int withV, const double* XX);
// In-place Cholesky: the lower triangle becomes L with A = L L^T. LAPACK's info (0: done).
int cholesky_lower(double* A, int n);
// b = (L L^T)^-1 b with the factor from cholesky_lower.
int cholesky_solve(const double* L, int n, double* b);
// All eigenvalues of the symmetric A, ascending (A is destroyed). LAPACK's info.
int symmetric_eigenvalues(double* A, int n, double* w);
#endif

}  // namespace narrowsweep

#endif
