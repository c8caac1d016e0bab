// The wasm engine against the TypeScript reference (the oracle of src/core/reference.ts), on shapes
// that do and do not fill whole SIMD tiles, for every activation, float64 and float32.
import test from 'ava';
import { gramTS, jacobianAt } from '../src/core/jacobian.js';
import { ReferenceProblem } from '../src/core/reference.js';
import { Rng } from '../src/core/rng.js';
import { ACTIVATIONS } from '../src/core/types.js';
import type { Activation, Dtype, Engine, FloatArray, Problem, ProblemSpec } from '../src/core/types.js';
import { loadWasmEngine } from '../src/engines/wasm.js';

// [1, 1, 1]: one row, one input, one neuron; [130, 1, 2]: more than one block of 128 rows.
const SHAPES: Array<[number, number, number]> = [[7, 3, 5], [33, 17, 10], [200, 10, 40], [101, 50, 41], [1, 1, 1], [130, 1, 2]];
const TOL: Record<Dtype, number> = { float64: 1e-12, float32: 1e-5 };

/** ||a - b|| / ||b|| (plain difference when b = 0). */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < b.length; i++) { num += (a[i]! - b[i]!) ** 2; den += b[i]! ** 2; }
  return Math.sqrt(num / (den > 0 ? den : 1));
}
const relScalar = (a: number, b: number): number => Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);

const engines = new Map<Dtype, Promise<Engine>>();
const engine = (dtype: Dtype): Promise<Engine> => {
  if (!engines.has(dtype)) engines.set(dtype, loadWasmEngine(dtype));
  return engines.get(dtype)!;
};

/** A reference and a wasm problem on the same random data and parameters (X entries of order 1, LeCun-scale W, v). */
async function pair(dtype: Dtype, n: number, d: number, m: number, activation: Activation, wScale = 1):
  Promise<{ ref: ReferenceProblem; wasm: Problem; rng: Rng }> {
  const rng = new Rng(`engine-wasm|${n}|${d}|${m}|${activation}|${wScale}`);
  const X = rng.fillNormal(new Float64Array(n * d)), y = rng.fillNormal(new Float64Array(n));
  // float32: both sides see the same rounded data, so only the arithmetic differs
  if (dtype === 'float32') { X.set(Float32Array.from(X)); y.set(Float32Array.from(y)); }
  const spec: ProblemSpec = { X, y, n, d, m, activation };
  const ref = new ReferenceProblem(spec);
  const wasm = (await engine(dtype)).createProblem(spec);
  const W = rng.fillNormal(new Float64Array(d * m), wScale / Math.sqrt(d));
  const v = rng.fillNormal(new Float64Array(m), 1 / Math.sqrt(m));
  wasm.W.set(W); wasm.v.set(v);
  ref.W.set(wasm.W); ref.v.set(wasm.v);
  return { ref, wasm, rng };
}

function close(t: { true(c: boolean, m?: string): void }, what: string, got: FloatArray | number, want: FloatArray | number, tol: number): void {
  const e = typeof got === 'number' ? relScalar(got, want as number) : relErr(got, want as FloatArray);
  t.true(e <= tol, `${what}: relative error ${e.toExponential(2)} > ${tol}`);
}

