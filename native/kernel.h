// The interface between the N-API layer (addon.cc) and the compiled kernels.
//
// The kernel sources are built several times with different instruction sets (kernel_avx512.cc,
// kernel_avx2.cc, kernel_generic.cc); each build exposes one KernelTable and nothing else, so no
// inline function compiled for AVX-512 can be picked by the linker for a CPU without it.
#ifndef NARROWSWEEP_KERNEL_H
#define NARROWSWEEP_KERNEL_H

#include <stdint.h>

namespace narrowsweep {

// Buffers owned by JavaScript (typed arrays); the kernels read and write them in place.
struct JsBufs {
  void* W;             // d x m row-major (Float64Array or Float32Array)
  void* v;             // m
  void* gW;            // d x m
  void* gv;            // m
  void* F;             // n
  const int32_t* rows; // n (minibatch row indices)
};

// The linearization's arrays, for the BLAS products in the addon: X (n x dx), A and D (n x mpd),
// row-major doubles, zero padded.
struct LinViews {
  const double* X;
  const double* A;
  const double* D;
  int dx;
  int mpd;
};

struct KernelTable {
  const char* name;
  // Copies X (n x d row-major) and y once; nullptr when out of memory.
  void* (*create)(const double* X, const double* y, int n, int d, int m, int act, int f32);
  void (*destroy)(void* p);
  // Fused step over all rows (useRows = 0, b = n) or rows[0..b): writes gW, gv; returns sum r_i^2.
  double (*step)(void* p, const JsBufs* js, int b, int useRows);
  // Predictions over all rows into F; returns sum r_i^2.
  double (*forward)(void* p, const JsBufs* js);
  // The Jacobian at the current W, v (in double): stores A = s(XW), D = v .* s'(XW); returns 0, or
  // -1 when out of memory. The four entries below use the last linearization.
  int (*linearize)(void* p, const JsBufs* js);
  int (*linearized)(void* p);
  void (*views)(void* p, LinViews* out);
  // out (n) = J (dW, dv); dW is d x m, dv (m) may be null (the W block only).
  void (*jvp)(void* p, const double* dW, const double* dv, double* out);
  // (gW, gv) = J^T z; gv may be null.
  void (*vjp)(void* p, const double* z, double* gW, double* gv);
  // G = J J^T (n x n, full) by register tiles: the path without BLAS.
  void (*gram_tiles)(void* p, double* G, int withV);
};

const KernelTable* kernels_generic();
#if defined(NARROWSWEEP_X86)
const KernelTable* kernels_avx2();
const KernelTable* kernels_avx512();
#endif

}  // namespace narrowsweep

#endif
