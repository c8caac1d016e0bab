// The `wasm` engine: the fused step of METHOD.md section 1 in AssemblyScript + 128-bit SIMD
// (assembly/kernel.ts, built to dist/wasm/kernel.wasm by scripts/build-wasm.mjs), float64 or float32.
//
// Each problem gets its own instance and its own memory, sized exactly once here and never grown,
// so the typed-array views handed out (W, v, gW, gv, F, rows) stay attached for the problem's
// life. Several problems can coexist; dispose() drops the instance and its memory.
import { readFile } from 'node:fs/promises';
import { ACTIVATION_CODE } from '../core/types.js';
import type { Activation, Dtype, Engine, FloatArray, Problem, ProblemSpec } from '../core/types.js';

/** Where the kernel sits, relative to this file: from dist/src/engines/ (tsc output) or src/engines/. */
const KERNEL_CANDIDATES = ['../../wasm/kernel.wasm', '../../dist/wasm/kernel.wasm'];

interface KernelExports {
  heapBase(): number;
  step64(ctx: number, b: number, useRows: number): number;
  step32(ctx: number, b: number, useRows: number): number;
  forward64(ctx: number): number;
  forward32(ctx: number): number;
  gramPrepare64(ctx: number): void;
  gramRows64(ctx: number, i0: number, i1: number, withV: number): void;
}

// The tsconfig's lib (ES2022, no DOM) carries no WebAssembly types: declare the few we use.
interface WasmModule { readonly __brand: 'WebAssembly.Module' }
interface WasmMemory { readonly buffer: ArrayBuffer }
interface WasmApi {
  compile(bytes: Uint8Array): Promise<WasmModule>;
  Memory: new (desc: { initial: number; maximum?: number }) => WasmMemory;
  Instance: new (module: WasmModule, imports: { env: { memory: WasmMemory } }) => { exports: unknown };
}
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

let modulePromise: Promise<WasmModule> | null = null;

async function compileKernel(): Promise<WasmModule> {
  const tried: string[] = [];
  for (const rel of KERNEL_CANDIDATES) {
    const url = new URL(rel, import.meta.url);
    let bytes: Buffer;
    try {
      bytes = await readFile(url);
    } catch {
      tried.push(url.pathname);
      continue;
    }
    return WA.compile(bytes);
  }
  throw new Error(`wasm engine: kernel not found (tried ${tried.join(', ')}); run npm run build:wasm`);
}

// Context block field offsets, in bytes (mirrors the C_* constants of assembly/kernel.ts).
const C = {
  n: 0, d: 4, m: 8, dp: 12, mp: 16, R: 20, act: 24,
  X: 28, y: 32, W: 36, v: 40, gW: 44, gv: 48, F: 52, rows: 56,
  Wp: 60, vp: 64, gWp: 68, gvp: 72, Ab: 76, Gb: 80, rp: 84, rb: 88,
  Af: 92, Df: 96, Gblk: 100,
} as const;
const CTX_BYTES = 128;
const PAGE = 65536;
/** Largest n given a wasm Gram hook (float64 only): beyond it G (n^2 doubles) is out of reach anyway. */
const GRAM_MAX_N = 16384;
/** Bytes of G computed per kernel call, then copied out and mirrored. */
const GRAM_BLOCK_BYTES = 1 << 20;

const align16 = (x: number): number => Math.ceil(x / 16) * 16; // not & ~15: sizes may pass 2^31
const roundUp = (x: number, q: number): number => Math.ceil(x / q) * q;

/**
 * Rows per block: the A and G blocks (R x mp each) should stay near L1 size and the block's rows
 * of X (R x dp) within L2, so the backward pass re-reads them from cache.
 */
function blockRows(n: number, mpBytes: number, dpBytes: number): number {
  const r = Math.min(Math.floor(32768 / mpBytes), Math.floor(262144 / dpBytes));
  return Math.min(Math.max(Math.floor(r / 4) * 4, 8), 128, roundUp(n, 4));
}

class WasmProblem implements Problem {
  readonly engine = 'wasm' as const;
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
  /** Present for float64 problems with n <= GRAM_MAX_N; the core falls back to its TS Gram otherwise. */
  readonly gram?: (G: Float64Array, withV: boolean) => void;
  private kernel: KernelExports | null;
  private readonly ctx: number;

