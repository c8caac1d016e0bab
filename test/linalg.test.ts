// The compiled linear algebra of a run (issue 8) against the TypeScript paths and dense oracles:
// the native Jacobian (J u, J^T z, the Gram matrix by BLAS and by register tiles), LAPACK's
// Cholesky, solve and eigenvalues, lambda_max for `lr: auto` and sigma_min(J) by Lanczos against a
// dense eigen-solve, whole runs on the compiled path against the TypeScript path, one BLAS thread
// per worker thread, and the seconds budget inside the start-up phases and an lm iteration.
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { Worker } from 'node:worker_threads';
import { resolveConfig } from '../src/core/config.js';
import { syntheticDataset as generateDataset } from '../src/core/data.js';
import { initParams } from '../src/core/init.js';
import { gramTS, jacobianAt, jvp, vjp } from '../src/core/jacobian.js';
import { lambdaMax, lanczosLargest, smallestEigenvalue } from '../src/core/lanczos.js';
import { cholesky, choleskySolve, symmetricEigenvalues, tsLinalg } from '../src/core/linalg.js';
import { referenceEngine } from '../src/core/reference.js';
import { Rng } from '../src/core/rng.js';
import { train } from '../src/core/train.js';
import { ACTIVATIONS } from '../src/core/types.js';
import type { Activation, DenseLinalg, Dtype, Engine, Linearization, Problem, RunConfig } from '../src/core/types.js';
import { loadNativeEngine, nativeInfo, nativeLinalgInfo } from '../src/engines/native.js';

const allowMissing = process.env.NARROWSWEEP_ALLOW_NO_NATIVE === '1';

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < b.length; i++) { num += (a[i]! - b[i]!) ** 2; den += b[i]! ** 2; }
  return Math.sqrt(num / (den > 0 ? den : 1));
}
const rel = (a: number, b: number): number => Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);

function close(t: ExecutionContext, what: string, got: ArrayLike<number> | number, want: ArrayLike<number> | number, tol: number): void {
  const e = typeof got === 'number' ? rel(got, want as number) : relErr(got, want as ArrayLike<number>);
  t.true(e <= tol, `${what}: relative error ${e.toExponential(2)} > ${tol}`);
}

/** The native engine (with LAPACK), or null after failing (or, when allowed, passing with a note). */
function nativeEngine(t: ExecutionContext, dtype: Dtype = 'float64'): Engine | null {
  const e = loadNativeEngine(dtype);
  if (e !== null && e.linalg) return e;
  const why = e === null ? nativeInfo().reason : nativeLinalgInfo().reason;
  if (allowMissing) { t.log(`compiled path unavailable (${why}); skipped (NARROWSWEEP_ALLOW_NO_NATIVE=1)`); t.pass(); } else {
    t.fail(`compiled linear algebra unavailable: ${why}`);
  }
  return null;
}

/** Data of order 1 and LeCun (or mirrored) parameters on a problem of `engine`. */
function setup(engine: Engine, n: number, d: number, m: number, activation: Activation, mirrored = false): { p: Problem; X: Float64Array } {
  const rng = new Rng(`linalg-test|${n}|${d}|${m}|${activation}|${mirrored}`);
  let X = rng.fillNormal(new Float64Array(n * d));
  const y = rng.fillNormal(new Float64Array(n));
  // a float32 problem holds X rounded to float32; the oracle gets that same X
  if (engine.dtype === 'float32') X = Float64Array.from(Float32Array.from(X));
  const p = engine.createProblem({ X, y, n, d, m, activation });
  const W = rng.fillNormal(new Float64Array(d * m), 1 / Math.sqrt(d)), v = rng.fillNormal(new Float64Array(m), 1 / Math.sqrt(m));
  if (mirrored) {
    for (let k = 0; k < d; k++) for (let j = 1; j < m; j += 2) W[k * m + j] = W[k * m + j - 1]!;
    for (let j = 1; j < m; j += 2) v[j] = -v[j - 1]!;
  }
  p.W.set(W);
  p.v.set(v);
  return { p, X };
}

/** A symmetric positive definite B B^T + shift I, n x n. */
function spd(n: number, seed: string, shift: number): Float64Array {
  const rng = new Rng(seed);
  const B = rng.fillNormal(new Float64Array(n * n));
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += B[i * n + k]! * B[j * n + k]!;
      A[i * n + j] = s; A[j * n + i] = s;
    }
    A[i * n + i]! += shift;
  }
  return A;
}

function maxAbs(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s = Math.max(s, Math.abs(a[i]!));
  return s;
}

