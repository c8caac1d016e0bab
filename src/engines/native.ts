// The native engine (issue 4): a C++ N-API addon (native/, binding.gyp) with the fused step
// compiled for AVX-512, AVX2+FMA and a generic CPU, the build chosen at run time from the CPU's
// features. The parameter buffers are ordinary typed arrays that the addon reads and writes in
// place; X is copied once when the problem is created.
//
// NARROWSWEEP_NO_NATIVE=1 makes the addon count as missing (to exercise the fallback), and
// NARROWSWEEP_NATIVE_VARIANT=generic|avx2|avx512 forces one kernel build (for tests and benches).
//
// The addon also carries the run's other compiled work (issue 8): the Jacobian at a point (J u,
// J^T z, the Gram matrix) and, when it was built with OpenBLAS (scripts/detect-lapack.mjs), LAPACK's
// Cholesky factorisation, solve and eigenvalues and BLAS's Gram products, on one BLAS thread.
// NARROWSWEEP_NO_LAPACK=1 leaves LAPACK unused at run time (the TypeScript linear algebra and the
// kernel's own Gram tiles instead), to exercise that path.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ACTIVATION_CODE } from '../core/types.js';
import type { Activation, DenseLinalg, Dtype, Engine, FloatArray, Linearization, Problem, ProblemSpec } from '../core/types.js';

interface AddonProblem {
  step(b?: number): number;
  forward(): number;
  linearize(): void;
  jvp(dW: Float64Array, dv: Float64Array | null, out: Float64Array): void;
  vjp(z: Float64Array, gW: Float64Array, gv: Float64Array | null): void;
  gram(G: Float64Array, withV: boolean, blas: boolean): void;
  dispose(): void;
  readonly build: string;
}

interface AddonInfo {
  build: string;
  builds: string[];
  compiled: string[];
  cpuFeatures: string[];
  compiler?: string;
  /** The BLAS/LAPACK linked in (OpenBLAS's configuration string and its thread count), or null. */
  linalg: { library: string; threads: number } | null;
}

interface Addon {
  Problem: new (
    X: Float64Array, y: Float64Array, n: number, d: number, m: number, activation: number, f32: boolean,
    W: FloatArray, v: FloatArray, gW: FloatArray, gv: FloatArray, F: FloatArray, rows: Int32Array,
    variant: string,
  ) => AddonProblem;
  info(): AddonInfo;
  // Present when the addon was built with LAPACK (info().linalg not null).
  cholesky?(A: Float64Array, n: number): boolean;
  choleskySolve?(L: Float64Array, n: number, b: Float64Array): Float64Array;
  eigenvalues?(A: Float64Array, n: number, w: Float64Array): Float64Array;
}

export interface NativeOptions {
  /** Treat the addon as missing, as NARROWSWEEP_NO_NATIVE=1 does. */
  disabled?: boolean;
  /** Kernel build to use instead of the best one (`generic`, `avx2`, `avx512`). */
  variant?: string;
}

const ADDON_FILE = 'narrowsweep.node';
let loaded: { addon: Addon; info: AddonInfo } | { addon: null; reason: string } | undefined;

function envDisabled(): boolean {
  const v = process.env.NARROWSWEEP_NO_NATIVE;
  return v !== undefined && v !== '' && v !== '0';
}

/** build/Release of the package root, from dist/src/engines (compiled) or src/engines. */
function addonCandidates(): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  return [resolve(here, '../../../build/Release', ADDON_FILE), resolve(here, '../../build/Release', ADDON_FILE)];
}

function load(): { addon: Addon; info: AddonInfo } | { addon: null; reason: string } {
  if (loaded) return loaded;
  const path = addonCandidates().find((p) => existsSync(p));
  if (path === undefined) {
    loaded = { addon: null, reason: `addon not built (no build/Release/${ADDON_FILE}; run npm run build:native)` };
    return loaded;
  }
  // OpenBLAS reads this when it loads: without it, it would start a thread pool the size of the
  // machine in every process (the addon also sets one thread when it loads, for a user's override).
  process.env.OPENBLAS_NUM_THREADS ??= '1';
  try {
    const require = createRequire(import.meta.url);
    const addon = require(path) as Addon;
    loaded = { addon, info: addon.info() };
  } catch (err) {
    const msg = err instanceof Error ? err.message.split('\n')[0] : String(err);
    loaded = { addon: null, reason: `addon failed to load: ${msg}` };
  }
  return loaded;
}

