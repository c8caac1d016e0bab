// AVX2 + FMA build of the kernels (compiled with -mavx2 -mfma).
// 16 ymm registers: 4-row x 3-vector tiles (12 accumulators).
#define NS_VB 32
#define NS_R 4
#define NS_C 3
#define NS_NAME "avx2"
#define NS_GETTER kernels_avx2
#include "kernel_impl.h"