test('native linearization: J u, J^T z and the Gram matrix (BLAS and tiles) equal the TypeScript Jacobian, every activation, float64 and float32', (t) => {
  for (const dtype of ['float64', 'float32'] as const) {
    const engine = nativeEngine(t, dtype);
    if (engine === null) return;
    // n = 300 > 256: the BLAS Gram matrix takes more than one block of rows
    for (const [n, d, m] of [[7, 3, 5], [33, 17, 10], [101, 50, 41], [300, 20, 30]] as const) {
      for (const activation of ACTIVATIONS) {
        const { p, X } = setup(engine, n, d, m, activation);
        const J = p.linearize!();
        const ref = jacobianAt(X, n, d, m, Float64Array.from(p.W), Float64Array.from(p.v), activation);
        const rng = new Rng(`lin|${dtype}|${n}|${activation}`);
        const dW = rng.fillNormal(new Float64Array(d * m)), dv = rng.fillNormal(new Float64Array(m)), z = rng.fillNormal(new Float64Array(n));
        const what = `${dtype} ${activation} ${n}x${d}x${m}`;
        for (const withV of [false, true]) {
          const got = new Float64Array(n), want = new Float64Array(n);
          J.jvp(dW, withV ? dv : null, got);
          jvp(ref, dW, withV ? dv : null, want);
          close(t, `${what} jvp withV=${withV}`, got, want, 1e-12);
          const gW = new Float64Array(d * m), gv = new Float64Array(m), rW = new Float64Array(d * m), rv = new Float64Array(m);
          J.vjp(z, gW, withV ? gv : null);
          vjp(ref, z, rW, withV ? rv : null);
          close(t, `${what} vjp gW withV=${withV}`, gW, rW, 1e-12);
          if (withV) close(t, `${what} vjp gv`, gv, rv, 1e-12);
          const G = new Float64Array(n * n);
          J.gram(G, withV);
          close(t, `${what} gram (BLAS) withV=${withV}`, G, gramTS(ref, withV, new Float64Array(n * n)), 1e-12);
          let symmetric = true;
          for (let i = 0; i < n && symmetric; i++) for (let k = 0; k < i; k++) if (G[i * n + k] !== G[k * n + i]) { symmetric = false; break; }
          t.true(symmetric, `${what} gram exactly symmetric`);
        }
        p.dispose();
      }
    }
  }
});

test('the Gram matrix without BLAS (NARROWSWEEP_NO_LAPACK) equals the BLAS one and the TypeScript one', async (t) => {
  if (nativeEngine(t) === null) return;
  // A fresh process, since the switch is read when the engine loads.
  const code = `
    const { loadNativeEngine, nativeLinalgInfo } = await import(${JSON.stringify(new URL('../src/engines/native.js', import.meta.url).href)});
    const { Rng } = await import(${JSON.stringify(new URL('../src/core/rng.js', import.meta.url).href)});
    const e = loadNativeEngine('float64');
    const n = 270, d = 9, m = 14, rng = new Rng('tiles');
    const p = e.createProblem({ X: rng.fillNormal(new Float64Array(n * d)), y: rng.fillNormal(new Float64Array(n)), n, d, m, activation: 'tanh' });
    p.W.set(rng.fillNormal(new Float64Array(d * m), 0.3)); p.v.set(rng.fillNormal(new Float64Array(m), 0.3));
    const G = new Float64Array(n * n); p.linearize().gram(G, true);
    process.stdout.write(JSON.stringify({ linalg: e.linalg ? e.linalg.name : null, reason: nativeLinalgInfo().reason, G: Array.from(G) }));`;
  const run = async (env: NodeJS.ProcessEnv): Promise<{ linalg: string | null; reason: string | null; G: number[] }> => {
    const { execFile } = await import('node:child_process');
    return new Promise((resolve, reject) => {
      execFile(process.execPath, ['--input-type=module', '-e', code], { env: { ...process.env, ...env }, maxBuffer: 64 << 20 }, (err, out) => {
        if (err) reject(err); else resolve(JSON.parse(out) as { linalg: string | null; reason: string | null; G: number[] });
      });
    });
  };
  const [blas, tiles] = await Promise.all([run({}), run({ NARROWSWEEP_NO_LAPACK: '1' })]);
  t.truthy(blas.linalg);
  t.is(tiles.linalg, null);
  t.regex(tiles.reason ?? '', /NARROWSWEEP_NO_LAPACK/);
  close(t, 'tiles vs BLAS', tiles.G, blas.G, 1e-13);
});

