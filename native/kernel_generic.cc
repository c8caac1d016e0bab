// Portable build of the kernels: the compiler's baseline for the target (SSE2 on x86-64, NEON on
// arm64), 16-byte vectors, 4-row x 3-vector tiles.
#define NS_VB 16
#define NS_R 4
#define NS_C 3
#define NS_NAME "generic"
#define NS_GETTER kernels_generic
#include "kernel_impl.h"
