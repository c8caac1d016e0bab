// The N-API face of the native engine: a context-aware addon (one instance per Node environment,
// so it loads in any number of worker threads) exposing a Problem class whose buffers are the
// JavaScript typed arrays themselves (zero copy), and the CPU dispatch between kernel builds.
#include <napi.h>

#include <stdlib.h>
#include <string>
#include <vector>

#include "kernel.h"
#include "linalg.h"

namespace narrowsweep {
namespace {

// ---- CPU features and the choice of kernel build ---------------------------------------------

#if defined(NARROWSWEEP_X86)
bool cpu(const char* feature) {
  // Both calls are pure reads of what libgcc found at load time (it also checks that the OS saves
  // the AVX/AVX-512 register state), so they are safe from any thread.
  __builtin_cpu_init();
  if (__builtin_strcmp(feature, "avx512f") == 0) return __builtin_cpu_supports("avx512f");
  if (__builtin_strcmp(feature, "avx512dq") == 0) return __builtin_cpu_supports("avx512dq");
  if (__builtin_strcmp(feature, "avx512vl") == 0) return __builtin_cpu_supports("avx512vl");
  if (__builtin_strcmp(feature, "avx512bw") == 0) return __builtin_cpu_supports("avx512bw");
  if (__builtin_strcmp(feature, "avx2") == 0) return __builtin_cpu_supports("avx2");
  if (__builtin_strcmp(feature, "fma") == 0) return __builtin_cpu_supports("fma");
  if (__builtin_strcmp(feature, "avx") == 0) return __builtin_cpu_supports("avx");
  if (__builtin_strcmp(feature, "sse4.2") == 0) return __builtin_cpu_supports("sse4.2");
  if (__builtin_strcmp(feature, "sse2") == 0) return __builtin_cpu_supports("sse2");
  return false;
}
const char* const kFeatures[] = {"sse2", "sse4.2", "avx", "avx2", "fma", "avx512f", "avx512dq", "avx512vl", "avx512bw"};
bool avx512_ok() { return cpu("avx512f") && cpu("avx512dq") && cpu("avx512vl") && cpu("avx512bw") && cpu("fma"); }
bool avx2_ok() { return cpu("avx2") && cpu("fma"); }
#endif

struct Variant {
  const char* name;
  const KernelTable* (*get)();
  bool (*usable)();
};

bool always() { return true; }

// Best first.
const Variant kVariants[] = {
#if defined(NARROWSWEEP_X86)
    {"avx512", kernels_avx512, avx512_ok},
    {"avx2", kernels_avx2, avx2_ok},
#endif
    {"generic", kernels_generic, always},
};

std::vector<std::string> cpu_features() {
  std::vector<std::string> out;
#if defined(NARROWSWEEP_X86)
  for (const char* f : kFeatures)
    if (cpu(f)) out.push_back(f);
#elif defined(__aarch64__)
  out.push_back("neon");  // baseline of arm64
#endif
  return out;
}

// `want` empty: the best usable build. Otherwise that build, or nullptr with `why` set.
const KernelTable* pick_kernels(const std::string& want, std::string* why) {
  for (const Variant& v : kVariants) {
    if (!want.empty() && want != v.name) continue;
    if (v.usable()) return v.get();
    if (!want.empty()) {
      *why = "kernel build '" + want + "' needs CPU features this machine lacks";
      return nullptr;
    }
  }
  std::string names;
  for (const Variant& v : kVariants) names += std::string(names.empty() ? "" : ", ") + v.name;
  *why = "unknown kernel build '" + want + "' (built: " + names + ")";
  return nullptr;
}

// ---- typed-array arguments --------------------------------------------------------------------

struct Typed {
  void* data;
  size_t length;
};

Typed typed_arg(const Napi::CallbackInfo& info, size_t i, napi_typedarray_type type, size_t length,
                const char* name) {
  Napi::Env env = info.Env();
  static const char* const kTypeNames[] = {"Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array",
                                           "Uint16Array", "Int32Array", "Uint32Array", "Float32Array",
                                           "Float64Array", "BigInt64Array", "BigUint64Array"};
  const std::string expected = type <= napi_biguint64_array ? kTypeNames[type] : "typed array";
  Napi::Value value = info[i];
  if (!value.IsTypedArray())
    throw Napi::TypeError::New(env, std::string(name) + ": expected a " + expected);
  napi_typedarray_type got;
  size_t len = 0;
  void* data = nullptr;
  napi_value ab;
  size_t offset = 0;
  // For a small typed array still on the V8 heap, this moves its contents to a fixed backing store,
  // so the pointer stays valid while we hold a reference.
  napi_status s = napi_get_typedarray_info(env, value, &got, &len, &data, &ab, &offset);
  if (s != napi_ok) throw Napi::Error::New(env, std::string(name) + ": cannot read the typed array");
  if (got != type) throw Napi::TypeError::New(env, std::string(name) + ": expected a " + expected);
  if (len != length)
    throw Napi::RangeError::New(env, std::string(name) + ": expected length " + std::to_string(length) +
                                         ", got " + std::to_string(len));
  return {data, len};
}

int int_arg(const Napi::CallbackInfo& info, size_t i, const char* name, int lo) {
  Napi::Value value = info[i];
  if (!value.IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(name) + ": expected a number");
  double x = value.As<Napi::Number>().DoubleValue();
  if (!(x >= lo && x <= 2147483647.0) || x != double(int64_t(x)))
    throw Napi::RangeError::New(info.Env(), std::string(name) + ": expected an integer >= " + std::to_string(lo));
  return int(x);
}

// ---- Problem ---------------------------------------------------------------------------------

// new Problem(X, y, n, d, m, activationCode, f32, W, v, gW, gv, F, rows, kernelBuild)
//   X, y: Float64Array (copied once); W, v, gW, gv, F: Float64Array or Float32Array (f32),
//   rows: Int32Array; these six are used in place for the problem's lifetime.
class Problem : public Napi::ObjectWrap<Problem> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Problem",
                       {InstanceMethod<&Problem::Step>("step"), InstanceMethod<&Problem::Forward>("forward"),
                        InstanceMethod<&Problem::Linearize>("linearize"), InstanceMethod<&Problem::Jvp>("jvp"),
                        InstanceMethod<&Problem::Vjp>("vjp"), InstanceMethod<&Problem::Gram>("gram"),
                        InstanceMethod<&Problem::Dispose>("dispose"), InstanceAccessor<&Problem::Build>("build")});
  }

  explicit Problem(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Problem>(info) {
    Napi::Env env = info.Env();
    n_ = int_arg(info, 2, "n", 1);
    d_ = int_arg(info, 3, "d", 1);
    m_ = int_arg(info, 4, "m", 1);
    const int act = int_arg(info, 5, "activation", 0);
    if (act > 6) throw Napi::RangeError::New(env, "activation: expected a code 0..6");
    if (!info[6].IsBoolean()) throw Napi::TypeError::New(env, "f32: expected a boolean");
    f32_ = info[6].As<Napi::Boolean>().Value();
    std::string want;
    if (info[13].IsString()) want = info[13].As<Napi::String>().Utf8Value();
    std::string why;
    k_ = pick_kernels(want, &why);
    if (!k_) throw Napi::Error::New(env, why);

    const size_t n = size_t(n_), d = size_t(d_), m = size_t(m_);
    const napi_typedarray_type ft = f32_ ? napi_float32_array : napi_float64_array;
    Typed X = typed_arg(info, 0, napi_float64_array, n * d, "X");
    Typed y = typed_arg(info, 1, napi_float64_array, n, "y");
    const char* names[6] = {"W", "v", "gW", "gv", "F", "rows"};
    const size_t lens[6] = {d * m, m, d * m, m, n, n};
    void* ptrs[6];
    for (int q = 0; q < 6; q++) {
      ptrs[q] = typed_arg(info, 7 + q, q == 5 ? napi_int32_array : ft, lens[q], names[q]).data;
      refs_[q] = Napi::Persistent(info[7 + q].As<Napi::Object>());
    }
    js_ = {ptrs[0], ptrs[1], ptrs[2], ptrs[3], ptrs[4], static_cast<const int32_t*>(ptrs[5])};
    p_ = k_->create(static_cast<const double*>(X.data), static_cast<const double*>(y.data), n_, d_, m_, act,
                    f32_ ? 1 : 0);
    if (!p_) throw Napi::Error::New(env, "native engine: out of memory creating the problem");
  }

  ~Problem() override { Release(); }

 private:
  void Release() {
    if (p_) k_->destroy(p_);
    p_ = nullptr;
    std::vector<double>().swap(xx_);
    for (auto& r : refs_) r.Reset();
  }

  void Live(Napi::Env env) const {
    if (!p_) throw Napi::Error::New(env, "native problem used after dispose()");
  }

  // step(b?: number): all rows in order when b is undefined, else rows[0..b).
  Napi::Value Step(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Live(env);
    int b = n_, useRows = 0;
    if (info.Length() > 0 && !info[0].IsUndefined()) {
      b = int_arg(info, 0, "b", 1);
      if (b > n_) throw Napi::RangeError::New(env, "b: expected at most n = " + std::to_string(n_));
      useRows = 1;
      for (int t = 0; t < b; t++) {
        const int32_t i = js_.rows[t];
        if (i < 0 || i >= n_)
          throw Napi::RangeError::New(env, "rows[" + std::to_string(t) + "] = " + std::to_string(i) +
                                               " is outside [0, " + std::to_string(n_) + ")");
      }
    }
    return Napi::Number::New(env, k_->step(p_, &js_, b, useRows));
  }

  Napi::Value Forward(const Napi::CallbackInfo& info) {
    Live(info.Env());
    return Napi::Number::New(info.Env(), k_->forward(p_, &js_));
  }

  // linearize(): fixes the Jacobian at the current W, v (see kernel.h).
  Napi::Value Linearize(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Live(env);
    if (k_->linearize(p_, &js_) != 0) throw Napi::Error::New(env, "native engine: out of memory in linearize()");
    return env.Undefined();
  }

  void Linearized(Napi::Env env) const {
    Live(env);
    if (!k_->linearized(p_)) throw Napi::Error::New(env, "native problem: call linearize() first");
  }

  // A Float64Array argument of the given length, or null when `nullable` and the argument is null.
  double* f64_arg(const Napi::CallbackInfo& info, size_t i, size_t length, const char* name, bool nullable) {
    if (nullable && (info[i].IsNull() || info[i].IsUndefined())) return nullptr;
    return static_cast<double*>(typed_arg(info, i, napi_float64_array, length, name).data);
  }

  // jvp(dW: d*m, dv: m | null, out: n)
  Napi::Value Jvp(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Linearized(env);
    const size_t dm = size_t(d_) * size_t(m_);
    double* dW = f64_arg(info, 0, dm, "dW", false);
    double* dv = f64_arg(info, 1, size_t(m_), "dv", true);
    double* out = f64_arg(info, 2, size_t(n_), "out", false);
    k_->jvp(p_, dW, dv, out);
    return env.Undefined();
  }

  // vjp(z: n, gW: d*m, gv: m | null)
  Napi::Value Vjp(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Linearized(env);
    const size_t dm = size_t(d_) * size_t(m_);
    double* z = f64_arg(info, 0, size_t(n_), "z", false);
    double* gW = f64_arg(info, 1, dm, "gW", false);
    double* gv = f64_arg(info, 2, size_t(m_), "gv", true);
    k_->vjp(p_, z, gW, gv);
    return env.Undefined();
  }

  // gram(G: Float64Array of n*n, withV: boolean): J J^T at the last linearization, by BLAS when the
  // addon has it (and NARROWSWEEP_NO_LAPACK is unset), else by the kernel's register tiles.
  Napi::Value Gram(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Linearized(env);
    double* G = f64_arg(info, 0, size_t(n_) * size_t(n_), "G", false);
    const bool withV = info[1].ToBoolean().Value();
    const bool blas = info.Length() > 2 && info[2].ToBoolean().Value();
#if defined(NARROWSWEEP_LAPACK)
    if (blas) {
      LinViews v;
      k_->views(p_, &v);
      // X X^T is kept for the problem's later Gram matrices (lm: one per iteration) up to n = 8192
      // (512 MB); beyond, each Gram matrix forms it block by block.
      if (xx_.empty() && n_ <= 8192) {
        try {
          xx_.resize(size_t(n_) * size_t(n_));
        } catch (const std::bad_alloc&) {
          throw Napi::Error::New(env, "native engine: out of memory in gram()");
        }
        gram_xx(v, n_, xx_.data());
      }
      if (!gram_blas(v, n_, G, withV ? 1 : 0, xx_.empty() ? nullptr : xx_.data()))
        throw Napi::Error::New(env, "native engine: out of memory in gram()");
      return env.Undefined();
    }
#else
    (void)blas;
#endif
    k_->gram_tiles(p_, G, withV ? 1 : 0);
    return env.Undefined();
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    Release();
    return info.Env().Undefined();
  }

  Napi::Value Build(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), k_->name); }

  const KernelTable* k_ = nullptr;
  void* p_ = nullptr;
  JsBufs js_ = {};
  Napi::ObjectReference refs_[6];
  std::vector<double> xx_;  // X X^T (lower triangle) for the BLAS Gram matrices, once computed
  int n_ = 0, d_ = 0, m_ = 0;
  bool f32_ = false;
};