test('LAPACK Cholesky, solve and eigenvalues agree with the TypeScript ones', (t) => {
  const engine = nativeEngine(t);
  if (engine === null) return;
  const la = engine.linalg!;
  for (const n of [1, 2, 5, 64, 301]) {
    const A = spd(n, `spd|${n}`, n);
    const L1 = A.slice(), L2 = A.slice();
    t.true(la.cholesky(L1, n));
    t.true(cholesky(L2, n));
    const lower = (L: Float64Array): number[] => { const o: number[] = []; for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) o.push(L[i * n + j]!); return o; };
    close(t, `n=${n} cholesky factor`, lower(L1), lower(L2), 1e-12);
    const b = new Rng(`b|${n}`).fillNormal(new Float64Array(n));
    const x1 = la.choleskySolve(L1, n, b.slice()), x2 = choleskySolve(L2, n, b.slice());
    close(t, `n=${n} solve`, x1, x2, 1e-12);
    const Ax = new Float64Array(n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) Ax[i]! += A[i * n + j]! * x1[j]!;
    close(t, `n=${n} A x = b`, Ax, b, 1e-12);
    const e1 = la.symmetricEigenvalues(A.slice(), n), e2 = symmetricEigenvalues(A.slice(), n);
    for (let i = 0; i < n; i++) t.true(rel(e1[i]!, e2[i]!) <= 1e-10, `n=${n} eigenvalue ${i}: ${e1[i]} vs ${e2[i]}`);
    for (let i = 1; i < n; i++) t.true(e1[i]! >= e1[i - 1]!, 'ascending');
  }
  // not positive definite: false on both paths
  const bad = new Float64Array([1, 2, 2, 1]);
  t.false(la.cholesky(bad.slice(), 2));
  t.false(cholesky(bad.slice(), 2));
});

/** Dense oracle: the eigenvalues of J J^T (+ the v block) from the TypeScript Householder + QL solver. */
function denseSpectrum(X: Float64Array, p: Problem, withV: boolean): Float64Array {
  const { n, d, m } = p;
  const J = jacobianAt(X, n, d, m, Float64Array.from(p.W), Float64Array.from(p.v), p.activation);
  return symmetricEigenvalues(gramTS(J, withV, new Float64Array(n * n)), n);
}

test('lambda_max for lr: auto by Lanczos on the compiled and the TypeScript Jacobian equals the dense eigen-solve to 1e-10', (t) => {
  const native = nativeEngine(t);
  for (const engine of [referenceEngine, ...(native ? [native] : [])]) {
    for (const [n, d, m, act] of [[150, 10, 30, 'tanh'], [97, 7, 12, 'gelu'], [400, 30, 8, 'softplus']] as const) {
      const { p, X } = setup(engine, n, d, m, act);
      const J: Linearization = p.linearize ? p.linearize() : (() => {
        const r = jacobianAt(X, n, d, m, p.W, p.v, act);
        return { n, d, m, jvp: (a, b, c) => jvp(r, a, b, c), vjp: (a, b, c) => vjp(r, a, b, c), gram: (G, w) => { gramTS(r, w, G); } };
      })();
      for (const withV of [false, true]) {
        const want = denseSpectrum(X, p, withV)[n - 1]!;
        const got = lambdaMax(J, withV, new Rng(`start|${n}`).fillNormal(new Float64Array(n)));
        t.true(got.converged);
        close(t, `${engine.name} ${n}x${d}x${m} withV=${withV}: lambda_max (${got.iterations} iterations)`, got.value, want, 1e-10);
      }
      p.dispose();
    }
  }
});

test('sigma_min by Lanczos on the inverse equals the dense eigen-solve: 1e-10 relative at full row rank, a few eps ||G|| when rank deficient', (t) => {
  const native = nativeEngine(t);
  const las: DenseLinalg[] = [tsLinalg, ...(native ? [native.linalg!] : [])];
  const cases: Array<[number, number, number, boolean, string]> = [
    [200, 10, 60, false, 'lecun, md = 3n'],
    [300, 20, 40, true, 'mirrored, md/2 = 400 >= n'],
    [250, 10, 40, true, 'mirrored, md/2 = 200 < n: rank deficient'],
    [120, 5, 10, false, 'lecun, md = 50 < n: rank deficient'],
  ];
  for (const [n, d, m, mirrored, what] of cases) {
    const { p, X } = setup(referenceEngine, n, d, m, 'tanh', mirrored);
    const J = jacobianAt(X, n, d, m, p.W, p.v, 'tanh');
    const G = gramTS(J, false, new Float64Array(n * n));
    const ev = symmetricEigenvalues(G.slice(), n);
    const want = ev[0]!, top = ev[n - 1]!;
    const fullRank = want > 1e-8 * top;
    t.is(fullRank, !what.includes('deficient'), `${what}: lambda_min ${want} vs lambda_max ${top}`);
    for (const la of las) {
      const got = smallestEigenvalue(G, n, la, new Rng('start').fillNormal(new Float64Array(n)))!;
      if (fullRank) close(t, `${what} (${la.name})`, got, want, 1e-10);
      else t.true(Math.abs(got - want) <= 50 * n * Number.EPSILON * top, `${what} (${la.name}): ${got} vs ${want}, ||G|| ${top}`);
    }
  }
  // a clustered spectrum: Lanczos still gives the smallest eigenvalue (or falls back to the dense solve)
  const n = 60;
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++) A[i * n + i] = i < 30 ? 1 + 1e-9 * i : 10 + i;
  for (const la of las) close(t, `clustered (${la.name})`, smallestEigenvalue(A, n, la, new Rng('c').fillNormal(new Float64Array(n)))!, 1, 1e-10);
});