  constructor(module: WasmModule, heapBase: number, dtype: Dtype, spec: ProblemSpec) {
    const { n, d, m, X, y, activation } = spec;
    for (const [name, value] of [['n', n], ['d', d], ['m', m]] as const) {
      if (!Number.isInteger(value) || value < 1) throw new RangeError(`wasm engine: ${name} must be a positive integer, got ${value}`);
    }
    if (X.length !== n * d) throw new RangeError(`wasm engine: X must have n*d = ${n * d} entries, got ${X.length}`);
    if (y.length !== n) throw new RangeError(`wasm engine: y must have n = ${n} entries, got ${y.length}`);
    const code = ACTIVATION_CODE[activation];
    if (code === undefined) throw new RangeError(`wasm engine: unknown activation ${String(activation)}`);
    this.dtype = dtype; this.n = n; this.d = d; this.m = m; this.activation = activation;

    const S = dtype === 'float64' ? 8 : 4;
    const tile = 32 / S; // neurons per register tile: two vectors
    const dp = roundUp(d, 4);
    const mp = roundUp(m, tile);
    const R = blockRows(n, mp * S, dp * S);

    // Lay out every buffer once, after the module's static data.
    let top = align16(heapBase);
    const take = (bytes: number): number => { const at = top; top = align16(top + bytes); return at; };
    const ctx = take(CTX_BYTES);
    const p = {
      X: take(n * dp * S), y: take(n * S),
      W: take(d * m * S), v: take(m * S), gW: take(d * m * S), gv: take(m * S), F: take(n * S), rows: take(n * 4),
      Wp: take(dp * mp * S), vp: take(mp * S), gWp: take(dp * mp * S), gvp: take(mp * S),
      Ab: take(R * mp * S), Gb: take(R * mp * S), rp: take(R * 4), rb: take(R * S),
    };
    // Gram buffers (float64 only): A and v .* s'(Z) for every row (n rounded up to whole blocks
    // of 4) and a block of rows of G.
    const withGram = dtype === 'float64' && n <= GRAM_MAX_N;
    const gramRows = Math.max(1, Math.min(n, Math.floor(GRAM_BLOCK_BYTES / (n * 8))));
    const g = withGram
      ? { Af: take(roundUp(n, 4) * mp * 8), Df: take(roundUp(n, 4) * mp * 8), Gblk: take(gramRows * n * 8) }
      : { Af: 0, Df: 0, Gblk: 0 };
    const pages = Math.ceil(top / PAGE);
    if (pages > 65536) {
      throw new RangeError(`wasm engine: n=${n}, d=${d}, m=${m} needs ${Math.ceil(top / 2 ** 20)} MiB, more than the 4 GiB of a wasm32 memory`);
    }
    const memory = new WA.Memory({ initial: pages, maximum: pages });
    const instance = new WA.Instance(module, { env: { memory } });
    this.kernel = instance.exports as unknown as KernelExports;
    this.ctx = ctx;

    const buf = memory.buffer;
    const header = new Int32Array(buf, ctx, CTX_BYTES / 4);
    const set = (field: keyof typeof C, value: number): void => { header[C[field] / 4] = value; };
    set('n', n); set('d', d); set('m', m); set('dp', dp); set('mp', mp); set('R', R); set('act', code);
    for (const [field, at] of Object.entries({ ...p, ...g })) set(field as keyof typeof C, at);

    const view = (at: number, len: number): FloatArray =>
      S === 8 ? new Float64Array(buf, at, len) : new Float32Array(buf, at, len);
    // X stored once with row stride dp (zero padding), converted to float32 when needed.
    const Xw = view(p.X, n * dp);
    for (let i = 0; i < n; i++) Xw.set(X.subarray(i * d, i * d + d), i * dp);
    view(p.y, n).set(y);
    this.W = view(p.W, d * m);
    this.v = view(p.v, m);
    this.gW = view(p.gW, d * m);
    this.gv = view(p.gv, m);
    this.F = view(p.F, n);
    this.rows = new Int32Array(buf, p.rows, n);
    if (withGram) {
      const block = new Float64Array(buf, g.Gblk, gramRows * n);
      this.gram = (G: Float64Array, withV: boolean): void => {
        const k = this.live();
        if (!(G instanceof Float64Array) || G.length !== n * n) {
          throw new RangeError(`wasm engine: gram(G) needs a Float64Array of n*n = ${n * n} entries`);
        }
        k.gramPrepare64(this.ctx);
        for (let i0 = 0; i0 < n; i0 += gramRows) {
          const i1 = Math.min(n, i0 + gramRows);
          k.gramRows64(this.ctx, i0, i1, withV ? 1 : 0);
          for (let i = i0; i < i1; i++) {
            const row = block.subarray((i - i0) * n, (i - i0) * n + i + 1);
            G.set(row, i * n);
            for (let c = 0; c < i; c++) G[c * n + i] = row[c]!;
          }
        }
      };
    }
  }

  private live(): KernelExports {
    if (this.kernel === null) throw new Error('wasm engine: problem used after dispose()');
    return this.kernel;
  }

  step(b?: number): number {
    const k = this.live();
    const useRows = b !== undefined;
    const batch = b ?? this.n;
    if (!Number.isInteger(batch) || batch < 1 || batch > this.n) {
      throw new RangeError(`wasm engine: step(b) needs an integer b in [1, ${this.n}], got ${b}`);
    }
    const sse = this.dtype === 'float64' ? k.step64(this.ctx, batch, useRows ? 1 : 0) : k.step32(this.ctx, batch, useRows ? 1 : 0);
    if (sse < 0) throw new RangeError(`wasm engine: rows[0..${batch}) holds an index outside [0, ${this.n})`);
    return sse;
  }

  forward(): number {
    const k = this.live();
    return this.dtype === 'float64' ? k.forward64(this.ctx) : k.forward32(this.ctx);
  }

  dispose(): void {
    this.kernel = null;
  }
}

/** Compiles the kernel (once per thread) and returns the wasm engine for `dtype`. */
export async function loadWasmEngine(dtype: Dtype): Promise<Engine> {
  if (dtype !== 'float64' && dtype !== 'float32') throw new RangeError(`wasm engine: dtype must be float64 or float32, got ${String(dtype)}`);
  modulePromise ??= compileKernel();
  let module: WasmModule;
  try {
    module = await modulePromise;
  } catch (err) {
    modulePromise = null; // let a later call retry (e.g. after the kernel is built)
    throw err;
  }
  // The end of the module's static data is a constant of the binary: ask a throwaway instance once.
  const probe = new WA.Instance(module, { env: { memory: new WA.Memory({ initial: 1 }) } });
  const heapBase = (probe.exports as unknown as KernelExports).heapBase();
  return {
    name: 'wasm',
    dtype,
    detail: `assemblyscript wasm simd128 (${dtype})`,
    createProblem: (spec: ProblemSpec) => new WasmProblem(module, heapBase, dtype, spec),
  };
}
