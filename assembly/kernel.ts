// The wasm engine's fused step (METHOD.md section 1), in AssemblyScript with 128-bit SIMD.
//
// One problem = one instance with its own imported memory, laid out once by src/engines/wasm.ts.
// Nothing here allocates: every buffer is a pointer handed over through the context block `ctx`.
//
// Over a batch of b rows, processed in blocks of R rows:
//   Z = X_B W   (register tiles: 4 rows x 2 vectors of neurons, k innermost)
//   A = s(Z), D = s'(Z)                      (vector exp/expm1/log1p/sincos below, no JS Math)
//   F = A v,  r = F - y_B,  gv += A^T r,  G = (r v^T) .* D
//   gW += X_B^T G  (register tiles: 4 inputs x 2 vectors of neurons, rows innermost)
// and finally gW /= b, gv /= b. Internally W, v, gW, gv live in copies padded to a whole number
// of tiles (mp columns, dp rows, zeros in the padding), and X is stored once with row stride dp,
// so no tile needs remainder code; padded batch rows get r = 0.

// ---- context block: i32 fields, offsets in bytes (mirrored in src/engines/wasm.ts) ----
const C_N = 0, C_D = 4, C_M = 8, C_DP = 12, C_MP = 16, C_R = 20, C_ACT = 24;
const C_X = 28, C_Y = 32, C_W = 36, C_V = 40, C_GW = 44, C_GV = 48, C_F = 52, C_ROWS = 56;
const C_WP = 60, C_VP = 64, C_GWP = 68, C_GVP = 72, C_AB = 76, C_GB = 80, C_RP = 84, C_RB = 88;

/** Start of free memory after the module's own static data. */
export function heapBase(): usize {
  return __heap_base;
}

// ======================= float64 vector math (f64x2), accurate to a few ulp =======================

const LOG2E: f64 = 1.4426950408889634;
const LN2_HI: f64 = 6.93147180369123816490e-01; // fdlibm split: LN2_HI has trailing zero bits
const LN2_LO: f64 = 1.90821492927058770002e-10;
const LN2: f64 = 0.6931471805599453;
const MAGIC64: f64 = 6755399441055744.0; // 1.5 * 2^52: adding it rounds to an integer in the low bits
const BIAS64: i64 = 0x4338000000000000 - 1023;

/** 2^k for integral k in [-1022, 0] (as f64 lanes). */
@inline function pow2_64(kf: v128): v128 {
  const bits = f64x2.add(kf, f64x2.splat(MAGIC64));
  return i64x2.shl(i64x2.sub(bits, i64x2.splat(BIAS64)), 52);
}

/**
 * expm1(r) for |r| <= ln2/2: Taylor to r^13 (truncation < 1e-17 relative), by Estrin's scheme:
 * a Horner chain of 13 dependent multiply-adds made the activation loops latency bound.
 */
/**
 * The exp/expm1 constants as a table in memory: V8 rebuilds every v128 constant in registers on each
 * use (3 instructions), a load from this table is one.
 */
const CT64: usize = memory.data<f64>([
  1.0, 1.0,
  0.5, 0.5,
  1.0 / 6.0, 1.0 / 6.0,
  1.0 / 24.0, 1.0 / 24.0,
  1.0 / 120.0, 1.0 / 120.0,
  1.0 / 720.0, 1.0 / 720.0,
  1.0 / 5040.0, 1.0 / 5040.0,
  1.0 / 40320.0, 1.0 / 40320.0,
  1.0 / 362880.0, 1.0 / 362880.0,
  1.0 / 3628800.0, 1.0 / 3628800.0,
  1.0 / 39916800.0, 1.0 / 39916800.0,
  1.0 / 479001600.0, 1.0 / 479001600.0,
  1.0 / 6227020800.0, 1.0 / 6227020800.0,
  LOG2E, LOG2E,
  LN2_HI, LN2_HI,
  LN2_LO, LN2_LO,
  -708.0, -708.0,
  reinterpret<f64>(BIAS64), reinterpret<f64>(BIAS64),
], 16);
@inline function kc64(i: i32): v128 { return v128.load(CT64 + (<usize>i << 4)); }

@inline function expm1Poly64(r: v128): v128 {
  const r2 = f64x2.mul(r, r);
  const r4 = f64x2.mul(r2, r2);
  const r8 = f64x2.mul(r4, r4);
  // expm1(r) = r q(r), q = sum_{i=0}^{12} r^i / (i+1)!
  const q01 = f64x2.add(kc64(0), f64x2.mul(r, kc64(1)));
  const q23 = f64x2.add(kc64(2), f64x2.mul(r, kc64(3)));
  const q45 = f64x2.add(kc64(4), f64x2.mul(r, kc64(5)));
  const q67 = f64x2.add(kc64(6), f64x2.mul(r, kc64(7)));
  const q89 = f64x2.add(kc64(8), f64x2.mul(r, kc64(9)));
  const q1011 = f64x2.add(kc64(10), f64x2.mul(r, kc64(11)));
  const q12 = kc64(12);
  const q03 = f64x2.add(q01, f64x2.mul(r2, q23));
  const q47 = f64x2.add(q45, f64x2.mul(r2, q67));
  const q811 = f64x2.add(q89, f64x2.mul(r2, q1011));
  const q07 = f64x2.add(q03, f64x2.mul(r4, q47));
  const q812 = f64x2.add(q811, f64x2.mul(r4, q12));
  return f64x2.mul(r, f64x2.add(q07, f64x2.mul(r8, q812)));
}

/** k = round(x / ln2) and r = x - k ln2 (two-piece ln2, exact product k * LN2_HI). */
@inline function reduceK64(x: v128): v128 {
  return f64x2.nearest(f64x2.mul(x, kc64(13)));
}
@inline function reduceR64(x: v128, kf: v128): v128 {
  return f64x2.sub(f64x2.sub(x, f64x2.mul(kf, kc64(14))), f64x2.mul(kf, kc64(15)));
}