test('lanczosLargest: exact on an invariant subspace, rejects a zero start, and says when it did not converge', (t) => {
  const n = 50;
  const diag = Float64Array.from({ length: n }, (_, i) => i + 1);
  const apply = (x: Float64Array, y: Float64Array): void => { for (let i = 0; i < n; i++) y[i] = diag[i]! * x[i]!; };
  const e3 = new Float64Array(n); e3[3] = 1;
  const inv = lanczosLargest(apply, n, e3);
  t.true(inv.converged);
  t.is(inv.iterations, 1);
  t.is(inv.value, 4);
  const full = lanczosLargest(apply, n, new Rng('x').fillNormal(new Float64Array(n)));
  t.true(full.converged);
  close(t, 'diagonal 1..50', full.value, 50, 1e-12);
  const short = lanczosLargest(apply, n, new Rng('x').fillNormal(new Float64Array(n)), { maxIter: 3 });
  t.false(short.converged);
  t.throws(() => lanczosLargest(apply, n, new Float64Array(n)), { message: /start vector/ });
});

function cfg(over: Partial<RunConfig>): ReturnType<typeof resolveConfig> {
  return resolveConfig({ method: 'gd', n: 120, d: 8, m: 30, seed: 3, iterations: 20, epsilon: 0, ...over } as RunConfig);
}

test('a whole run on the compiled path equals the TypeScript path: lr, lambda_max, radius, certificates, loss, test metrics', (t) => {
  const native = nativeEngine(t);
  if (native === null) return;
  const noLapack: Engine = { name: native.name, dtype: native.dtype, detail: native.detail, createProblem: native.createProblem };
  const configs: Array<[string, Partial<RunConfig>]> = [
    ['gd, lr auto, test split', { method: 'gd', data: { source: 'gaussian', labels: 'gaussian', nTest: 40 } }],
    ['pgd, radius auto', { method: 'pgd', m: 40, outputScale: 10 }],
    ['sgd, lr auto', { method: 'sgd', batch: 16 }],
    ['lm, 4 iterations', { method: 'lm', m: 40, iterations: 4, outputScale: 10 }],
    ['lm with a ball', { method: 'lm', m: 40, iterations: 3, constraint: 'ball', radius: 'auto', outputScale: 10 }],
  ];
  for (const [what, over] of configs) {
    const c = cfg(over);
    const ds = generateDataset(c);
    const runs = [native, noLapack, referenceEngine].map((e) => train(c, ds, e).result);
    const [a, b, r] = runs as [typeof runs[0], typeof runs[0], typeof runs[0]];
    for (const other of [b, r]) {
      const who = `${what}: native+LAPACK vs ${other === b ? 'native without LAPACK' : 'ts engine'}`;
      t.is(a.status, other.status, who);
      for (const k of ['lrUsed', 'lambdaMax', 'radiusUsed', 'sigmaMinJStart'] as const) {
        if (a[k] === null) { t.is(other[k], null, `${who} ${k}`); continue; }
        close(t, `${who} ${k}`, a[k]!, other[k]!, 1e-10);
      }
      for (const k of ['relLoss', 'sigmaMinJEnd', 'testRelLoss'] as const) {
        if (a[k] === null) { t.is(other[k], null, `${who} ${k}`); continue; }
        close(t, `${who} ${k}`, a[k]!, other[k]!, 1e-8);
      }
      t.is(a.testAccuracy, other.testAccuracy, `${who} testAccuracy`);
    }
    t.not(a.sigmaMinJStart, null, `${what}: n <= certificateMaxN has a certificate`);
    if (c.lr === 'auto' && c.optimizer !== 'lm') t.not(a.lambdaMax, null);
  }
  // lambdaMax is the dense eigenvalue of J0 J0^T (v block included when v is trained), lrUsed = n / lambdaMax
  const c = cfg({ method: 'gd' });
  const ds = generateDataset(c);
  const res = train(c, ds, native).result;
  const { W, v } = initParams(c);
  const J = jacobianAt(ds.X, c.n, c.d, c.m, W, v, c.activation);
  const top = symmetricEigenvalues(gramTS(J, true, new Float64Array(c.n * c.n)), c.n)[c.n - 1]!;
  close(t, 'lambdaMax = lambda_max(J0 J0^T) with the v block', res.lambdaMax!, top, 1e-10);
  close(t, 'lrUsed = n / lambda_max', res.lrUsed!, c.n / top, 1e-10);
});