for (const dtype of ['float64', 'float32'] as const) {
  const tol = TOL[dtype];
  // float32 with n = 1: one residual, which may cancel (see the rows test below)
  for (const [n, d, m] of SHAPES.filter(([n]) => dtype === 'float64' || n > 1)) {
    test(`${dtype} n=${n} d=${d} m=${m}: full-batch step, every activation`, async (t) => {
      for (const act of ACTIVATIONS) {
        const { ref, wasm } = await pair(dtype, n, d, m, act);
        close(t, `${act} sse`, wasm.step(), ref.step(), tol);
        close(t, `${act} gW`, wasm.gW, ref.gW, tol);
        close(t, `${act} gv`, wasm.gv, ref.gv, tol);
        wasm.dispose();
      }
    });

    test(`${dtype} n=${n} d=${d} m=${m}: rows minibatch with repeated rows, every activation`, async (t) => {
      for (const act of ACTIVATIONS) {
        const { ref, wasm, rng } = await pair(dtype, n, d, m, act);
        // float32 skips b = 1: a single residual F - y can cancel, and its relative error is then
        // eps * |F| / |r|, which says nothing about the kernel
        for (const b of [dtype === 'float64' ? 1 : Math.min(8, n), Math.max(1, n >> 1), n]) {
          for (let i = 0; i < b; i++) ref.rows[i] = wasm.rows[i] = rng.int(n);
          ref.rows[0] = wasm.rows[0] = ref.rows[b - 1]!; // at least one repeat when b > 1
          close(t, `${act} b=${b} sse`, wasm.step(b), ref.step(b), tol);
          close(t, `${act} b=${b} gW`, wasm.gW, ref.gW, tol);
          close(t, `${act} b=${b} gv`, wasm.gv, ref.gv, tol);
        }
        wasm.dispose();
      }
    });

    test(`${dtype} n=${n} d=${d} m=${m}: forward writes F, every activation`, async (t) => {
      for (const act of ACTIVATIONS) {
        const { ref, wasm } = await pair(dtype, n, d, m, act);
        close(t, `${act} sse`, wasm.forward(), ref.forward(), tol);
        close(t, `${act} F`, wasm.F, ref.F, tol);
        wasm.dispose();
      }
    });
  }
}

test('float64: large pre-activations (|z| up to ~1e3) stay finite and match the reference', async (t) => {
  for (const act of ACTIVATIONS) {
    const { ref, wasm } = await pair('float64', 64, 9, 13, act, 300);
    close(t, `${act} sse`, wasm.step(), ref.step(), 1e-12);
    close(t, `${act} gW`, wasm.gW, ref.gW, 1e-12);
    close(t, `${act} gv`, wasm.gv, ref.gv, 1e-12);
    t.true(wasm.gW.every(Number.isFinite), `${act}: gW finite`);
  }
});

// Looser than 1e-5: with |z| ~ 1e3 in float32, z itself carries ~1e-4 absolute rounding and
// s'(z) = 1 - t^2 cancels where t is near +-1; sin is left out as its value is then noise.
test('float32: large pre-activations stay finite and match the reference to 1e-4', async (t) => {
  for (const act of ACTIVATIONS.filter((a) => a !== 'sin')) {
    const { ref, wasm } = await pair('float32', 64, 9, 13, act, 300);
    close(t, `${act} sse`, wasm.step(), ref.step(), 1e-4);
    close(t, `${act} gW`, wasm.gW, ref.gW, 1e-4);
    close(t, `${act} gv`, wasm.gv, ref.gv, 1e-4);
    t.true(wasm.gW.every(Number.isFinite), `${act}: gW finite`);
  }
});

test('float64: tiny pre-activations keep full relative accuracy (tanh, gelu near 0)', async (t) => {
  for (const act of ['tanh', 'gelu', 'sin', 'softplus'] as const) {
    const { ref, wasm } = await pair('float64', 20, 5, 6, act, 1e-9);
    close(t, `${act} sse`, wasm.step(), ref.step(), 1e-12);
    close(t, `${act} gW`, wasm.gW, ref.gW, 1e-12);
    close(t, `${act} gv`, wasm.gv, ref.gv, 1e-12);
  }
});

test('float64 gram matches the TS Gram (J J^T, with and without the v block) on odd shapes, every activation', async (t) => {
  for (const [n, d, m] of [[7, 3, 5], [33, 17, 10], [101, 50, 41]] as const) {
    for (const act of ACTIVATIONS) {
      const { wasm } = await pair('float64', n, d, m, act);
      t.truthy(wasm.gram, 'float64 problems provide gram');
      const X = new Float64Array(n * d);
      // the pair's X is not exposed: rebuild it from the same stream
      const rng = new Rng(`engine-wasm|${n}|${d}|${m}|${act}|1`);
      rng.fillNormal(X);
      const J = jacobianAt(X, n, d, m, wasm.W, wasm.v, act);
      for (const withV of [false, true]) {
        const G = new Float64Array(n * n).fill(NaN);
        wasm.gram!(G, withV);
        close(t, `${act} n=${n} withV=${withV}`, G, gramTS(J, withV, new Float64Array(n * n)), 1e-12);
      }
      wasm.dispose();
    }
  }
});