/** exp(x) for x <= 0 (clamped at -708, where exp is ~3e-308). exp = 2^k (expm1(r) + 1). */
@inline function expNeg64(x: v128): v128 {
  x = f64x2.pmax(x, kc64(16));
  const kf = reduceK64(x);
  const p = expm1Poly64(reduceR64(x, kf));
  const s = pow2_64(kf);
  return f64x2.add(f64x2.mul(s, p), s);
}

/** expm1(x) for x <= 0: 2^k expm1(r) + (2^k - 1), accurate near 0 (no cancellation). */
@inline function expm1Neg64(x: v128): v128 {
  x = f64x2.pmax(x, kc64(16));
  const kf = reduceK64(x);
  const p = expm1Poly64(reduceR64(x, kf));
  const s = pow2_64(kf);
  return f64x2.add(f64x2.mul(s, p), f64x2.sub(s, kc64(0)));
}

const SIGN64: i64 = 0x8000000000000000;

/** tanh(z) = sign(z) * (-e / (e + 2)), e = expm1(-2|z|): no overflow, full accuracy near 0. */
@inline function tanh64(z: v128): v128 {
  const e = expm1Neg64(f64x2.mul(f64x2.abs(z), f64x2.splat(-2.0)));
  const t = f64x2.div(f64x2.neg(e), f64x2.add(e, f64x2.splat(2.0)));
  return v128.or(t, v128.and(z, i64x2.splat(SIGN64)));
}

/** sigma(z) from e = exp(-|z|): 1/(1+e) for z >= 0, e/(1+e) otherwise. */
@inline function sigmoidFromE64(z: v128, e: v128): v128 {
  const q = f64x2.div(f64x2.splat(1.0), f64x2.add(f64x2.splat(1.0), e));
  return v128.bitselect(q, f64x2.mul(e, q), f64x2.ge(z, f64x2.splat(0.0)));
}

/** log1p(u) for u in [0, 1]: 2 atanh(f / (2 + f)) series after halving when 1 + u > sqrt 2. */
@inline function log1pUnit64(u: v128): v128 {
  const big = f64x2.gt(u, f64x2.splat(0.41421356237309503));
  const f = v128.bitselect(f64x2.mul(f64x2.sub(u, f64x2.splat(1.0)), f64x2.splat(0.5)), u, big);
  const add = v128.and(f64x2.splat(LN2), big);
  const w = f64x2.div(f, f64x2.add(f64x2.splat(2.0), f));
  const w2 = f64x2.mul(w, w); // <= 0.0295
  // p = sum_{i=0}^{10} w2^i / (2i + 3), Estrin's scheme
  const w4 = f64x2.mul(w2, w2);
  const w8 = f64x2.mul(w4, w4);
  const p01 = f64x2.add(f64x2.splat(1.0 / 3.0), f64x2.mul(w2, f64x2.splat(1.0 / 5.0)));
  const p23 = f64x2.add(f64x2.splat(1.0 / 7.0), f64x2.mul(w2, f64x2.splat(1.0 / 9.0)));
  const p45 = f64x2.add(f64x2.splat(1.0 / 11.0), f64x2.mul(w2, f64x2.splat(1.0 / 13.0)));
  const p67 = f64x2.add(f64x2.splat(1.0 / 15.0), f64x2.mul(w2, f64x2.splat(1.0 / 17.0)));
  const p810 = f64x2.add(f64x2.add(f64x2.splat(1.0 / 19.0), f64x2.mul(w2, f64x2.splat(1.0 / 21.0))), f64x2.mul(w4, f64x2.splat(1.0 / 23.0)));
  const p03 = f64x2.add(p01, f64x2.mul(w4, p23));
  const p47 = f64x2.add(p45, f64x2.mul(w4, p67));
  const p = f64x2.add(f64x2.add(p03, f64x2.mul(w8, p47)), f64x2.mul(f64x2.mul(w8, w8), p810));
  const tw = f64x2.add(w, w);
  return f64x2.add(add, f64x2.add(tw, f64x2.mul(f64x2.mul(tw, w2), p)));
}

// pi/2 in three 33-bit pieces (fdlibm): k * PIO2_1 and k * PIO2_2 are exact for |k| < 2^20.
const TWO_OVER_PI: f64 = 0.63661977236758134308;
const PIO2_1: f64 = 1.57079632673412561417e+00;
const PIO2_2: f64 = 6.07710050630396597660e-11;
const PIO2_3: f64 = 2.02226624871116645580e-21;

