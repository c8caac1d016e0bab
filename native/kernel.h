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

struct KernelTable {
  const char* name;
  // Copies X (n x d row-major) and y once; nullptr when out of memory.
  void* (*create)(const double* X, const double* y, int n, int d, int m, int act, int f32);
  void (*destroy)(void* p);
  // Fused step over all rows (useRows = 0, b = n) or rows[0..b): writes gW, gv; returns sum r_i^2.
  double (*step)(void* p, const JsBufs* js, int b, int useRows);
  // Predictions over all rows into F; returns sum r_i^2.
  double (*forward)(void* p, const JsBufs* js);
  // Tangent-kernel Gram matrix into G (n x n); returns 0, or -1 when out of memory.
  int (*gram)(void* p, const JsBufs* js, double* G, int withV);
};

const KernelTable* kernels_generic();
#if defined(NARROWSWEEP_X86)
const KernelTable* kernels_avx2();
const KernelTable* kernels_avx512();
#endif

}  // namespace narrowsweep

#endif