// ---- the addon -------------------------------------------------------------------------------

class Addon : public Napi::Addon<Addon> {
 public:
  Addon(Napi::Env env, Napi::Object exports) {
#if defined(NARROWSWEEP_LAPACK)
    linalg_init();
    DefineAddon(exports, {InstanceValue("Problem", Problem::Define(env)), InstanceMethod("info", &Addon::Info),
                          InstanceMethod("cholesky", &Addon::Cholesky), InstanceMethod("choleskySolve", &Addon::CholeskySolve),
                          InstanceMethod("eigenvalues", &Addon::Eigenvalues)});
#else
    DefineAddon(exports, {InstanceValue("Problem", Problem::Define(env)), InstanceMethod("info", &Addon::Info)});
#endif
  }

 private:
#if defined(NARROWSWEEP_LAPACK)
  // The n x n matrix argument (row-major Float64Array) and n.
  static double* square_arg(const Napi::CallbackInfo& info, int* n) {
    *n = int_arg(info, 1, "n", 1);
    return static_cast<double*>(typed_arg(info, 0, napi_float64_array, size_t(*n) * size_t(*n), "A").data);
  }

  // cholesky(A, n): true when A was positive definite (its lower triangle now holds L), else false.
  Napi::Value Cholesky(const Napi::CallbackInfo& info) {
    int n;
    double* A = square_arg(info, &n);
    const int rc = cholesky_lower(A, n);
    if (rc < 0) throw Napi::Error::New(info.Env(), "cholesky: LAPACK dpotrf argument error " + std::to_string(rc));
    return Napi::Boolean::New(info.Env(), rc == 0);
  }