/** sin(z) into the result, cos(z) stored at `pc`. Accurate for |z| up to ~1e5 (inputs here are O(10)). */
@inline function sincos64(z: v128, pc: usize): v128 {
  const kf = f64x2.nearest(f64x2.mul(z, f64x2.splat(TWO_OVER_PI)));
  let r = f64x2.sub(z, f64x2.mul(kf, f64x2.splat(PIO2_1)));
  r = f64x2.sub(r, f64x2.mul(kf, f64x2.splat(PIO2_2)));
  r = f64x2.sub(r, f64x2.mul(kf, f64x2.splat(PIO2_3)));
  const r2 = f64x2.mul(r, r); // |r| <= pi/4
  const r4 = f64x2.mul(r2, r2);
  const r8 = f64x2.mul(r4, r4);
  // sin r = r + r^3 (-1/3! + r^2/5! - ...) to r^17, cos r = 1 - r^2/2 + r^4 (1/4! - r^2/6! + ...) to r^18,
  // both by Estrin's scheme in r^2
  const s01 = f64x2.add(f64x2.splat(-1.0 / 6.0), f64x2.mul(r2, f64x2.splat(1.0 / 120.0)));
  const s23 = f64x2.add(f64x2.splat(-1.0 / 5040.0), f64x2.mul(r2, f64x2.splat(1.0 / 362880.0)));
  const s45 = f64x2.add(f64x2.splat(-1.0 / 39916800.0), f64x2.mul(r2, f64x2.splat(1.0 / 6227020800.0)));
  const s67 = f64x2.add(f64x2.splat(-1.0 / 1307674368000.0), f64x2.mul(r2, f64x2.splat(1.0 / 355687428096000.0)));
  const s = f64x2.add(f64x2.add(s01, f64x2.mul(r4, s23)), f64x2.mul(r8, f64x2.add(s45, f64x2.mul(r4, s67))));
  const sr = f64x2.add(r, f64x2.mul(f64x2.mul(r, r2), s));
  const c01 = f64x2.add(f64x2.splat(1.0 / 24.0), f64x2.mul(r2, f64x2.splat(-1.0 / 720.0)));
  const c23 = f64x2.add(f64x2.splat(1.0 / 40320.0), f64x2.mul(r2, f64x2.splat(-1.0 / 3628800.0)));
  const c45 = f64x2.add(f64x2.splat(1.0 / 479001600.0), f64x2.mul(r2, f64x2.splat(-1.0 / 87178291200.0)));
  const c67 = f64x2.add(f64x2.splat(1.0 / 20922789888000.0), f64x2.mul(r2, f64x2.splat(-1.0 / 6402373705728000.0)));
  const c = f64x2.add(f64x2.add(c01, f64x2.mul(r4, c23)), f64x2.mul(r8, f64x2.add(c45, f64x2.mul(r4, c67))));
  const hr2 = f64x2.mul(r2, f64x2.splat(0.5));
  const cr = f64x2.add(f64x2.sub(f64x2.splat(1.0), hr2), f64x2.mul(r4, c));
  // quadrant q = k mod 4 (exact in floating point)
  const q = f64x2.sub(kf, f64x2.mul(f64x2.splat(4.0), f64x2.floor(f64x2.mul(kf, f64x2.splat(0.25)))));
  const q1 = f64x2.eq(q, f64x2.splat(1.0));
  const q2 = f64x2.eq(q, f64x2.splat(2.0));
  const q3 = f64x2.eq(q, f64x2.splat(3.0));
  const odd = v128.or(q1, q3);
  const sv = v128.bitselect(cr, sr, odd);
  const cv = v128.bitselect(sr, cr, odd);
  const sign = i64x2.splat(SIGN64);
  v128.store(pc, v128.xor(cv, v128.and(v128.or(q1, q2), sign)));
  return v128.xor(sv, v128.and(v128.or(q2, q3), sign));
}

const GELU_C: f64 = 0.7978845608028654; // sqrt(2/pi)
const GELU_A: f64 = 0.044715;

/**
 * In place over `count` f64 values at `pz`: A = s(Z) overwrites Z, D = s'(Z) goes to `pd` (when
 * pd != 0). The switch is outside the loops so each loop inlines one activation.
 */
function activate64(code: i32, pz: usize, pd: usize, count: i32): void {
  const end = pz + (<usize>count << 3);
  const dd = pd - pz;
  const one = f64x2.splat(1.0);
  const zero = f64x2.splat(0.0);
  switch (code) {
    case 0: { // tanh
      for (let p = pz; p < end; p += 16) {
        const t = tanh64(v128.load(p));
        v128.store(p, t);
        v128.store(p + dd, f64x2.sub(one, f64x2.mul(t, t)));
      }
      break;
    }
    case 1: { // sigmoid
      for (let p = pz; p < end; p += 16) {
        const z = v128.load(p);
        const s = sigmoidFromE64(z, expNeg64(f64x2.neg(f64x2.abs(z))));
        v128.store(p, s);
        v128.store(p + dd, f64x2.mul(s, f64x2.sub(one, s)));
      }
      break;
    }
    case 2: { // softplus = max(z, 0) + log1p(exp(-|z|)), s' = sigma
      for (let p = pz; p < end; p += 16) {
        const z = v128.load(p);
        const e = expNeg64(f64x2.neg(f64x2.abs(z)));
        v128.store(p, f64x2.add(f64x2.max(z, zero), log1pUnit64(e)));
        v128.store(p + dd, sigmoidFromE64(z, e));
      }
      break;
    }
    case 3: { // swish = z sigma(z), s' = sigma + z sigma (1 - sigma)
      for (let p = pz; p < end; p += 16) {
        const z = v128.load(p);
        const s = sigmoidFromE64(z, expNeg64(f64x2.neg(f64x2.abs(z))));
        const zs = f64x2.mul(z, s);
        v128.store(p, zs);
        v128.store(p + dd, f64x2.add(s, f64x2.mul(zs, f64x2.sub(one, s))));
      }
      break;
    }
    case 4: { // gelu, tanh form (src/core/activations.ts)
      const half = f64x2.splat(0.5);
      for (let p = pz; p < end; p += 16) {
        const z = v128.load(p);
        const z2 = f64x2.mul(z, z);
        const u = f64x2.mul(f64x2.splat(GELU_C), f64x2.add(z, f64x2.mul(f64x2.splat(GELU_A), f64x2.mul(z2, z))));
        const t = tanh64(u);
        const hz = f64x2.mul(half, z);
        const opt = f64x2.add(one, t);
        v128.store(p, f64x2.mul(hz, opt));
        const du = f64x2.mul(f64x2.splat(GELU_C), f64x2.add(one, f64x2.mul(f64x2.splat(3.0 * GELU_A), z2)));
        v128.store(p + dd, f64x2.add(f64x2.mul(half, opt), f64x2.mul(f64x2.mul(hz, f64x2.sub(one, f64x2.mul(t, t))), du)));
      }
      break;
    }
    case 5: { // sin, s' = cos
      for (let p = pz; p < end; p += 16) {
        v128.store(p, sincos64(v128.load(p), p + dd));
      }
      break;
    }
    default: { // relu (contrast only): s = z > 0 ? z : 0, s' = z > 0 ? 1 : 0
      for (let p = pz; p < end; p += 16) {
        const z = v128.load(p);
        const pos = f64x2.gt(z, zero);
        v128.store(p, v128.and(z, pos));
        v128.store(p + dd, v128.and(one, pos));
      }
    }
  }
}