function unavailable(opts: NativeOptions): string | null {
  if (opts.disabled === true) return 'disabled by the caller';
  if (envDisabled()) return 'disabled by NARROWSWEEP_NO_NATIVE';
  const l = load();
  return l.addon === null ? l.reason : null;
}

function lapackDisabled(): boolean {
  const v = process.env.NARROWSWEEP_NO_LAPACK;
  return v !== undefined && v !== '' && v !== '0';
}

/** LAPACK of the addon as the core's DenseLinalg, or null (not built with it, or NARROWSWEEP_NO_LAPACK). */
function addonLinalg(addon: Addon, info: AddonInfo): DenseLinalg | null {
  if (info.linalg === null || lapackDisabled() || !addon.cholesky || !addon.choleskySolve || !addon.eigenvalues) return null;
  const { cholesky, choleskySolve, eigenvalues } = addon;
  return {
    name: info.linalg.library.split(' ').slice(0, 2).join(' '),
    cholesky: (A, n) => cholesky(A, n),
    choleskySolve: (L, n, b) => choleskySolve(L, n, b),
    symmetricEigenvalues: (A, n) => eigenvalues(A, n, new Float64Array(n)),
  };
}

/** The linear algebra a native run uses: LAPACK's name ("OpenBLAS 0.3.21"), or why the TypeScript one. */
export function nativeLinalgInfo(): { lapack: string | null; threads: number | null; reason: string | null } {
  const l = load();
  if (l.addon === null) return { lapack: null, threads: null, reason: l.reason };
  if (l.info.linalg === null) return { lapack: null, threads: null, reason: 'the addon was built without LAPACK (install libopenblas-dev and liblapacke-dev, then npm run build:native)' };
  if (lapackDisabled()) return { lapack: null, threads: null, reason: 'disabled by NARROWSWEEP_NO_LAPACK' };
  return { lapack: addonLinalg(l.addon, l.info)!.name, threads: l.info.linalg.threads, reason: null };
}

function chosenVariant(opts: NativeOptions): string {
  return opts.variant ?? process.env.NARROWSWEEP_NATIVE_VARIANT ?? '';
}

/**
 * What the native engine would run on: whether it is available (and if not, why), the kernel build
 * it picks (`avx512`, `avx2`, `generic`, or `none`), and the CPU features the addon detected.
 */
export function nativeInfo(opts: NativeOptions = {}): {
  available: boolean;
  reason: string | null;
  variant: string;
  cpuFeatures: string[];
  /** Kernel builds compiled into the addon that this CPU can run, best first. */
  variants: string[];
} {
  const reason = unavailable(opts);
  const l = load();
  const info = l.addon === null ? null : l.info;
  const forced = chosenVariant(opts);
  return {
    available: reason === null,
    reason,
    variant: reason !== null || info === null ? 'none' : forced !== '' ? forced : info.build,
    cpuFeatures: info === null ? [] : [...info.cpuFeatures],
    variants: info === null ? [] : [...info.builds],
  };
}

class NativeProblem implements Problem {
  readonly engine = 'native' as const;
  readonly dtype: Dtype;
  readonly n: number;
  readonly d: number;
  readonly m: number;
  readonly activation: Activation;
  readonly W: FloatArray;
  readonly v: FloatArray;
  readonly gW: FloatArray;
  readonly gv: FloatArray;
  readonly F: FloatArray;
  readonly rows: Int32Array;
  private handle: AddonProblem | null;
  private readonly blas: boolean;
  /** Counts linearize() calls, so that a stale Linearization is an error, not a silent wrong answer. */
  private generation = 0;