  // choleskySolve(L, n, b): b = (L L^T)^-1 b in place.
  Napi::Value CholeskySolve(const Napi::CallbackInfo& info) {
    int n;
    double* L = square_arg(info, &n);
    double* b = static_cast<double*>(typed_arg(info, 2, napi_float64_array, size_t(n), "b").data);
    const int rc = cholesky_solve(L, n, b);
    if (rc != 0) throw Napi::Error::New(info.Env(), "choleskySolve: LAPACK dpotrs error " + std::to_string(rc));
    return info[2];
  }

  // eigenvalues(A, n, w): all eigenvalues of the symmetric A into w, ascending; A is destroyed.
  Napi::Value Eigenvalues(const Napi::CallbackInfo& info) {
    int n;
    double* A = square_arg(info, &n);
    double* w = static_cast<double*>(typed_arg(info, 2, napi_float64_array, size_t(n), "w").data);
    const int rc = symmetric_eigenvalues(A, n, w);
    if (rc != 0) throw Napi::Error::New(info.Env(), "eigenvalues: LAPACK dsyevd_2stage error " + std::to_string(rc));
    return info[2];
  }
#endif

  // { build: best usable kernel build, builds: usable builds, compiled: all builds in this binary,
  //   cpuFeatures: [...], compiler }
  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    Napi::Array usable = Napi::Array::New(env), compiled = Napi::Array::New(env), feats = Napi::Array::New(env);
    uint32_t nu = 0, nc = 0, nf = 0;
    const char* best = nullptr;
    for (const Variant& v : kVariants) {
      compiled.Set(nc++, v.name);
      if (v.usable()) {
        usable.Set(nu++, v.name);
        if (!best) best = v.name;
      }
    }
    for (const std::string& f : cpu_features()) feats.Set(nf++, f);
    o.Set("build", best ? best : "");
    o.Set("builds", usable);
    o.Set("compiled", compiled);
    o.Set("cpuFeatures", feats);
#if defined(__VERSION__)
    o.Set("compiler", __VERSION__);
#endif
#if defined(NARROWSWEEP_LAPACK)
    Napi::Object la = Napi::Object::New(env);
    la.Set("library", linalg_name());
    la.Set("threads", linalg_threads());
    o.Set("linalg", la);
#else
    o.Set("linalg", env.Null());
#endif
    return o;
  }
};

}  // namespace
}  // namespace narrowsweep

// Node-API registers the module per environment; Addon<> keeps its state as instance data.
using NarrowsweepAddon = narrowsweep::Addon;
NODE_API_ADDON(NarrowsweepAddon)