// ======================= float32 vector math (f32x4), accurate to a few ulp of f32 =======================

const LOG2E_F: f32 = 1.4426950408889634;
const LN2_HI_F: f32 = 0.693359375; // 8 significant bits: k * LN2_HI_F is exact
const LN2_LO_F: f32 = -2.12194440e-4;
const LN2_F: f32 = 0.6931471805599453;
const MAGIC32: f32 = 12582912.0; // 1.5 * 2^23
const BIAS32: i32 = 0x4b400000 - 127;
const SIGN32: i32 = 0x80000000;

/** The f32 exp/expm1 constants as a table in memory (see CT64). */
const CT32: usize = memory.data<f32>([
  1.0, 1.0, 1.0, 1.0,
  0.5, 0.5, 0.5, 0.5,
  1.0 / 6.0, 1.0 / 6.0, 1.0 / 6.0, 1.0 / 6.0,
  1.0 / 24.0, 1.0 / 24.0, 1.0 / 24.0, 1.0 / 24.0,
  1.0 / 120.0, 1.0 / 120.0, 1.0 / 120.0, 1.0 / 120.0,
  1.0 / 720.0, 1.0 / 720.0, 1.0 / 720.0, 1.0 / 720.0,
  1.0 / 5040.0, 1.0 / 5040.0, 1.0 / 5040.0, 1.0 / 5040.0,
  1.0 / 40320.0, 1.0 / 40320.0, 1.0 / 40320.0, 1.0 / 40320.0,
  -87.0, -87.0, -87.0, -87.0,
  LOG2E_F, LOG2E_F, LOG2E_F, LOG2E_F,
  LN2_HI_F, LN2_HI_F, LN2_HI_F, LN2_HI_F,
  LN2_LO_F, LN2_LO_F, LN2_LO_F, LN2_LO_F,
  MAGIC32, MAGIC32, MAGIC32, MAGIC32,
  reinterpret<f32>(BIAS32), reinterpret<f32>(BIAS32), reinterpret<f32>(BIAS32), reinterpret<f32>(BIAS32),
], 16);
@inline function kc32(i: i32): v128 { return v128.load(CT32 + (<usize>i << 4)); }

/** expm1(r) for |r| <= ln2/2 (Taylor to r^8, truncation < 3e-9 relative). */
@inline function expm1Poly32(r: v128): v128 {
  const r2 = f32x4.mul(r, r);
  const r4 = f32x4.mul(r2, r2);
  const q01 = f32x4.add(kc32(0), f32x4.mul(r, kc32(1)));
  const q23 = f32x4.add(kc32(2), f32x4.mul(r, kc32(3)));
  const q45 = f32x4.add(kc32(4), f32x4.mul(r, kc32(5)));
  const q67 = f32x4.add(kc32(6), f32x4.mul(r, kc32(7)));
  const q03 = f32x4.add(q01, f32x4.mul(r2, q23));
  const q47 = f32x4.add(q45, f32x4.mul(r2, q67));
  return f32x4.mul(r, f32x4.add(q03, f32x4.mul(r4, q47)));
}

/** Returns expm1(x) (or exp(x) when `plusOne`) for x <= 0, clamped at -87 (exp ~ 1.6e-38, still normal). */
@inline function expNeg32(x: v128, plusOne: bool): v128 {
  x = f32x4.pmax(x, kc32(8));
  const kf = f32x4.nearest(f32x4.mul(x, kc32(9)));
  const r = f32x4.sub(f32x4.sub(x, f32x4.mul(kf, kc32(10))), f32x4.mul(kf, kc32(11)));
  const p = expm1Poly32(r);
  const sc = i32x4.shl(i32x4.sub(f32x4.add(kf, kc32(12)), kc32(13)), 23);
  return f32x4.add(f32x4.mul(sc, p), plusOne ? sc : f32x4.sub(sc, kc32(0)));
}

@inline function tanh32(z: v128): v128 {
  const e = expNeg32(f32x4.mul(f32x4.abs(z), f32x4.splat(-2.0)), false);
  const t = f32x4.div(f32x4.neg(e), f32x4.add(e, f32x4.splat(2.0)));
  return v128.or(t, v128.and(z, i32x4.splat(SIGN32)));
}

@inline function sigmoidFromE32(z: v128, e: v128): v128 {
  const q = f32x4.div(f32x4.splat(1.0), f32x4.add(f32x4.splat(1.0), e));
  return v128.bitselect(q, f32x4.mul(e, q), f32x4.ge(z, f32x4.splat(0.0)));
}

@inline function log1pUnit32(u: v128): v128 {
  const big = f32x4.gt(u, f32x4.splat(0.41421356237309503));
  const f = v128.bitselect(f32x4.mul(f32x4.sub(u, f32x4.splat(1.0)), f32x4.splat(0.5)), u, big);
  const add = v128.and(f32x4.splat(LN2_F), big);
  const w = f32x4.div(f, f32x4.add(f32x4.splat(2.0), f));
  const w2 = f32x4.mul(w, w); // <= 0.0295
  let p = f32x4.splat(<f32>(1.0 / 11.0));
  p = f32x4.add(f32x4.mul(p, w2), f32x4.splat(<f32>(1.0 / 9.0)));
  p = f32x4.add(f32x4.mul(p, w2), f32x4.splat(<f32>(1.0 / 7.0)));
  p = f32x4.add(f32x4.mul(p, w2), f32x4.splat(<f32>(1.0 / 5.0)));
  p = f32x4.add(f32x4.mul(p, w2), f32x4.splat(<f32>(1.0 / 3.0)));
  const tw = f32x4.add(w, w);
  return f32x4.add(add, f32x4.add(tw, f32x4.mul(f32x4.mul(tw, w2), p)));
}

// pi/2 in three pieces for f32 (the first with 8 significant bits): accurate for |z| up to ~1e3.
const PIO2_1F: f32 = 1.5703125;
const PIO2_2F: f32 = 4.837512969970703125e-4;
const PIO2_3F: f32 = 7.54978995489188216e-8;

