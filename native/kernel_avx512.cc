// AVX-512 build of the kernels (compiled with -mavx512f -mavx512dq -mavx512vl -mavx512bw -mfma).
// 32 zmm registers: 8-row x 3-vector tiles (24 accumulators).
#define NS_VB 64
#define NS_R 8
#define NS_C 3
#define NS_NAME "avx512"
#define NS_GETTER kernels_avx512
#include "kernel_impl.h"