  constructor(addon: Addon, spec: ProblemSpec, dtype: Dtype, variant: string, blas: boolean) {
    const { n, d, m, X, y, activation } = spec;
    for (const [name, value] of [['n', n], ['d', d], ['m', m]] as const) {
      if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name}: expected a positive integer, got ${value}`);
    }
    if (!(X instanceof Float64Array) || X.length !== n * d) throw new RangeError(`X: expected a Float64Array of n*d = ${n * d} entries`);
    if (!(y instanceof Float64Array) || y.length !== n) throw new RangeError(`y: expected a Float64Array of n = ${n} entries`);
    const code = ACTIVATION_CODE[activation];
    if (code === undefined) throw new RangeError(`activation: unknown "${String(activation)}"`);
    this.dtype = dtype;
    this.blas = blas;
    this.n = n; this.d = d; this.m = m;
    this.activation = activation;
    const Arr = dtype === 'float32' ? Float32Array : Float64Array;
    this.W = new Arr(d * m);
    this.v = new Arr(m);
    this.gW = new Arr(d * m);
    this.gv = new Arr(m);
    this.F = new Arr(n);
    this.rows = new Int32Array(n);
    this.handle = new addon.Problem(X, y, n, d, m, code, dtype === 'float32', this.W, this.v, this.gW, this.gv,
      this.F, this.rows, variant);
  }

  private live(): AddonProblem {
    if (this.handle === null) throw new Error('native problem used after dispose()');
    return this.handle;
  }

  step(b?: number): number {
    return this.live().step(b);
  }

  forward(): number {
    return this.live().forward();
  }

  gram(G: Float64Array, withV: boolean): void {
    this.linearize().gram(G, withV);
  }

  linearize(): Linearization {
    const h = this.live();
    h.linearize();
    const { n, d, m, blas } = this;
    const generation = ++this.generation;
    // The addon keeps one linearization per problem: the latest.
    const current = (): AddonProblem => {
      if (generation !== this.generation) throw new Error('native problem: this Linearization was replaced by a later linearize()');
      return this.live();
    };
    return {
      n, d, m,
      jvp: (dW, dv, out) => { current().jvp(dW, dv, out); },
      vjp: (z, gW, gv) => { current().vjp(z, gW, gv); },
      gram: (G, withV) => { current().gram(G, withV, blas); },
    };
  }

  dispose(): void {
    this.handle?.dispose();
    this.handle = null;
  }
}

/**
 * The native engine for `dtype`, or null when the addon is not available (nativeInfo().reason says
 * why). The kernel build is the best one the CPU supports unless `variant` (or
 * NARROWSWEEP_NATIVE_VARIANT) names another; an unknown or unsupported build throws.
 */
export function loadNativeEngine(dtype: Dtype, opts: NativeOptions = {}): Engine | null {
  if (dtype !== 'float64' && dtype !== 'float32') throw new RangeError(`dtype: expected float64 or float32, got ${String(dtype)}`);
  if (unavailable(opts) !== null) return null;
  const l = load();
  if (l.addon === null) return null;
  const addon = l.addon;
  const variant = chosenVariant(opts);
  if (variant !== '' && !l.info.compiled.includes(variant)) {
    throw new RangeError(`native variant "${variant}": expected one of ${l.info.compiled.join(', ')}`);
  }
  if (variant !== '' && !l.info.builds.includes(variant)) {
    throw new RangeError(`native variant "${variant}" needs CPU features this machine lacks (usable: ${l.info.builds.join(', ')})`);
  }
  const build = variant !== '' ? variant : l.info.build;
  const linalg = addonLinalg(addon, l.info);
  return {
    name: 'native',
    dtype,
    detail: `native ${build} (${dtype})${linalg ? ` + ${linalg.name}` : ''}`,
    createProblem: (spec) => new NativeProblem(addon, spec, dtype, variant, linalg !== null),
    ...(linalg ? { linalg } : {}),
  };
}