@inline function sincos32(z: v128, pc: usize): v128 {
  const kf = f32x4.nearest(f32x4.mul(z, f32x4.splat(<f32>TWO_OVER_PI)));
  let r = f32x4.sub(z, f32x4.mul(kf, f32x4.splat(PIO2_1F)));
  r = f32x4.sub(r, f32x4.mul(kf, f32x4.splat(PIO2_2F)));
  r = f32x4.sub(r, f32x4.mul(kf, f32x4.splat(PIO2_3F)));
  const r2 = f32x4.mul(r, r);
  let s = f32x4.splat(<f32>(1.0 / 362880.0));
  s = f32x4.add(f32x4.mul(s, r2), f32x4.splat(<f32>(-1.0 / 5040.0)));
  s = f32x4.add(f32x4.mul(s, r2), f32x4.splat(<f32>(1.0 / 120.0)));
  s = f32x4.add(f32x4.mul(s, r2), f32x4.splat(<f32>(-1.0 / 6.0)));
  const sr = f32x4.add(r, f32x4.mul(f32x4.mul(r, r2), s));
  let c = f32x4.splat(<f32>(-1.0 / 3628800.0));
  c = f32x4.add(f32x4.mul(c, r2), f32x4.splat(<f32>(1.0 / 40320.0)));
  c = f32x4.add(f32x4.mul(c, r2), f32x4.splat(<f32>(-1.0 / 720.0)));
  c = f32x4.add(f32x4.mul(c, r2), f32x4.splat(<f32>(1.0 / 24.0)));
  const cr = f32x4.add(f32x4.sub(f32x4.splat(1.0), f32x4.mul(r2, f32x4.splat(0.5))), f32x4.mul(f32x4.mul(r2, r2), c));
  const q = f32x4.sub(kf, f32x4.mul(f32x4.splat(4.0), f32x4.floor(f32x4.mul(kf, f32x4.splat(0.25)))));
  const q1 = f32x4.eq(q, f32x4.splat(1.0));
  const q2 = f32x4.eq(q, f32x4.splat(2.0));
  const q3 = f32x4.eq(q, f32x4.splat(3.0));
  const odd = v128.or(q1, q3);
  const sv = v128.bitselect(cr, sr, odd);
  const cv = v128.bitselect(sr, cr, odd);
  const sign = i32x4.splat(SIGN32);
  v128.store(pc, v128.xor(cv, v128.and(v128.or(q1, q2), sign)));
  return v128.xor(sv, v128.and(v128.or(q2, q3), sign));
}

/** float32 twin of activate64 (same formulas, f32x4, shorter polynomials). */
function activate32(code: i32, pz: usize, pd: usize, count: i32): void {
  const end = pz + (<usize>count << 2);
  const dd = pd - pz;
  const one = f32x4.splat(1.0);
  const zero = f32x4.splat(0.0);
  switch (code) {
    case 0: {
      for (let p = pz; p < end; p += 16) {
        const t = tanh32(v128.load(p));
        v128.store(p, t);
        v128.store(p + dd, f32x4.sub(one, f32x4.mul(t, t)));
      }
      break;
    }
    case 1: {
      for (let p = pz; p < end; p += 16) {
        const z = v128.load(p);
        const s = sigmoidFromE32(z, expNeg32(f32x4.neg(f32x4.abs(z)), true));
        v128.store(p, s);
        v128.store(p + dd, f32x4.mul(s, f32x4.sub(one, s)));
      }
      break;
    }
    case 2: {
      for (let p = pz; p < end; p += 16) {
        const z = v128.load(p);
        const e = expNeg32(f32x4.neg(f32x4.abs(z)), true);
        v128.store(p, f32x4.add(f32x4.max(z, zero), log1pUnit32(e)));
        v128.store(p + dd, sigmoidFromE32(z, e));
      }
      break;
    }
    case 3: {
      for (let p = pz; p < end; p += 16) {
        const z = v128.load(p);
        const s = sigmoidFromE32(z, expNeg32(f32x4.neg(f32x4.abs(z)), true));
        const zs = f32x4.mul(z, s);
        v128.store(p, zs);
        v128.store(p + dd, f32x4.add(s, f32x4.mul(zs, f32x4.sub(one, s))));
      }
      break;
    }
    case 4: {
      const half = f32x4.splat(0.5);
      for (let p = pz; p < end; p += 16) {
        const z = v128.load(p);
        const z2 = f32x4.mul(z, z);
        const u = f32x4.mul(f32x4.splat(<f32>GELU_C), f32x4.add(z, f32x4.mul(f32x4.splat(<f32>GELU_A), f32x4.mul(z2, z))));
        const t = tanh32(u);
        const hz = f32x4.mul(half, z);
        const opt = f32x4.add(one, t);
        v128.store(p, f32x4.mul(hz, opt));
        const du = f32x4.mul(f32x4.splat(<f32>GELU_C), f32x4.add(one, f32x4.mul(f32x4.splat(<f32>(3.0 * GELU_A)), z2)));
        v128.store(p + dd, f32x4.add(f32x4.mul(half, opt), f32x4.mul(f32x4.mul(hz, f32x4.sub(one, f32x4.mul(t, t))), du)));
      }
      break;
    }
    case 5: {
      for (let p = pz; p < end; p += 16) {
        v128.store(p, sincos32(v128.load(p), p + dd));
      }
      break;
    }
    default: {
      for (let p = pz; p < end; p += 16) {
        const z = v128.load(p);
        const pos = f32x4.gt(z, zero);
        v128.store(p, v128.and(z, pos));
        v128.store(p + dd, v128.and(one, pos));
      }
    }
  }
}

@inline function activate<T>(code: i32, pz: usize, pd: usize, count: i32): void {
  if (sizeof<T>() == 8) activate64(code, pz, pd, count);
  else activate32(code, pz, pd, count);
}