test('float32 problems leave gram to the core', async (t) => {
  const { wasm } = await pair('float32', 9, 3, 4, 'tanh');
  t.is(wasm.gram, undefined);
});

test('buffers are views of the right type into one memory that never detaches', async (t) => {
  for (const dtype of ['float64', 'float32'] as const) {
    const { wasm } = await pair(dtype, 50, 7, 9, 'tanh');
    const Ctor = dtype === 'float64' ? Float64Array : Float32Array;
    for (const name of ['W', 'v', 'gW', 'gv', 'F'] as const) t.true(wasm[name] instanceof Ctor, `${dtype} ${name}`);
    t.true(wasm.rows instanceof Int32Array);
    const buffer = wasm.W.buffer;
    const bytes = buffer.byteLength;
    for (const view of [wasm.v, wasm.gW, wasm.gv, wasm.F, wasm.rows]) t.is(view.buffer, buffer);
    for (let s = 0; s < 20; s++) { wasm.step(); wasm.forward(); wasm.rows.fill(3, 0, 10); wasm.step(10); }
    t.is(wasm.W.buffer.byteLength, bytes);
    t.is(wasm.gW.length, 7 * 9);
    wasm.dispose();
  }
});

test('several problems coexist without touching each other', async (t) => {
  const a = await pair('float64', 40, 6, 8, 'sigmoid');
  const b = await pair('float64', 30, 4, 5, 'sin');
  a.wasm.step(); a.ref.step();
  b.wasm.step(); b.ref.step();
  a.wasm.W.fill(0.5); a.wasm.step();
  close(t, 'b gW untouched', b.wasm.gW, b.ref.gW, 1e-12);
  t.not(a.wasm.W.buffer, b.wasm.W.buffer);
  b.wasm.dispose();
  a.ref.W.fill(0.5);
  close(t, 'a still works after b is disposed', a.wasm.step(), a.ref.step(), 1e-12);
});

test('a NaN weight gives a NaN loss (so the core can report divergence), not an exception', async (t) => {
  for (const dtype of ['float64', 'float32'] as const) {
    const { wasm } = await pair(dtype, 12, 3, 5, 'tanh');
    wasm.W[4] = NaN;
    t.true(Number.isNaN(wasm.step()), dtype);
    t.true(Number.isNaN(wasm.forward()), dtype);
  }
});

test('bad arguments throw with the argument named', async (t) => {
  const { wasm } = await pair('float64', 10, 3, 4, 'tanh');
  t.throws(() => wasm.step(0), { message: /step\(b\)/ });
  t.throws(() => wasm.step(11), { message: /step\(b\)/ });
  t.throws(() => wasm.step(2.5), { message: /step\(b\)/ });
  wasm.rows[0] = 10;
  t.throws(() => wasm.step(1), { message: /rows/ });
  wasm.rows[0] = -1;
  t.throws(() => wasm.step(1), { message: /rows/ });
  const e = await engine('float64');
  t.throws(() => e.createProblem({ X: new Float64Array(5), y: new Float64Array(2), n: 2, d: 3, m: 1, activation: 'tanh' }), { message: /X must have/ });
  wasm.dispose();
  t.throws(() => wasm.step(), { message: /dispose/ });
});

test('engine reports its name and dtype', async (t) => {
  const e = await loadWasmEngine('float32');
  t.is(e.name, 'wasm');
  t.is(e.dtype, 'float32');
  t.is(e.createProblem({ X: new Float64Array(6), y: new Float64Array(2), n: 2, d: 3, m: 1, activation: 'relu' }).engine, 'wasm');
});