test('the seconds budget holds inside the start-up phases (sigma_min, lambda_max) and inside an lm iteration', (t) => {
  const native = nativeEngine(t);
  for (const engine of [referenceEngine, ...(native ? [native] : [])]) {
    // a clock that moves one second per reading: the budget runs out at a deterministic check
    const clock = (): (() => number) => { let s = 0; return () => s++; };
    const certificate = cfg({ method: 'gd', seconds: 3 });
    const a = train(certificate, generateDataset(certificate), engine, { now: clock() }).result;
    t.is(a.status, 'timeout');
    t.is(a.iterations, 0);
    t.regex(a.message ?? '', /seconds budget \(3 s\) reached during sigma_min\(J\), before iteration 0/);
    const lr = cfg({ method: 'gd', seconds: 3, certificateMaxN: 0 });
    const b = train(lr, generateDataset(lr), engine, { now: clock() }).result;
    t.is(b.status, 'timeout');
    t.regex(b.message ?? '', /during lambda_max for lr: auto, before iteration 0/);
    t.is(b.lrUsed, null);
    const lm = cfg({ method: 'lm', m: 40, seconds: 2, certificateMaxN: 0, iterations: 50 });
    const c = train(lm, generateDataset(lm), engine, { now: clock() }).result;
    t.is(c.status, 'timeout');
    t.regex(c.message ?? '', /during an lm iteration at iteration 0/);
    t.not(c.relLoss, null, 'the last accepted iterate is reported');
  }
});

test('a Linearization replaced by a later linearize() refuses to answer', (t) => {
  const native = nativeEngine(t);
  if (native === null) return;
  const { p } = setup(native, 20, 3, 4, 'tanh');
  const J1 = p.linearize!();
  p.linearize!();
  t.throws(() => J1.jvp(new Float64Array(12), null, new Float64Array(20)), { message: /replaced by a later linearize/ });
  p.dispose();
});

test('OpenBLAS runs one thread in every worker thread, and concurrent factorisations are exact', async (t) => {
  const native = nativeEngine(t);
  if (native === null) return;
  const n = 200;
  const job = `
    const { parentPort, workerData } = require('node:worker_threads');
    (async () => {
      const { loadNativeEngine, nativeLinalgInfo } = await import(workerData.nativeUrl);
      const { Rng } = await import(workerData.rngUrl);
      const la = loadNativeEngine('float64').linalg;
      const n = workerData.n, rng = new Rng('threads'), B = rng.fillNormal(new Float64Array(n * n));
      const A = new Float64Array(n * n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) { let s = 0; for (let k = 0; k < n; k++) s += B[i * n + k] * B[j * n + k]; A[i * n + j] = s + (i === j ? n : 0); }
      let ev, L;
      for (let r = 0; r < 20; r++) { ev = la.symmetricEigenvalues(A.slice(), n); L = A.slice(); la.cholesky(L, n); }
      parentPort.postMessage({ threads: nativeLinalgInfo().threads, ev, L });
    })().catch((e) => { throw e; });`;
  const workerData = { n, nativeUrl: new URL('../src/engines/native.js', import.meta.url).href, rngUrl: new URL('../src/core/rng.js', import.meta.url).href };
  const run = (): Promise<{ threads: number; ev: Float64Array; L: Float64Array }> => new Promise((resolve, reject) => {
    const w = new Worker(job, { eval: true, workerData });
    w.once('message', resolve);
    w.once('error', reject);
  });
  const [a, b] = await Promise.all([run(), run()]);
  t.is(a.threads, 1);
  t.is(b.threads, 1);
  t.deepEqual(Array.from(a.ev), Array.from(b.ev), 'bit-identical eigenvalues from two threads at once');
  t.deepEqual(Array.from(a.L), Array.from(b.L), 'bit-identical Cholesky factors');
  t.is(maxAbs(a.ev) > 0, true);
});