@inline function hsum<T>(x: v128): T {
  if (sizeof<T>() == 8) {
    return <T>(f64x2.extract_lane(x, 0) + f64x2.extract_lane(x, 1));
  } else {
    return <T>((f32x4.extract_lane(x, 0) + f32x4.extract_lane(x, 1)) + (f32x4.extract_lane(x, 2) + f32x4.extract_lane(x, 3)));
  }
}

/**
 * Z block: Ab[i, :] = x_{row i} Wp for i < R4 (R4 a multiple of 4), row pointers at rp.
 * Tiles of 4 rows x 2 vectors (4 neurons f64 / 8 neurons f32), k innermost.
 */
@inline function zBlock<T>(rp: usize, R4: i32, Wp: usize, d: i32, mp: i32, Ab: usize): void {
  const S = <usize>sizeof<T>();
  const NT: i32 = 32 / <i32>sizeof<T>();
  const rowBytes = <usize>mp * S;
  for (let i = 0; i < R4; i += 4) {
    const p0 = load<usize>(rp + (<usize>i << 2));
    const p1 = load<usize>(rp + (<usize>i << 2), 4);
    const p2 = load<usize>(rp + (<usize>i << 2), 8);
    const p3 = load<usize>(rp + (<usize>i << 2), 12);
    const out = Ab + <usize>i * rowBytes;
    for (let j = 0; j < mp; j += NT) {
      let z00 = v128.splat<T>(0), z01 = v128.splat<T>(0);
      let z10 = v128.splat<T>(0), z11 = v128.splat<T>(0);
      let z20 = v128.splat<T>(0), z21 = v128.splat<T>(0);
      let z30 = v128.splat<T>(0), z31 = v128.splat<T>(0);
      let pw = Wp + <usize>j * S;
      for (let k = 0; k < d; k++) {
        const w0 = v128.load(pw);
        const w1 = v128.load(pw, 16);
        const ko = <usize>k * S;
        let x = v128.load_splat<T>(p0 + ko);
        z00 = v128.add<T>(z00, v128.mul<T>(x, w0)); z01 = v128.add<T>(z01, v128.mul<T>(x, w1));
        x = v128.load_splat<T>(p1 + ko);
        z10 = v128.add<T>(z10, v128.mul<T>(x, w0)); z11 = v128.add<T>(z11, v128.mul<T>(x, w1));
        x = v128.load_splat<T>(p2 + ko);
        z20 = v128.add<T>(z20, v128.mul<T>(x, w0)); z21 = v128.add<T>(z21, v128.mul<T>(x, w1));
        x = v128.load_splat<T>(p3 + ko);
        z30 = v128.add<T>(z30, v128.mul<T>(x, w0)); z31 = v128.add<T>(z31, v128.mul<T>(x, w1));
        pw += rowBytes;
      }
      const o = out + <usize>j * S;
      v128.store(o, z00); v128.store(o, z01, 16);
      v128.store(o + rowBytes, z10); v128.store(o + rowBytes, z11, 16);
      v128.store(o + 2 * rowBytes, z20); v128.store(o + 2 * rowBytes, z21, 16);
      v128.store(o + 3 * rowBytes, z30); v128.store(o + 3 * rowBytes, z31, 16);
    }
  }
}

/**
 * gWp += X_B^T G over the block's Rb rows: tiles of 4 inputs k x 2 vectors of neurons,
 * loaded once, rows innermost, stored once.
 */
@inline function gwBlock<T>(rp: usize, Rb: i32, Gb: usize, dp: i32, mp: i32, gWp: usize): void {
  const S = <usize>sizeof<T>();
  const NT: i32 = 32 / <i32>sizeof<T>();
  const rowBytes = <usize>mp * S;
  for (let k = 0; k < dp; k += 4) {
    const ko = <usize>k * S;
    const gk = gWp + <usize>k * rowBytes;
    for (let j = 0; j < mp; j += NT) {
      const o = gk + <usize>j * S;
      let a00 = v128.load(o), a01 = v128.load(o, 16);
      let a10 = v128.load(o + rowBytes), a11 = v128.load(o + rowBytes, 16);
      let a20 = v128.load(o + 2 * rowBytes), a21 = v128.load(o + 2 * rowBytes, 16);
      let a30 = v128.load(o + 3 * rowBytes), a31 = v128.load(o + 3 * rowBytes, 16);
      let pg = Gb + <usize>j * S;
      for (let i = 0; i < Rb; i++) {
        const px = load<usize>(rp + (<usize>i << 2)) + ko;
        const g0 = v128.load(pg);
        const g1 = v128.load(pg, 16);
        let x = v128.load_splat<T>(px);
        a00 = v128.add<T>(a00, v128.mul<T>(x, g0)); a01 = v128.add<T>(a01, v128.mul<T>(x, g1));
        x = v128.load_splat<T>(px + S);
        a10 = v128.add<T>(a10, v128.mul<T>(x, g0)); a11 = v128.add<T>(a11, v128.mul<T>(x, g1));
        x = v128.load_splat<T>(px + 2 * S);
        a20 = v128.add<T>(a20, v128.mul<T>(x, g0)); a21 = v128.add<T>(a21, v128.mul<T>(x, g1));
        x = v128.load_splat<T>(px + 3 * S);
        a30 = v128.add<T>(a30, v128.mul<T>(x, g0)); a31 = v128.add<T>(a31, v128.mul<T>(x, g1));
        pg += rowBytes;
      }
      v128.store(o, a00); v128.store(o, a01, 16);
      v128.store(o + rowBytes, a10); v128.store(o + rowBytes, a11, 16);
      v128.store(o + 2 * rowBytes, a20); v128.store(o + 2 * rowBytes, a21, 16);
      v128.store(o + 3 * rowBytes, a30); v128.store(o + 3 * rowBytes, a31, 16);
    }
  }
}

/**
 * Row pointers and labels of block rows t0 .. t0+Rb (padded to R4 with row 0 of the batch).
 * Returns false on a row index outside [0, n).
 */
