// The fused step, forward pass and Gram matrix, written once with GCC/Clang vector extensions and
// compiled once per instruction set. The including file defines:
//   NS_VB      vector register width in bytes (64 avx512, 32 avx2, 16 generic)
//   NS_R       rows of a register tile (rows of Z, or rows k of gW)
//   NS_C       most vectors (of NS_VB bytes) across a register tile
//   NS_NAME    variant name, NS_GETTER the name of the function returning its KernelTable.
// Everything here has internal linkage (anonymous namespace): see kernel.h for why.
//
// The math is METHOD.md section 1, as in src/core/reference.ts:
//   Z = X_B W, A = s(Z), F = A v, r = F - y_B, gv = A^T r / b, gW = X_B^T ((r v^T) .* s'(Z)) / b.
// Rows are taken in superblocks of S rows: Z_S = X_S W (register tiles over d), then per row the
// activation, F, r and G = (r v^T) .* s'(Z) (in place of Z_S), then gW += X_S^T G_S (register
// tiles over the S rows). So each row of X is read from cache, not memory, for both products.
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernel.h"

#if defined(__SSE2__)
#include <immintrin.h>  // movemask only; its functions are gnu_inline, so they add no symbols
#endif

#define NS_INLINE inline __attribute__((always_inline))

namespace narrowsweep {
namespace {

typedef double vd __attribute__((vector_size(NS_VB)));
typedef double vd_u __attribute__((vector_size(NS_VB), aligned(8), may_alias));
typedef float vf __attribute__((vector_size(NS_VB)));
typedef float vf_u __attribute__((vector_size(NS_VB), aligned(4), may_alias));
typedef long long vl __attribute__((vector_size(NS_VB)));
typedef unsigned long long vul __attribute__((vector_size(NS_VB)));
// Activations of a float vector are evaluated in double, on a double vector twice as wide.
typedef double vd2 __attribute__((vector_size(2 * NS_VB)));
typedef long long vl2 __attribute__((vector_size(2 * NS_VB)));
typedef unsigned long long vul2 __attribute__((vector_size(2 * NS_VB)));

template <class T> struct VT;
template <> struct VT<double> {
  typedef vd V;
  typedef vd_u VU;
  enum { N = NS_VB / 8 };
};
template <> struct VT<float> {
  typedef vf V;
  typedef vf_u VU;
  enum { N = NS_VB / 4 };
};
template <class VD> struct IT;
template <> struct IT<vd> { typedef vl L; typedef vul UL; enum { N = NS_VB / 8 }; };
template <> struct IT<vd2> { typedef vl2 L; typedef vul2 UL; enum { N = NS_VB / 4 }; };

template <class T> static inline typename VT<T>::V ld(const T* p) {
  return *reinterpret_cast<const typename VT<T>::VU*>(p);
}
template <class T> static inline void st(T* p, typename VT<T>::V x) {
  *reinterpret_cast<typename VT<T>::VU*>(p) = x;
}
// s - 0 is s for every s (also -0 and NaN), so this folds to one broadcast; 0 + s would not.
template <class V, class S> static NS_INLINE V splat(S s) { return s - (V){}; }
template <class T> static inline double hsum(typename VT<T>::V x) {
  double s = 0;
  for (int l = 0; l < VT<T>::N; l++) s += x[l];
  return s;
}
static inline int imin(int a, int b) { return a < b ? a : b; }
static inline int imax(int a, int b) { return a > b ? a : b; }

// ---------------------------------------------------------------------------------------------
// Vector elementary functions, accurate to a few ulp (the tests hold them to 1e-12 against
// V8's Math). NaN propagates; large arguments saturate as the scalar functions do.

static const double kShift = 6755399441055744.0;  // 1.5 * 2^52: x + kShift - kShift rounds x
static const double kLn2Hi = 6.93147180369123816490e-01;  // fdlibm split of ln 2
static const double kLn2Lo = 1.90821492927058770002e-10;

template <class VD> static NS_INLINE VD vabs(VD x) {
  typedef typename IT<VD>::L VL;
  return (VD)((VL)x & 0x7fffffffffffffffLL);
}

// e^r - 1 = r + r^2/2! + ... + r^13/13! for |r| <= ln2/2 (truncation < 5e-18 relative), in
// Estrin's form: the activations are latency bound, and this cuts the chain from 13 FMAs to 5.
template <class VD> static NS_INLINE VD expm1_poly(VD r) {
  VD r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
  VD p01 = 1.0 + r * 0.5;
  VD p23 = 1.0 / 6.0 + r * (1.0 / 24.0);
  VD p45 = 1.0 / 120.0 + r * (1.0 / 720.0);
  VD p67 = 1.0 / 5040.0 + r * (1.0 / 40320.0);
  VD p89 = 1.0 / 362880.0 + r * (1.0 / 3628800.0);
  VD p1011 = 1.0 / 39916800.0 + r * (1.0 / 479001600.0);
  VD q0 = p01 + r2 * p23;
  VD q1 = p45 + r2 * p67;
  VD q2 = p89 + r2 * p1011;
  VD s0 = q0 + r4 * q1;
  VD s1 = q2 + r4 * (1.0 / 6227020800.0);
  return r * (s0 + r8 * s1);
}

// e^x for any x: x = k ln2 + r, |r| <= ln2/2, 1 + expm1_poly(r), times 2^k applied as two factors
// so that subnormal results and k = 1024 come out right.
template <class VD> static NS_INLINE VD vexp_wide(VD x) {
  typedef typename IT<VD>::L VL;
  typedef typename IT<VD>::UL VUL;
  const VD hi = splat<VD>(709.8), lo = splat<VD>(-746.0), shift = splat<VD>(kShift);
  VD xc = x > hi ? hi : x;
  xc = xc < lo ? lo : xc;
  VD t = xc * 1.4426950408889634 + shift;
  VD k = t - shift;
  VD r = xc - k * kLn2Hi;
  r = r - k * kLn2Lo;
  VD p = 1.0 + expm1_poly(r);
  VL ki = (VL)t - (VL)shift;
  VL k1 = (VL)((VUL)(ki + 2048) >> 1) - 1024;
  VL k2 = ki - k1;
  VD s1 = (VD)((k1 + 1023) << 52);
  VD s2 = (VD)((k2 + 1023) << 52);
  VD e = p * s1 * s2;
  e = x > 709.782712893384 ? splat<VD>(__builtin_inf()) : e;
  e = x < -745.1332191019412 ? splat<VD>(0.0) : e;
  return e;
}

// Whether any lane of a comparison mask is set (a movemask where the ISA has one).
static NS_INLINE bool any_lane(vl m) {
#if NS_VB == 64 && defined(__AVX__)
  typedef long long vl4 __attribute__((vector_size(32)));
  vl4 lo, hi;
  memcpy(&lo, &m, 32);
  memcpy(&hi, reinterpret_cast<const char*>(&m) + 32, 32);
  return _mm256_movemask_pd(reinterpret_cast<__m256d>(lo | hi)) != 0;
#elif NS_VB == 32 && defined(__AVX__)
  return _mm256_movemask_pd(reinterpret_cast<__m256d>(m)) != 0;
#elif NS_VB == 16 && defined(__SSE2__)
  return _mm_movemask_pd(reinterpret_cast<__m128d>(m)) != 0;
#else
  long long a = 0;
  for (int l = 0; l < NS_VB / 8; l++) a |= m[l];
  return a != 0;
#endif
}
static NS_INLINE bool any_lane(vl2 m) {
  vl lo, hi;
  memcpy(&lo, &m, NS_VB);
  memcpy(&hi, reinterpret_cast<const char*>(&m) + NS_VB, NS_VB);
  return any_lane(lo | hi);
}

// e^x: when every |x| <= 708 (no overflow, no subnormal result) one 2^k scale does; otherwise the
// careful version above. NaN takes the fast path and stays NaN.
template <class VD> static NS_INLINE VD vexp(VD x) {
  typedef typename IT<VD>::L VL;
  if (__builtin_expect(any_lane((VL)(vabs(x) > 708.0)), 0)) return vexp_wide(x);
  const VD shift = splat<VD>(kShift);
  VD t = x * 1.4426950408889634 + shift;
  VD k = t - shift;
  VD r = x - k * kLn2Hi;
  r = r - k * kLn2Lo;
  VD p = 1.0 + expm1_poly(r);
  return p * (VD)((((VL)t - (VL)shift) + 1023) << 52);
}

// log1p(u) for u in [0, 1]: log(w), w = 1 + u, by fdlibm's __ieee754_log kernel, plus the rounding
// error of 1 + u divided by w.
template <class VD> static NS_INLINE VD vlog1p01(VD u) {
  VD w = 1.0 + u;
  VD corr = (u - (w - 1.0)) / w;
  auto big = w > 1.4142135623730951;
  VD mant = big ? w * 0.5 : w;
  VD e = big ? splat<VD>(1.0) : splat<VD>(0.0);
  VD f = mant - 1.0;
  VD s = f / (2.0 + f);
  VD z = s * s;
  VD R = splat<VD>(1.479819860511658591e-01);
  R = R * z + 1.531383769920937332e-01;
  R = R * z + 1.818357216161805012e-01;
  R = R * z + 2.222219843214978396e-01;
  R = R * z + 2.857142874366239149e-01;
  R = R * z + 3.999999999940941908e-01;
  R = R * z + 6.666666666666735130e-01;
  R = R * z;
  VD hfsq = 0.5 * f * f;
  VD lg = e * kLn2Hi - ((hfsq - (s * (hfsq + R) + e * kLn2Lo)) - f);
  return lg + corr;
}

// e^y - 1 for y in [0, 40] (no overflow, no NaN handling beyond propagation): y = k ln2 + r,
// expm1 = 2^k (e^r - 1) + (2^k - 1), with e^r - 1 = r + r^2/2 + ... + r^13/13! (no cancellation at
// k = 0, so it is accurate near 0).
template <class VD> static NS_INLINE VD vexpm1_pos(VD y) {
  typedef typename IT<VD>::L VL;
  const VD shift = splat<VD>(kShift);
  VD t = y * 1.4426950408889634 + shift;
  VD k = t - shift;
  // One step suffices: k <= 58, so r is off by at most k |ln2 - fl(ln2)| < 1.4e-15 (with FMA), and
  // by less than 1e-16 while k <= 4; beyond that tanh is within 1e-15 of 1 and hardly moves.
  VD r = y - k * 0.6931471805599453;
  VD em1r = expm1_poly(r);
  VD scale = (VD)((((VL)t - (VL)shift) + 1023) << 52);
  return scale * em1r + (scale - 1.0);
}

// tanh |x| = expm1(2|x|) / (expm1(2|x|) + 2), as fdlibm does; tanh(20) is already 1 in double.
template <class VD> static NS_INLINE VD vtanh(VD x) {
  typedef typename IT<VD>::L VL;
  VD ax = vabs(x);
  VD em1 = vexpm1_pos(2.0 * (ax > 20.0 ? splat<VD>(20.0) : ax));
  VD t = em1 / (em1 + 2.0);
  return (VD)((VL)t | ((VL)x & (long long)0x8000000000000000ULL));
}

// sin and cos together: k = round(x 2/pi), r = x - k pi/2 (fdlibm's three 33-bit parts of pi/2,
// exact products for |k| < 2^20), fdlibm's kernels on r, then the quadrant. |x| > 1e5, inf and
// the like go to libm lane by lane.
template <class VD> static NS_INLINE void vsincos(VD x, VD& s, VD& c) {
  typedef typename IT<VD>::L VL;
  typedef typename IT<VD>::UL VUL;
  const VD shift = splat<VD>(kShift);
  VD t = x * 6.36619772367581382433e-01 + shift;
  VD k = t - shift;
  VD r = x - k * 1.57079632673412561417e+00;
  r = r - k * 6.07710050630396597660e-11;
  r = r - k * 2.02226624871116645580e-21;
  VL q = (VL)t & 3;
  VD z = r * r;
  VD ps = splat<VD>(1.58969099521155010221e-10);
  ps = ps * z - 2.50507602534068634195e-08;
  ps = ps * z + 2.75573137070700676789e-06;
  ps = ps * z - 1.98412698298579493134e-04;
  ps = ps * z + 8.33333333332248946124e-03;
  ps = ps * z - 1.66666666666666324348e-01;
  VD sr = r + r * z * ps;
  VD pc = splat<VD>(-1.13596475577881948265e-11);
  pc = pc * z + 2.08757232129817482790e-09;
  pc = pc * z - 2.75573143513906633035e-07;
  pc = pc * z + 2.48015872894767294178e-05;
  pc = pc * z - 1.38888888888741095749e-03;
  pc = pc * z + 4.16666666666666019037e-02;
  VD hz = 0.5 * z;
  VD w = 1.0 - hz;
  VD cr = w + (((1.0 - w) - hz) + z * z * pc);
  auto swap = (q & 1) != 0;
  VD sv = swap ? cr : sr;
  VD cv = swap ? sr : cr;
  VUL sneg = (VUL)(q & 2) << 62;
  VUL cneg = (VUL)((q + 1) & 2) << 62;
  s = (VD)((VUL)sv ^ sneg);
  c = (VD)((VUL)cv ^ cneg);
  VL big = (VL)(vabs(x) > 1e5);
  long long any = 0;
  for (int l = 0; l < IT<VD>::N; l++) any |= big[l];
  if (__builtin_expect(any != 0, 0)) {
    for (int l = 0; l < IT<VD>::N; l++) {
      if (big[l]) {
        s[l] = sin(x[l]);
        c[l] = cos(x[l]);
      }
    }
  }
}

// The activation codes of src/core/types.ts (ACTIVATION_CODE) and the formulas of
// src/core/activations.ts, value and derivative.
enum { kTanh = 0, kSigmoid = 1, kSoftplus = 2, kSwish = 3, kGelu = 4, kSin = 5, kRelu = 6 };
static const double kGeluC = 0.7978845608028654;  // sqrt(2/pi), as Math.sqrt(2 / Math.PI)
static const double kGeluA = 0.044715;

template <int ACT, bool DERIV, class VD> static NS_INLINE void actv(VD z, VD& a, VD& ds) {
  if constexpr (ACT == kTanh) {
    VD t = vtanh(z);
    a = t;
    if constexpr (DERIV) ds = 1.0 - t * t;
  } else if constexpr (ACT == kSigmoid) {
    VD s = 1.0 / (1.0 + vexp(-z));
    a = s;
    if constexpr (DERIV) ds = s * (1.0 - s);
  } else if constexpr (ACT == kSoftplus) {
    VD u = vexp(-vabs(z));
    a = (z > 0.0 ? z : splat<VD>(0.0)) + vlog1p01(u);
    if constexpr (DERIV) {
      VD qq = 1.0 / (1.0 + u);
      ds = z >= 0.0 ? qq : u * qq;
    }
  } else if constexpr (ACT == kSwish) {
    VD s = 1.0 / (1.0 + vexp(-z));
    a = z * s;
    if constexpr (DERIV) ds = s + z * s * (1.0 - s);
  } else if constexpr (ACT == kGelu) {
    VD u = kGeluC * (z + kGeluA * z * z * z);
    VD t = vtanh(u);
    a = 0.5 * z * (1.0 + t);
    if constexpr (DERIV) ds = 0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * kGeluC * (1.0 + 3.0 * kGeluA * z * z);
  } else if constexpr (ACT == kSin) {
    VD s, c;
    vsincos(z, s, c);
    a = s;
    if constexpr (DERIV) ds = c;
  } else {
    auto pos = z > 0.0;
    a = pos ? z : splat<VD>(0.0);
    if constexpr (DERIV) ds = pos ? splat<VD>(1.0) : splat<VD>(0.0);
  }
}

template <int ACT, bool DERIV, class T>
static NS_INLINE void act(typename VT<T>::V z, typename VT<T>::V& a, typename VT<T>::V& ds) {
  if constexpr (sizeof(T) == 8) {
    actv<ACT, DERIV>(z, a, ds);
  } else {
    vd2 zz = __builtin_convertvector(z, vd2), aa, dd = {};
    actv<ACT, DERIV>(zz, aa, dd);
    a = __builtin_convertvector(aa, vf);
    if constexpr (DERIV) ds = __builtin_convertvector(dd, vf);
  }
}

// ---------------------------------------------------------------------------------------------
// Problem state. JS owns W, v, gW, gv, F, rows (see JsBufs); the rest lives here.

static void* xalloc(size_t bytes) {
  size_t b = (bytes + 63) & ~size_t(63);
  return aligned_alloc(64, b == 0 ? 64 : b);
}

template <class T> struct Prob {
  int n, d, m, act;
  int mp;  // m rounded up to the vector width: columns of Wp, Z_S, G_S (padding stays zero)
  int dx;  // row stride of X (d rounded up to the vector width, zero padded)
  int S;   // rows per superblock
  T* X;    // n x dx
  T* y;    // n
  T* Wp;   // d x mp, packed from W each call (O(dm), no allocation)
  T* vp;   // mp
  T* gWp;  // d x mp accumulator
  T* gvs;  // mp accumulator
  T* Zs;   // S x mp: Z_S, then G_S
  T* Arow; // mp
  T* yS;   // S
  const T** xr;  // S row pointers into X
  // Gram matrix buffers (double), allocated at the first gram() call.
  int mpd;        // m rounded up to the double vector width
  double* gXd;    // n x dx copy of X (float problems only)
  double* gWd;    // d x mpd
  double* gvd;    // mpd
  double* gA;     // n x mpd
  double* gD;     // n x mpd
  double* gU;     // d x mpd: dW packed for jvp (padding stays zero)
  double* gAcc;   // d x mpd: the vjp accumulator
  double* gS;     // Sd x mpd: one superblock of X dW or z .* D
  const double** gxr;  // row pointers into the double X, all n rows
  int Sd;         // rows per superblock of the double products
  int linearized; // whether gA, gD hold a linearization
};

template <class T> static void destroy_prob(Prob<T>* p) {
  if (!p) return;
  free(p->X); free(p->y); free(p->Wp); free(p->vp); free(p->gWp); free(p->gvs); free(p->Zs);
  free(p->Arow); free(p->yS); free(p->xr);
  free(p->gXd); free(p->gWd); free(p->gvd); free(p->gA); free(p->gD); free(p->gU); free(p->gAcc); free(p->gS);
  free(p->gxr);
  free(p);
}

template <class T> static Prob<T>* create_prob(const double* X, const double* y, int n, int d, int m, int act) {
  const int N = VT<T>::N;
  Prob<T>* p = static_cast<Prob<T>*>(calloc(1, sizeof(Prob<T>)));
  if (!p) return nullptr;
  p->n = n; p->d = d; p->m = m; p->act = act;
  p->mp = (m + N - 1) / N * N;
  p->dx = (d + N - 1) / N * N;
  const int Nd = VT<double>::N;
  p->mpd = (m + Nd - 1) / Nd * Nd;
  // Superblock: Z_S should stay in L1 and X_S in L2 while both products use them.
  long s1 = 16384 / (long(p->mp) * long(sizeof(T)));
  long s2 = 196608 / (long(p->dx) * long(sizeof(T)));
  long S = s1 < s2 ? s1 : s2;
  if (S > 256) S = 256;
  S -= S % NS_R;
  if (S < NS_R) S = NS_R;
  p->S = int(S);
  long sd = 16384 / (long(p->mpd) * 8);
  const long sd2 = 196608 / (long(p->dx) * 8);
  if (sd2 < sd) sd = sd2;
  if (sd > 256) sd = 256;
  sd -= sd % NS_R;
  if (sd < NS_R) sd = NS_R;
  p->Sd = int(sd);
  const size_t nn = size_t(n);
  p->X = static_cast<T*>(xalloc(nn * p->dx * sizeof(T)));
  p->y = static_cast<T*>(xalloc(nn * sizeof(T)));
  p->Wp = static_cast<T*>(xalloc(size_t(d) * p->mp * sizeof(T)));
  p->vp = static_cast<T*>(xalloc(size_t(p->mp) * sizeof(T)));
  p->gWp = static_cast<T*>(xalloc(size_t(d) * p->mp * sizeof(T)));
  p->gvs = static_cast<T*>(xalloc(size_t(p->mp) * sizeof(T)));
  p->Zs = static_cast<T*>(xalloc(size_t(p->S) * p->mp * sizeof(T)));
  p->Arow = static_cast<T*>(xalloc(size_t(p->mp) * sizeof(T)));
  p->yS = static_cast<T*>(xalloc(size_t(p->S) * sizeof(T)));
  p->xr = static_cast<const T**>(xalloc(size_t(p->S) * sizeof(T*)));
  if (!p->X || !p->y || !p->Wp || !p->vp || !p->gWp || !p->gvs || !p->Zs || !p->Arow || !p->yS || !p->xr) {
    destroy_prob(p);
    return nullptr;
  }
  for (size_t i = 0; i < nn; i++) {
    T* row = p->X + i * p->dx;
    for (int k = 0; k < d; k++) row[k] = T(X[i * d + k]);
    for (int k = d; k < p->dx; k++) row[k] = 0;
    p->y[i] = T(y[i]);
  }
  memset(p->Wp, 0, size_t(d) * p->mp * sizeof(T));
  memset(p->vp, 0, size_t(p->mp) * sizeof(T));
  return p;
}

// ---------------------------------------------------------------------------------------------
// Register tiles. zk: Z tile (R rows x C vectors) = X_rows W over k < d.
template <class T, int R, int C>
static inline void zk(const T* const* xr, const T* Wc, int mp, int d, T* Zc) {
  typedef typename VT<T>::V V;
  const int N = VT<T>::N;
  V acc[R][C];
  for (int r = 0; r < R; r++)
    for (int c = 0; c < C; c++) acc[r][c] = (V){};
  const T* xp[R];
  for (int r = 0; r < R; r++) xp[r] = xr[r];
  for (int k = 0; k < d; k++) {
    const T* w = Wc + size_t(k) * mp;
    V wv[C];
    for (int c = 0; c < C; c++) wv[c] = ld<T>(w + c * N);
    for (int r = 0; r < R; r++) {
      V xb = splat<V>(xp[r][k]);
      for (int c = 0; c < C; c++) acc[r][c] += xb * wv[c];
    }
  }
  for (int r = 0; r < R; r++)
    for (int c = 0; c < C; c++) st<T>(Zc + size_t(r) * mp + c * N, acc[r][c]);
}

// gk: gW tile (K rows k0.. x C vectors) += sum over the superblock's rows s of x_s[k] G_s.
template <class T, int K, int C>
static inline void gk(const T* const* xr, int sb, const T* Gc, int mp, T* gWc, int k0) {
  typedef typename VT<T>::V V;
  const int N = VT<T>::N;
  V acc[K][C];
  for (int kk = 0; kk < K; kk++)
    for (int c = 0; c < C; c++) acc[kk][c] = ld<T>(gWc + size_t(kk) * mp + c * N);
  for (int s = 0; s < sb; s++) {
    const T* g = Gc + size_t(s) * mp;
    V gv[C];
    for (int c = 0; c < C; c++) gv[c] = ld<T>(g + c * N);
    const T* x = xr[s] + k0;
    for (int kk = 0; kk < K; kk++) {
      V xb = splat<V>(x[kk]);
      for (int c = 0; c < C; c++) acc[kk][c] += xb * gv[c];
    }
  }
  for (int kk = 0; kk < K; kk++)
    for (int c = 0; c < C; c++) st<T>(gWc + size_t(kk) * mp + c * N, acc[kk][c]);
}

template <class T, int R, int C>
static inline void zk_if(const T* const* xr, const T* Wc, int mp, int d, T* Zc) {
  if constexpr (R <= NS_R && C <= NS_C) zk<T, R, C>(xr, Wc, mp, d, Zc);
}
template <class T, int K, int C>
static inline void gk_if(const T* const* xr, int sb, const T* Gc, int mp, T* gWc, int k0) {
  if constexpr (K <= NS_R && C <= NS_C) gk<T, K, C>(xr, sb, Gc, mp, gWc, k0);
}

#define NS_SWITCH_C(F, T, R, ARGS) \
  switch (c) {                     \
    case 1: F<T, R, 1> ARGS; break; \
    case 2: F<T, R, 2> ARGS; break; \
    case 3: F<T, R, 3> ARGS; break; \
    case 4: F<T, R, 4> ARGS; break; \
    case 5: F<T, R, 5> ARGS; break; \
    case 6: F<T, R, 6> ARGS; break; \
  }
#define NS_SWITCH_RC(F, T, ARGS)                 \
  switch (r) {                                   \
    case 1: NS_SWITCH_C(F, T, 1, ARGS) break;    \
    case 2: NS_SWITCH_C(F, T, 2, ARGS) break;    \
    case 3: NS_SWITCH_C(F, T, 3, ARGS) break;    \
    case 4: NS_SWITCH_C(F, T, 4, ARGS) break;    \
    case 5: NS_SWITCH_C(F, T, 5, ARGS) break;    \
    case 6: NS_SWITCH_C(F, T, 6, ARGS) break;    \
    case 7: NS_SWITCH_C(F, T, 7, ARGS) break;    \
    case 8: NS_SWITCH_C(F, T, 8, ARGS) break;    \
  }

template <class T>
static void zdisp(int r, int c, const T* const* xr, const T* Wc, int mp, int d, T* Zc) {
  NS_SWITCH_RC(zk_if, T, (xr, Wc, mp, d, Zc))
}
template <class T>
static void gdisp(int r, int c, const T* const* xr, int sb, const T* Gc, int mp, T* gWc, int k0) {
  NS_SWITCH_RC(gk_if, T, (xr, sb, Gc, mp, gWc, k0))
}

// Column chunks: nv vectors split as evenly as possible into chunks of at most NS_C vectors.
struct Chunks {
  int q, base, extra;
  explicit Chunks(int nv) : q((nv + NS_C - 1) / NS_C), base(0), extra(0) {
    base = nv / q;
    extra = nv % q;
  }
  int size(int i) const { return base + (i < extra ? 1 : 0); }
};

// Z (sb rows of xr) into Z (row stride mp).
template <class T>
static void zblock(const T* const* xr, int sb, const T* Wp, int mp, int d, T* Z) {
  const int N = VT<T>::N;
  Chunks ch(mp / N);
  int col = 0;
  for (int ci = 0; ci < ch.q; ci++) {
    const int c = ch.size(ci);
    for (int r0 = 0; r0 < sb; r0 += NS_R) {
      const int r = imin(NS_R, sb - r0);
      zdisp<T>(r, c, xr + r0, Wp + col * N, mp, d, Z + size_t(r0) * mp + col * N);
    }
    col += c;
  }
}

template <class T>
static void gwblock(const T* const* xr, int sb, const T* G, int mp, int d, T* gWp) {
  const int N = VT<T>::N;
  Chunks ch(mp / N);
  int col = 0;
  for (int ci = 0; ci < ch.q; ci++) {
    const int c = ch.size(ci);
    for (int k0 = 0; k0 < d; k0 += NS_R) {
      const int r = imin(NS_R, d - k0);
      gdisp<T>(r, c, xr, sb, G + col * N, mp, gWp + size_t(k0) * mp + col * N, k0);
    }
    col += c;
  }
}

template <class T> static void pack_params(Prob<T>* p, const JsBufs* js) {
  const T* W = static_cast<const T*>(js->W);
  const T* v = static_cast<const T*>(js->v);
  const int m = p->m, mp = p->mp;
  for (int k = 0; k < p->d; k++) memcpy(p->Wp + size_t(k) * mp, W + size_t(k) * m, size_t(m) * sizeof(T));
  memcpy(p->vp, v, size_t(m) * sizeof(T));
}

// One row after Z: activation, F, r, gv += r a, and G = (r v) .* s'(z) in place of z.
template <class T, int ACT>
static inline double row_grad(Prob<T>* p, T* zrow, T yi) {
  typedef typename VT<T>::V V;
  const int N = VT<T>::N, nv = p->mp / N;
  T* Arow = p->Arow;
  const T* vp = p->vp;
  V fv = {};
  for (int c = 0; c < nv; c++) {
    V a, ds;
    act<ACT, true, T>(ld<T>(zrow + c * N), a, ds);
    st<T>(Arow + c * N, a);
    st<T>(zrow + c * N, ds);
    fv += a * ld<T>(vp + c * N);
  }
  const T r = T(hsum<T>(fv)) - yi;
  T* gvs = p->gvs;
  for (int c = 0; c < nv; c++) {
    st<T>(gvs + c * N, ld<T>(gvs + c * N) + r * ld<T>(Arow + c * N));
    st<T>(zrow + c * N, (r * ld<T>(vp + c * N)) * ld<T>(zrow + c * N));
  }
  return double(r) * double(r);
}

template <class T, int ACT> static double step_impl(Prob<T>* p, const JsBufs* js, int b, int useRows) {
  const int d = p->d, m = p->m, mp = p->mp, S = p->S;
  pack_params(p, js);
  memset(p->gWp, 0, size_t(d) * mp * sizeof(T));
  memset(p->gvs, 0, size_t(mp) * sizeof(T));
  double sse = 0;
  for (int s0 = 0; s0 < b; s0 += S) {
    const int sb = imin(S, b - s0);
    for (int r = 0; r < sb; r++) {
      const int i = useRows ? js->rows[s0 + r] : s0 + r;
      p->xr[r] = p->X + size_t(i) * p->dx;
      p->yS[r] = p->y[i];
    }
    zblock<T>(p->xr, sb, p->Wp, mp, d, p->Zs);
    for (int r = 0; r < sb; r++) sse += row_grad<T, ACT>(p, p->Zs + size_t(r) * mp, p->yS[r]);
    gwblock<T>(p->xr, sb, p->Zs, mp, d, p->gWp);
  }
  const T inv = T(1.0 / double(b));
  T* gW = static_cast<T*>(js->gW);
  T* gv = static_cast<T*>(js->gv);
  for (int k = 0; k < d; k++) {
    const T* src = p->gWp + size_t(k) * mp;
    T* dst = gW + size_t(k) * m;
    for (int j = 0; j < m; j++) dst[j] = src[j] * inv;
  }
  for (int j = 0; j < m; j++) gv[j] = p->gvs[j] * inv;
  return sse;
}

template <class T, int ACT> static double forward_impl(Prob<T>* p, const JsBufs* js) {
  typedef typename VT<T>::V V;
  const int N = VT<T>::N, n = p->n, d = p->d, mp = p->mp, S = p->S, nv = mp / N;
  pack_params(p, js);
  T* F = static_cast<T*>(js->F);
  double sse = 0;
  for (int s0 = 0; s0 < n; s0 += S) {
    const int sb = imin(S, n - s0);
    for (int r = 0; r < sb; r++) p->xr[r] = p->X + size_t(s0 + r) * p->dx;
    zblock<T>(p->xr, sb, p->Wp, mp, d, p->Zs);
    for (int r = 0; r < sb; r++) {
      const T* zrow = p->Zs + size_t(r) * mp;
      V fv = {};
      for (int c = 0; c < nv; c++) {
        V a, unused;
        act<ACT, false, T>(ld<T>(zrow + c * N), a, unused);
        fv += a * ld<T>(p->vp + c * N);
      }
      const T f = T(hsum<T>(fv));
      F[s0 + r] = f;
      const double res = double(f - p->y[s0 + r]);
      sse += res * res;
    }
  }
  return sse;
}

// ---------------------------------------------------------------------------------------------
// The Jacobian at a fixed point (METHOD.md section 2), always in double: linearize() takes the
// current W, v and stores A = s(X W) and D = v .* s'(X W) (n x mpd, zero padded); then
//   jvp:  J (dW, dv) = rowsum(D .* (X dW)) + A dv
//   vjp:  J^T z      = (X^T (z .* D), A^T z)
//   gram: G = J J^T  = (X X^T) .* (D D^T) + [withV] A A^T
// use them until the next linearize(). The addon does the Gram products with BLAS when it has
// one; gram_tiles below is the path without.

template <class T> static int lin_alloc(Prob<T>* p) {
  if (p->gA) return 0;
  const int n = p->n, d = p->d, mpd = p->mpd, dx = p->dx;
  const size_t nn = size_t(n);
  p->gWd = static_cast<double*>(xalloc(size_t(d) * mpd * sizeof(double)));
  p->gvd = static_cast<double*>(xalloc(size_t(mpd) * sizeof(double)));
  p->gA = static_cast<double*>(xalloc(nn * mpd * sizeof(double)));
  p->gD = static_cast<double*>(xalloc(nn * mpd * sizeof(double)));
  p->gU = static_cast<double*>(xalloc(size_t(d) * mpd * sizeof(double)));
  p->gAcc = static_cast<double*>(xalloc(size_t(d) * mpd * sizeof(double)));
  p->gS = static_cast<double*>(xalloc(size_t(p->Sd) * mpd * sizeof(double)));
  p->gxr = static_cast<const double**>(xalloc(nn * sizeof(double*)));
  if (sizeof(T) != 8) p->gXd = static_cast<double*>(xalloc(nn * dx * sizeof(double)));
  if (!p->gWd || !p->gvd || !p->gA || !p->gD || !p->gU || !p->gAcc || !p->gS || !p->gxr ||
      (sizeof(T) != 8 && !p->gXd)) {
    free(p->gWd); free(p->gvd); free(p->gA); free(p->gD); free(p->gU); free(p->gAcc); free(p->gS);
    free(p->gxr); free(p->gXd);
    p->gWd = p->gvd = p->gA = p->gD = p->gU = p->gAcc = p->gS = p->gXd = nullptr;
    p->gxr = nullptr;
    return -1;
  }
  if (sizeof(T) != 8)
    for (size_t q = 0; q < nn * dx; q++) p->gXd[q] = double(p->X[q]);
  memset(p->gWd, 0, size_t(d) * mpd * sizeof(double));
  memset(p->gU, 0, size_t(d) * mpd * sizeof(double));
  memset(p->gvd, 0, size_t(mpd) * sizeof(double));
  const double* Xd = sizeof(T) == 8 ? reinterpret_cast<const double*>(p->X) : p->gXd;
  for (int i = 0; i < n; i++) p->gxr[i] = Xd + size_t(i) * dx;
  return 0;
}

template <class T> static const double* lin_X(const Prob<T>* p) {
  return sizeof(T) == 8 ? reinterpret_cast<const double*>(p->X) : p->gXd;
}

template <class T, int ACT> static int linearize_impl(Prob<T>* p, const JsBufs* js) {
  if (lin_alloc(p) != 0) return -1;
  const int N = VT<double>::N, n = p->n, d = p->d, m = p->m, mpd = p->mpd;
  const T* W = static_cast<const T*>(js->W);
  const T* v = static_cast<const T*>(js->v);
  for (int k = 0; k < d; k++)
    for (int j = 0; j < m; j++) p->gWd[size_t(k) * mpd + j] = double(W[size_t(k) * m + j]);
  for (int j = 0; j < m; j++) p->gvd[j] = double(v[j]);
  for (int s0 = 0; s0 < n; s0 += p->Sd) {
    const int sb = imin(p->Sd, n - s0);
    double* Z = p->gA + size_t(s0) * mpd;  // Z, turned into A below
    zblock<double>(p->gxr + s0, sb, p->gWd, mpd, d, Z);
    for (int i = s0; i < s0 + sb; i++) {
      double* zrow = p->gA + size_t(i) * mpd;
      double* drow = p->gD + size_t(i) * mpd;
      for (int c = 0; c < mpd; c += N) {
        vd a, ds;
        actv<ACT, true>(ld<double>(zrow + c), a, ds);
        st<double>(zrow + c, a);
        st<double>(drow + c, ds * ld<double>(p->gvd + c));
      }
      for (int j = m; j < mpd; j++) zrow[j] = 0;  // s(0) of the padding need not be 0
    }
  }
  p->linearized = 1;
  return 0;
}

template <class T> static void views_impl(const Prob<T>* p, LinViews* out) {
  out->X = lin_X(p);
  out->A = p->gA;
  out->D = p->gD;
  out->dx = p->dx;
  out->mpd = p->mpd;
}

template <class T> static void jvp_impl(Prob<T>* p, const double* dW, const double* dv, double* out) {
  const int N = VT<double>::N, n = p->n, d = p->d, m = p->m, mpd = p->mpd;
  for (int k = 0; k < d; k++) memcpy(p->gU + size_t(k) * mpd, dW + size_t(k) * m, size_t(m) * sizeof(double));
  for (int s0 = 0; s0 < n; s0 += p->Sd) {
    const int sb = imin(p->Sd, n - s0);
    zblock<double>(p->gxr + s0, sb, p->gU, mpd, d, p->gS);  // (X dW) for the superblock
    for (int r = 0; r < sb; r++) {
      const double* t = p->gS + size_t(r) * mpd;
      const double* D = p->gD + size_t(s0 + r) * mpd;
      vd acc = {};
      for (int c = 0; c < mpd; c += N) acc += ld<double>(D + c) * ld<double>(t + c);
      double s = hsum<double>(acc);
      if (dv) {
        const double* A = p->gA + size_t(s0 + r) * mpd;
        for (int j = 0; j < m; j++) s += A[j] * dv[j];
      }
      out[s0 + r] = s;
    }
  }
}

template <class T> static void vjp_impl(Prob<T>* p, const double* z, double* gW, double* gv) {
  const int N = VT<double>::N, n = p->n, d = p->d, m = p->m, mpd = p->mpd;
  memset(p->gAcc, 0, size_t(d) * mpd * sizeof(double));
  if (gv) memset(gv, 0, size_t(m) * sizeof(double));
  for (int s0 = 0; s0 < n; s0 += p->Sd) {
    const int sb = imin(p->Sd, n - s0);
    for (int r = 0; r < sb; r++) {
      const double zi = z[s0 + r];
      const double* D = p->gD + size_t(s0 + r) * mpd;
      double* g = p->gS + size_t(r) * mpd;
      for (int c = 0; c < mpd; c += N) st<double>(g + c, zi * ld<double>(D + c));
      if (gv) {
        const double* A = p->gA + size_t(s0 + r) * mpd;
        for (int j = 0; j < m; j++) gv[j] += A[j] * zi;
      }
    }
    gwblock<double>(p->gxr + s0, sb, p->gS, mpd, d, p->gAcc);
  }
  for (int k = 0; k < d; k++) memcpy(gW + size_t(k) * m, p->gAcc + size_t(k) * mpd, size_t(m) * sizeof(double));
}

// The Gram matrix by register tiles. Each entry is a product of dot products over zero-padded
// rows, and G[i][j] and G[j][i] are computed by the same operations, so G is exactly symmetric.
enum { GI = 2, GJ = 4 };

template <int TI, int TJ>
static inline void dots(const double* a, const double* b, size_t stride, int len, double out[TI][TJ]) {
  const int N = VT<double>::N;
  vd acc[TI][TJ];
  for (int i = 0; i < TI; i++)
    for (int j = 0; j < TJ; j++) acc[i][j] = (vd){};
  for (int k = 0; k < len; k += N) {
    vd av[TI];
    for (int i = 0; i < TI; i++) av[i] = ld<double>(a + i * stride + k);
    for (int j = 0; j < TJ; j++) {
      vd bv = ld<double>(b + j * stride + k);
      for (int i = 0; i < TI; i++) acc[i][j] += av[i] * bv;
    }
  }
  for (int i = 0; i < TI; i++)
    for (int j = 0; j < TJ; j++) out[i][j] = hsum<double>(acc[i][j]);
}

template <class T, int TI, int TJ>
static inline void gram_tile(Prob<T>* p, const double* Xd, int i0, int j0, double* G, int withV) {
  double xx[TI][TJ], dd[TI][TJ], aa[TI][TJ];
  const size_t n = size_t(p->n), mpd = size_t(p->mpd), dx = size_t(p->dx);
  dots<TI, TJ>(Xd + i0 * dx, Xd + j0 * dx, dx, p->dx, xx);
  dots<TI, TJ>(p->gD + i0 * mpd, p->gD + j0 * mpd, mpd, p->mpd, dd);
  if (withV) dots<TI, TJ>(p->gA + i0 * mpd, p->gA + j0 * mpd, mpd, p->mpd, aa);
  for (int i = 0; i < TI; i++)
    for (int j = 0; j < TJ; j++) {
      const double g = xx[i][j] * dd[i][j] + (withV ? aa[i][j] : 0.0);
      G[size_t(i0 + i) * n + size_t(j0 + j)] = g;
      G[size_t(j0 + j) * n + size_t(i0 + i)] = g;
    }
}

template <class T> static void gram_tiles_impl(Prob<T>* p, double* G, int withV) {
  const int n = p->n;
  const double* Xd = lin_X(p);
  const int ni = n - n % GI, nj = n - n % GJ;
  for (int i0 = 0; i0 < ni; i0 += GI) {
    const int jstart = i0 - i0 % GJ;
    for (int j0 = jstart; j0 < nj; j0 += GJ) gram_tile<T, GI, GJ>(p, Xd, i0, j0, G, withV);
    for (int j = nj; j < n; j++) gram_tile<T, GI, 1>(p, Xd, i0, j, G, withV);
  }
  for (int i = ni; i < n; i++)
    for (int j = 0; j < n; j++) gram_tile<T, 1, 1>(p, Xd, i, j, G, withV);
}

// ---------------------------------------------------------------------------------------------
// Table entries: dispatch once per call on dtype and activation.

struct Handle {
  int f32;
  int act;
  void* prob;
};

#define NS_ACT_SWITCH(EXPR_T, FN, ...)          \
  switch (h->act) {                             \
    case kTanh: return FN<EXPR_T, kTanh>(__VA_ARGS__);         \
    case kSigmoid: return FN<EXPR_T, kSigmoid>(__VA_ARGS__);   \
    case kSoftplus: return FN<EXPR_T, kSoftplus>(__VA_ARGS__); \
    case kSwish: return FN<EXPR_T, kSwish>(__VA_ARGS__);       \
    case kGelu: return FN<EXPR_T, kGelu>(__VA_ARGS__);         \
    case kSin: return FN<EXPR_T, kSin>(__VA_ARGS__);           \
    default: return FN<EXPR_T, kRelu>(__VA_ARGS__);            \
  }

static void* t_create(const double* X, const double* y, int n, int d, int m, int act, int f32) {
  Handle* h = static_cast<Handle*>(calloc(1, sizeof(Handle)));
  if (!h) return nullptr;
  h->f32 = f32;
  h->act = act;
  h->prob = f32 ? static_cast<void*>(create_prob<float>(X, y, n, d, m, act))
                : static_cast<void*>(create_prob<double>(X, y, n, d, m, act));
  if (!h->prob) {
    free(h);
    return nullptr;
  }
  return h;
}

static void t_destroy(void* ph) {
  Handle* h = static_cast<Handle*>(ph);
  if (!h) return;
  if (h->f32) destroy_prob(static_cast<Prob<float>*>(h->prob));
  else destroy_prob(static_cast<Prob<double>*>(h->prob));
  free(h);
}

static double t_step(void* ph, const JsBufs* js, int b, int useRows) {
  Handle* h = static_cast<Handle*>(ph);
  if (h->f32) {
    Prob<float>* p = static_cast<Prob<float>*>(h->prob);
    NS_ACT_SWITCH(float, step_impl, p, js, b, useRows)
  } else {
    Prob<double>* p = static_cast<Prob<double>*>(h->prob);
    NS_ACT_SWITCH(double, step_impl, p, js, b, useRows)
  }
}

static double t_forward(void* ph, const JsBufs* js) {
  Handle* h = static_cast<Handle*>(ph);
  if (h->f32) {
    Prob<float>* p = static_cast<Prob<float>*>(h->prob);
    NS_ACT_SWITCH(float, forward_impl, p, js)
  } else {
    Prob<double>* p = static_cast<Prob<double>*>(h->prob);
    NS_ACT_SWITCH(double, forward_impl, p, js)
  }
}

static int t_linearize(void* ph, const JsBufs* js) {
  Handle* h = static_cast<Handle*>(ph);
  if (h->f32) {
    Prob<float>* p = static_cast<Prob<float>*>(h->prob);
    NS_ACT_SWITCH(float, linearize_impl, p, js)
  } else {
    Prob<double>* p = static_cast<Prob<double>*>(h->prob);
    NS_ACT_SWITCH(double, linearize_impl, p, js)
  }
}

// Calls f(prob) with the problem's own type.
#define NS_BY_DTYPE(h, CALL)                                         \
  do {                                                               \
    if ((h)->f32) {                                                  \
      Prob<float>* p = static_cast<Prob<float>*>((h)->prob);         \
      CALL;                                                          \
    } else {                                                         \
      Prob<double>* p = static_cast<Prob<double>*>((h)->prob);       \
      CALL;                                                          \
    }                                                                \
  } while (0)

static int t_linearized(void* ph) {
  Handle* h = static_cast<Handle*>(ph);
  int out = 0;
  NS_BY_DTYPE(h, out = p->linearized);
  return out;
}

static void t_views(void* ph, LinViews* out) {
  Handle* h = static_cast<Handle*>(ph);
  NS_BY_DTYPE(h, views_impl(p, out));
}

static void t_jvp(void* ph, const double* dW, const double* dv, double* out) {
  Handle* h = static_cast<Handle*>(ph);
  NS_BY_DTYPE(h, jvp_impl(p, dW, dv, out));
}

static void t_vjp(void* ph, const double* z, double* gW, double* gv) {
  Handle* h = static_cast<Handle*>(ph);
  NS_BY_DTYPE(h, vjp_impl(p, z, gW, gv));
}

static void t_gram_tiles(void* ph, double* G, int withV) {
  Handle* h = static_cast<Handle*>(ph);
  NS_BY_DTYPE(h, gram_tiles_impl(p, G, withV));
}

static const KernelTable kTable = {NS_NAME,      t_create, t_destroy, t_step,  t_forward,
                                   t_linearize,  t_linearized, t_views, t_jvp, t_vjp, t_gram_tiles};

}  // namespace

const KernelTable* NS_GETTER() { return &kTable; }

}  // namespace narrowsweep