@inline function gatherBlock<T>(ctx: usize, t0: i32, Rb: i32, R4: i32, useRows: bool): bool {
  const S = <usize>sizeof<T>();
  const n = load<i32>(ctx, C_N);
  const dp = load<i32>(ctx, C_DP);
  const X = load<usize>(ctx, C_X), y = load<usize>(ctx, C_Y), rows = load<usize>(ctx, C_ROWS);
  const rp = load<usize>(ctx, C_RP), rb = load<usize>(ctx, C_RB);
  for (let i = 0; i < R4; i++) {
    const t = i < Rb ? t0 + i : t0;
    const row = useRows ? load<i32>(rows + (<usize>t << 2)) : t;
    if (<u32>row >= <u32>n) return false;
    store<usize>(rp + (<usize>i << 2), X + <usize>row * <usize>dp * S);
    store<T>(rb + <usize>i * S, load<T>(y + <usize>row * S));
  }
  return true;
}

/** F_i = A_i . v over the block's rows; residual r_i = F_i - y_i replaces y_i in rb. Returns sum r^2 over the Rb real rows. */
@inline function residuals<T>(Ab: usize, vp: usize, mp: i32, R4: i32, Rb: i32, rb: usize, Fout: usize): f64 {
  const S = <usize>sizeof<T>();
  const rowBytes = <usize>mp * S;
  let sse: f64 = 0;
  for (let i = 0; i < R4; i++) {
    const pa = Ab + <usize>i * rowBytes;
    let acc = v128.splat<T>(0);
    for (let off: usize = 0; off < rowBytes; off += 16) {
      acc = v128.add<T>(acc, v128.mul<T>(v128.load(pa + off), v128.load(vp + off)));
    }
    const f = hsum<T>(acc);
    const pr = rb + <usize>i * S;
    let r = <T>(f - load<T>(pr));
    if (i >= Rb) r = <T>0;
    else {
      sse += <f64>r * <f64>r;
      if (Fout != 0) store<T>(Fout + <usize>i * S, f);
    }
    store<T>(pr, r);
  }
  return sse;
}

function stepT<T>(ctx: usize, b: i32, useRows: bool): f64 {
  const S = <usize>sizeof<T>();
  const d = load<i32>(ctx, C_D), m = load<i32>(ctx, C_M);
  const dp = load<i32>(ctx, C_DP), mp = load<i32>(ctx, C_MP), R = load<i32>(ctx, C_R);
  const code = load<i32>(ctx, C_ACT);
  const W = load<usize>(ctx, C_W), v = load<usize>(ctx, C_V);
  const gW = load<usize>(ctx, C_GW), gv = load<usize>(ctx, C_GV);
  const Wp = load<usize>(ctx, C_WP), vp = load<usize>(ctx, C_VP);
  const gWp = load<usize>(ctx, C_GWP), gvp = load<usize>(ctx, C_GVP);
  const Ab = load<usize>(ctx, C_AB), Gb = load<usize>(ctx, C_GB);
  const rp = load<usize>(ctx, C_RP), rb = load<usize>(ctx, C_RB);
  const rowBytes = <usize>mp * S;

  // padded copies of W and v (the padding stays zero), zeroed gradient accumulators
  for (let k = 0; k < d; k++) {
    memory.copy(Wp + <usize>k * rowBytes, W + <usize>k * <usize>m * S, <usize>m * S);
  }
  memory.copy(vp, v, <usize>m * S);
  memory.fill(gWp, 0, <usize>dp * rowBytes);
  memory.fill(gvp, 0, rowBytes);

  let sse: f64 = 0;
  for (let t0 = 0; t0 < b; t0 += R) {
    const Rb = min(R, b - t0);
    const R4 = (Rb + 3) & ~3;
    if (!gatherBlock<T>(ctx, t0, Rb, R4, useRows)) return -1;
    zBlock<T>(rp, R4, Wp, d, mp, Ab);
    activate<T>(code, Ab, Gb, R4 * mp);
    sse += residuals<T>(Ab, vp, mp, R4, Rb, rb, 0);
    // gv += A^T r and G = (r v^T) .* D, row by row (padded rows have r = 0)
    for (let i = 0; i < Rb; i++) {
      const rv = v128.load_splat<T>(rb + <usize>i * S);
      const pa = Ab + <usize>i * rowBytes, pg = Gb + <usize>i * rowBytes;
      for (let off: usize = 0; off < rowBytes; off += 16) {
        v128.store(gvp + off, v128.add<T>(v128.load(gvp + off), v128.mul<T>(v128.load(pa + off), rv)));
        v128.store(pg + off, v128.mul<T>(v128.mul<T>(v128.load(pg + off), v128.load(vp + off)), rv));
      }
    }
    gwBlock<T>(rp, Rb, Gb, dp, mp, gWp);
  }

  // gW = gWp / b, gv = gvp / b (unpadded)
  const inv = v128.splat<T>(<T>(1.0 / <f64>b));
  const invs = <T>(1.0 / <f64>b);
  for (let k = 0; k < d; k++) {
    const src = gWp + <usize>k * rowBytes, dst = gW + <usize>k * <usize>m * S;
    const mS = <usize>m * S;
    let off: usize = 0;
    for (; off + 16 <= mS; off += 16) v128.store(dst + off, v128.mul<T>(v128.load(src + off), inv));
    for (; off < mS; off += S) store<T>(dst + off, load<T>(src + off) * invs);
  }
  for (let j = 0; j < m; j++) store<T>(gv + <usize>j * S, load<T>(gvp + <usize>j * S) * invs);
  return sse;
}

function forwardT<T>(ctx: usize): f64 {
  const S = <usize>sizeof<T>();
  const n = load<i32>(ctx, C_N), d = load<i32>(ctx, C_D), m = load<i32>(ctx, C_M);
  const mp = load<i32>(ctx, C_MP), R = load<i32>(ctx, C_R);
  const code = load<i32>(ctx, C_ACT);
  const W = load<usize>(ctx, C_W), v = load<usize>(ctx, C_V), F = load<usize>(ctx, C_F);
  const Wp = load<usize>(ctx, C_WP), vp = load<usize>(ctx, C_VP);
  const Ab = load<usize>(ctx, C_AB), Gb = load<usize>(ctx, C_GB);
  const rp = load<usize>(ctx, C_RP), rb = load<usize>(ctx, C_RB);
  const rowBytes = <usize>mp * S;
  for (let k = 0; k < d; k++) {
    memory.copy(Wp + <usize>k * rowBytes, W + <usize>k * <usize>m * S, <usize>m * S);
  }
  memory.copy(vp, v, <usize>m * S);
  let sse: f64 = 0;
  for (let t0 = 0; t0 < n; t0 += R) {
    const Rb = min(R, n - t0);
    const R4 = (Rb + 3) & ~3;
    gatherBlock<T>(ctx, t0, Rb, R4, false);
    zBlock<T>(rp, R4, Wp, d, mp, Ab);
    activate<T>(code, Ab, Gb, R4 * mp);
    sse += residuals<T>(Ab, vp, mp, R4, Rb, rb, F + <usize>t0 * S);
  }
  return sse;
}

/** Fused step, float64 buffers. Returns the sum of squared residuals, or -1 for a row index out of range. */
export function step64(ctx: usize, b: i32, useRows: bool): f64 { return stepT<f64>(ctx, b, useRows); }
/** Fused step, float32 buffers (sum of squares accumulated in f64). */
export function step32(ctx: usize, b: i32, useRows: bool): f64 { return stepT<f32>(ctx, b, useRows); }
export function forward64(ctx: usize): f64 { return forwardT<f64>(ctx); }
export function forward32(ctx: usize): f64 { return forwardT<f32>(ctx); }

// ---- tangent-kernel Gram matrix, float64 (METHOD.md 2, 3b) ----
const C_AF = 92, C_DF = 96, C_GBLK = 100;

@inline function dot64(p: usize, q: usize, bytes: usize): f64 {
  let a0 = f64x2.splat(0), a1 = f64x2.splat(0);
  for (let o: usize = 0; o < bytes; o += 32) {
    a0 = f64x2.add(a0, f64x2.mul(v128.load(p + o), v128.load(q + o)));
    a1 = f64x2.add(a1, f64x2.mul(v128.load(p + o, 16), v128.load(q + o, 16)));
  }
  const a = f64x2.add(a0, a1);
  return f64x2.extract_lane(a, 0) + f64x2.extract_lane(a, 1);
}

/** A = s(X W) and D = s'(X W) .* v for all rows, into the (n rounded up to 4) x mp buffers Af, Df. */
export function gramPrepare64(ctx: usize): void {
  const S: usize = 8;
  const n = load<i32>(ctx, C_N), d = load<i32>(ctx, C_D), m = load<i32>(ctx, C_M);
  const mp = load<i32>(ctx, C_MP), R = load<i32>(ctx, C_R), code = load<i32>(ctx, C_ACT);
  const W = load<usize>(ctx, C_W), v = load<usize>(ctx, C_V);
  const Wp = load<usize>(ctx, C_WP), vp = load<usize>(ctx, C_VP), rp = load<usize>(ctx, C_RP);
  const Af = load<usize>(ctx, C_AF), Df = load<usize>(ctx, C_DF);
  const rowBytes = <usize>mp * S;
  for (let k = 0; k < d; k++) memory.copy(Wp + <usize>k * rowBytes, W + <usize>k * <usize>m * S, <usize>m * S);
  memory.copy(vp, v, <usize>m * S);
  for (let t0 = 0; t0 < n; t0 += R) {
    const Rb = min(R, n - t0);
    const R4 = (Rb + 3) & ~3;
    gatherBlock<f64>(ctx, t0, Rb, R4, false);
    const pa = Af + <usize>t0 * rowBytes, pd = Df + <usize>t0 * rowBytes;
    zBlock<f64>(rp, R4, Wp, d, mp, pa);
    activate64(code, pa, pd, R4 * mp);
  }
  // D .* v (v's padding is 0), and A's padded columns hold s(0), which is not 0 for every s: clear them
  for (let i = 0; i < n; i++) {
    const pd = Df + <usize>i * rowBytes;
    for (let o: usize = 0; o < rowBytes; o += 16) v128.store(pd + o, f64x2.mul(v128.load(pd + o), v128.load(vp + o)));
    memory.fill(Af + <usize>i * rowBytes + <usize>m * S, 0, <usize>(mp - m) * S);
  }
}

/**
 * Rows i0 .. i1 of G, lower triangle only: Gblk[(i - i0) n + k] = (x_i . x_k)(D_i . D_k) (+ A_i . A_k) for k <= i.
 * Needs gramPrepare64 first.
 */
export function gramRows64(ctx: usize, i0: i32, i1: i32, withV: bool): void {
  const S: usize = 8;
  const n = load<i32>(ctx, C_N), dp = load<i32>(ctx, C_DP), mp = load<i32>(ctx, C_MP);
  const X = load<usize>(ctx, C_X), Af = load<usize>(ctx, C_AF), Df = load<usize>(ctx, C_DF);
  const Gblk = load<usize>(ctx, C_GBLK);
  const xBytes = <usize>dp * S, rowBytes = <usize>mp * S;
  for (let i = i0; i < i1; i++) {
    const xi = X + <usize>i * xBytes, di = Df + <usize>i * rowBytes, ai = Af + <usize>i * rowBytes;
    const out = Gblk + <usize>(i - i0) * <usize>n * S;
    for (let k = 0; k <= i; k++) {
      let g = dot64(xi, X + <usize>k * xBytes, xBytes) * dot64(di, Df + <usize>k * rowBytes, rowBytes);
      if (withV) g += dot64(ai, Af + <usize>k * rowBytes, rowBytes);
      store<f64>(out + <usize>k * S, g);
    }
  }
}
