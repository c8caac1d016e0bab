import test from 'ava';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { ReferenceProblem, referenceEngine } from '../src/core/reference.js';
import { Rng } from '../src/core/rng.js';
import { act, dact } from '../src/core/activations.js';
import { ACTIVATIONS } from '../src/core/types.js';
import type { Activation, RunConfig, RunResult } from '../src/core/types.js';
import { resolveConfig } from '../src/core/config.js';
import { initParams } from '../src/core/init.js';
import { symmetricEigenvalues, cholesky, choleskySolve } from '../src/core/linalg.js';
import { distance, kkt, project, sigmaMinFromGram, train } from '../src/core/train.js';
import { gramTS, jacobianAt } from '../src/core/jacobian.js';
import { syntheticDataset } from '../src/core/data.js';

function randn(key: string, len: number, sd = 1): Float64Array {
  return new Rng(key).fillNormal(new Float64Array(len), sd);
}

function norm(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * a[i]!;
  return Math.sqrt(s);
}

function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const diff = Array.from(a, (x, i) => x - b[i]!);
  return norm(diff) / Math.max(norm(b), 1e-300);
}

/** L(W, v) = (1/2n) ||s(XW) v - y||^2 evaluated directly from the definition. */
function lossDirect(X: Float64Array, y: Float64Array, W: Float64Array, v: Float64Array, n: number, d: number, m: number, a: Activation): number {
  let s = 0;
  for (let i = 0; i < n; i++) {
    let f = 0;
    for (let j = 0; j < m; j++) {
      let z = 0;
      for (let k = 0; k < d; k++) z += X[i * d + k]! * W[k * m + j]!;
      f += act(a, z) * v[j]!;
    }
    s += (f - y[i]!) ** 2;
  }
  return s / (2 * n);
}

for (const a of ACTIVATIONS) {
  test(`analytic gradients match central finite differences (${a})`, (t) => {
    const n = 9, d = 4, m = 6;
    const X = randn(`fd-X-${a}`, n * d), y = randn(`fd-y-${a}`, n);
    const p = new ReferenceProblem({ X, y, n, d, m, activation: a });
    p.W.set(randn(`fd-W-${a}`, d * m, 1 / Math.sqrt(d)));
    p.v.set(randn(`fd-v-${a}`, m, 1 / Math.sqrt(m)));
    const sse = p.step();
    t.true(Math.abs(sse / (2 * n) - lossDirect(X, y, p.W, p.v, n, d, m, a)) < 1e-14);
    const W = Float64Array.from(p.W), v = Float64Array.from(p.v);
    const fdW = new Float64Array(d * m), fdv = new Float64Array(m);
    const h = 1e-5;
    for (let q = 0; q < d * m; q++) {
      const Wp = W.slice(), Wm = W.slice();
      Wp[q]! += h; Wm[q]! -= h;
      fdW[q] = (lossDirect(X, y, Wp, v, n, d, m, a) - lossDirect(X, y, Wm, v, n, d, m, a)) / (2 * h);
    }
    for (let j = 0; j < m; j++) {
      const vp = v.slice(), vm = v.slice();
      vp[j]! += h; vm[j]! -= h;
      fdv[j] = (lossDirect(X, y, W, vp, n, d, m, a) - lossDirect(X, y, W, vm, n, d, m, a)) / (2 * h);
    }
    t.true(relDiff(p.gW, fdW) < 1e-6, `gW rel err ${relDiff(p.gW, fdW)}`);
    t.true(relDiff(p.gv, fdv) < 1e-6, `gv rel err ${relDiff(p.gv, fdv)}`);
  });
}

test('each activation derivative matches a finite difference pointwise', (t) => {
  for (const a of ACTIVATIONS) {
    for (const z of [-7.3, -2.1, -0.4, 0.013, 0.9, 3.3, 11.2]) {
      const h = 1e-6;
      const fd = (act(a, z + h) - act(a, z - h)) / (2 * h);
      t.true(Math.abs(fd - dact(a, z)) < 1e-8 * Math.max(1, Math.abs(fd)), `${a} at ${z}: ${fd} vs ${dact(a, z)}`);
    }
  }
});

test('minibatch step over rows equals the full step on the gathered data', (t) => {
  const n = 12, d = 3, m = 4, b = 5;
  const X = randn('mb-X', n * d), y = randn('mb-y', n);
  const p = new ReferenceProblem({ X, y, n, d, m, activation: 'tanh' });
  p.W.set(randn('mb-W', d * m)); p.v.set(randn('mb-v', m));
  const rows = [7, 2, 2, 11, 0];
  p.rows.set(rows);
  const sse = p.step(b);
  const Xb = new Float64Array(b * d), yb = new Float64Array(b);
  rows.forEach((i, r) => { Xb.set(X.subarray(i * d, i * d + d), r * d); yb[r] = y[i]!; });
  const q = new ReferenceProblem({ X: Xb, y: yb, n: b, d, m, activation: 'tanh' });
  q.W.set(p.W); q.v.set(p.v);
  t.is(q.step(), sse);
  t.deepEqual(Array.from(q.gW), Array.from(p.gW));
  t.deepEqual(Array.from(q.gv), Array.from(p.gv));
});

test('mirrored init is exactly mirrored, so F(W0, v0) = 0 exactly, not just to rounding', (t) => {
  const d = 5, m = 8, n = 30;
  const { W, v } = initParams({ seed: 3, d, m, init: 'mirrored', outputScale: 10 });
  // the pair of w'_k sits in columns 2k and 2k + 1, with v0 = (v'_k, -v'_k)
  for (let k = 0; k < d; k++) for (let j = 0; j < m; j += 2) t.is(W[k * m + j], W[k * m + j + 1]);
  for (let j = 0; j < m; j += 2) t.is(v[j], -v[j + 1]!);
  t.true(v.every((x) => x !== 0));
  const X = randn('mir-X', n * d);
  const p = new ReferenceProblem({ X, y: new Float64Array(n), n, d, m, activation: 'tanh' });
  p.W.set(W); p.v.set(v);
  p.forward();
  for (let i = 0; i < n; i++) t.is(p.F[i], 0, `F[${i}]`);
  // and LeCun scales: entries of W' have variance 1/d, v' variance alpha^2 / m (loose statistical check)
  const big = initParams({ seed: 1, d: 50, m: 400, init: 'mirrored', outputScale: 2 });
  const varW = big.W.reduce((s, x) => s + x * x, 0) / big.W.length;
  const varv = big.v.reduce((s, x) => s + x * x, 0) / big.v.length;
  t.true(Math.abs(varW * 50 - 1) < 0.05, `var W * d = ${varW * 50}`);
  t.true(Math.abs(varv * 400 / 4 - 1) < 0.2, `var v * m / alpha^2 = ${varv * 100}`);
});

test('mirrored init with an odd width is a clear error', (t) => {
  const e = t.throws(() => resolveConfig({ method: 'pgd', n: 10, d: 2, m: 7, seed: 0 }));
  t.regex(e!.message, /^m: m = 7 is odd, but init mirrored needs an even width/);
});

test('presets resolve to the factors of METHOD.md section 4, and explicit factors override them', (t) => {
  const base = { n: 20, d: 4, m: 6, seed: 0 };
  const f = (c: RunConfig) => { const r = resolveConfig(c); return [r.init, r.optimizer, r.constraint, r.trainOutput]; };
  t.deepEqual(f({ ...base, method: 'gd' }), ['lecun', 'gd', 'none', true]);
  t.deepEqual(f({ ...base, method: 'sgd' }), ['lecun', 'sgd', 'none', true]);
  t.deepEqual(f({ ...base, method: 'adam' }), ['lecun', 'adam', 'none', true]);
  t.deepEqual(f({ ...base, method: 'pgd' }), ['mirrored', 'gd', 'ball', false]);
  t.deepEqual(f({ ...base, method: 'pgd', batch: 5 }), ['mirrored', 'sgd', 'ball', false]);
  t.deepEqual(f({ ...base, method: 'mirror-gd' }), ['mirrored', 'gd', 'none', false]);
  t.deepEqual(f({ ...base, method: 'lecun-pgd' }), ['lecun', 'gd', 'ball', false]);
  t.deepEqual(f({ ...base, method: 'lm' }), ['mirrored', 'lm', 'none', false]);
  t.deepEqual(f({ ...base, method: 'pgd', optimizer: 'adam' }), ['mirrored', 'adam', 'ball', false]);
  t.deepEqual(f({ ...base, method: 'lm', init: 'lecun' }), ['lecun', 'lm', 'none', false]);
  t.is(resolveConfig({ ...base, method: 'sgd' }).batch, 20); // default 32, capped at n
});

test('bad config fields name the field', (t) => {
  const base = { method: 'gd' as const, n: 20, d: 4, m: 6, seed: 0 };
  t.regex(t.throws(() => resolveConfig({ ...base, lrr: 1 } as unknown as RunConfig))!.message, /^lrr: unknown field/);
  t.regex(t.throws(() => resolveConfig({ ...base, m: 0 }))!.message, /^m: expected a positive integer, got 0/);
  t.regex(t.throws(() => resolveConfig({ ...base, lr: -1 }))!.message, /^lr: expected a positive number/);
  t.regex(t.throws(() => resolveConfig({ ...base, method: 'sgd', batch: 50 }))!.message, /^batch: batch = 50 is larger than n = 20/);
  t.regex(t.throws(() => resolveConfig({ ...base, activation: 'elu' as Activation }))!.message, /^activation: expected one of tanh/);
  t.regex(t.throws(() => resolveConfig({ ...base, data: { source: 'gaussian', labels: 'fuzzy' } } as unknown as RunConfig))!.message, /^data\.labels: expected one of/);
});

test('symmetric eigenvalues recover a known spectrum (including zeros and negatives)', (t) => {
  const n = 25;
  // random orthogonal Q by modified Gram-Schmidt
  const Q = randn('eig-Q', n * n);
  for (let c = 0; c < n; c++) {
    for (let p = 0; p < c; p++) {
      let dot = 0;
      for (let r = 0; r < n; r++) dot += Q[r * n + c]! * Q[r * n + p]!;
      for (let r = 0; r < n; r++) Q[r * n + c]! -= dot * Q[r * n + p]!;
    }
    let s = 0;
    for (let r = 0; r < n; r++) s += Q[r * n + c]! ** 2;
    for (let r = 0; r < n; r++) Q[r * n + c]! /= Math.sqrt(s);
  }
  const lambda = Array.from({ length: n }, (_, i) => (i < 3 ? 0 : i < 5 ? -2 - i : Math.exp(i / 5)));
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) {
    let s = 0;
    for (let c = 0; c < n; c++) s += Q[i * n + c]! * lambda[c]! * Q[k * n + c]!;
    A[i * n + k] = s;
  }
  for (let i = 0; i < n; i++) for (let k = 0; k < i; k++) A[k * n + i] = A[i * n + k]!;
  const ev = symmetricEigenvalues(A, n);
  const want = lambda.slice().sort((a, b) => a - b);
  const scale = Math.max(...want.map(Math.abs));
  for (let i = 0; i < n; i++) t.true(Math.abs(ev[i]! - want[i]!) < 1e-12 * scale, `eig ${i}: ${ev[i]} vs ${want[i]}`);
});

test('symmetric eigenvalues of a rank-deficient Gram matrix with zero rows (saturated tanh) converge', (t) => {
  // Large weights saturate tanh: s'(z) = 0 to the last bit for about half of the samples, so J has
  // zero rows, and J J^T (400 x 400) has rank at most d m = 150. The QL iteration used to give up here.
  const n = 400, d = 50, m = 3;
  const X = randn('sat-X', n * d), W = randn('sat-W', d * m, 10), v = randn('sat-v', m);
  const G = gramTS(jacobianAt(X, n, d, m, W, v, 'tanh'), false, new Float64Array(n * n));
  let zeroRows = 0;
  for (let i = 0; i < n; i++) if (G[i * n + i] === 0) zeroRows++;
  t.true(zeroRows > 100, `${zeroRows} zero rows`);
  const ev = symmetricEigenvalues(G.slice(), n);
  const top = ev[n - 1]!;
  t.true(ev[0]! >= -1e-12 * top, `PSD: smallest ${ev[0]}`);
  t.true(ev.filter((x) => Math.abs(x) <= 1e-12 * top).length >= n - d * m);
  // two spectral invariants: sum of eigenvalues = trace, sum of squares = ||G||_F^2
  let trace = 0, fro = 0;
  for (let i = 0; i < n; i++) trace += G[i * n + i]!;
  for (const g of G) fro += g * g;
  t.true(Math.abs(ev.reduce((s2, x) => s2 + x, 0) - trace) <= 1e-12 * trace);
  t.true(Math.abs(ev.reduce((s2, x) => s2 + x * x, 0) - fro) <= 1e-12 * fro);
  t.true(sigmaMinFromGram(G, n)! <= 1e-6 * Math.sqrt(top));
});

test('cholesky solve inverts an SPD system', (t) => {
  const n = 12;
  const B = randn('chol-B', n * n);
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) {
    let s = i === k ? 0.5 : 0;
    for (let c = 0; c < n; c++) s += B[i * n + c]! * B[k * n + c]!;
    A[i * n + k] = s;
  }
  const x = randn('chol-x', n);
  const b = new Float64Array(n);
  for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) b[i]! += A[i * n + k]! * x[k]!;
  const L = A.slice();
  t.true(cholesky(L, n));
  t.true(relDiff(choleskySolve(L, n, b), x) < 1e-10);
  const notPd = new Float64Array([1, 2, 2, 1]);
  t.false(cholesky(notPd, 2));
});

/** The explicit n x md Jacobian of F = tanh(X W) v with respect to W: row i, column k m + j = v_j tanh'(x_i . w_j) x_ik. */
function explicitJacobianW(X: Float64Array, n: number, d: number, m: number, W: Float64Array, v: Float64Array): Float64Array {
  const J = new Float64Array(n * d * m);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) {
    let z = 0;
    for (let k = 0; k < d; k++) z += X[i * d + k]! * W[k * m + j]!;
    const s = 1 - Math.tanh(z) ** 2;
    for (let k = 0; k < d; k++) J[i * d * m + k * m + j] = v[j]! * s * X[i * d + k]!;
  }
  return J;
}

/** sigma_min of the explicit n x md Jacobian by one-sided Jacobi SVD: an oracle independent of the Gram route. */
function sigmaMinOneSidedJacobi(Jrows: Float64Array, n: number, p: number): number {
  // Orthogonalise the n rows (we want singular values of the n x p matrix with n <= p).
  const U = Jrows.slice();
  for (let sweep = 0; sweep < 60; sweep++) {
    let off = 0;
    for (let a = 0; a < n; a++) for (let b = a + 1; b < n; b++) {
      let alpha = 0, beta = 0, gamma = 0;
      for (let c = 0; c < p; c++) {
        const x = U[a * p + c]!, y = U[b * p + c]!;
        alpha += x * x; beta += y * y; gamma += x * y;
      }
      if (Math.abs(gamma) <= 1e-15 * Math.sqrt(alpha * beta)) continue;
      off = Math.max(off, Math.abs(gamma) / Math.sqrt(alpha * beta));
      const zeta = (beta - alpha) / (2 * gamma);
      const tt = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
      const cs = 1 / Math.sqrt(1 + tt * tt), sn = cs * tt;
      for (let c = 0; c < p; c++) {
        const x = U[a * p + c]!, y = U[b * p + c]!;
        U[a * p + c] = cs * x - sn * y;
        U[b * p + c] = sn * x + cs * y;
      }
    }
    if (off < 1e-14) break;
  }
  let best = Infinity;
  for (let a = 0; a < n; a++) {
    let s = 0;
    for (let c = 0; c < p; c++) s += U[a * p + c]! ** 2;
    best = Math.min(best, Math.sqrt(s));
  }
  return best;
}

test('sigma_min(J) at the mirrored point: ~0 when md/2 < n, clearly positive when md/2 >= n (checked against a Jacobi SVD of J)', (t) => {
  const n = 40, d = 4;
  const X = randn('smin-X', n * d);
  const results: Record<number, { gram: number; svd: number; top: number }> = {};
  for (const m of [10, 30]) {
    const { W, v } = initParams({ seed: 5, d, m, init: 'mirrored', outputScale: 1 });
    const J = jacobianAt(X, n, d, m, W, v, 'tanh');
    const G = gramTS(J, false, new Float64Array(n * n));
    const gram = sigmaMinFromGram(G, n)!;
    const top = Math.sqrt(symmetricEigenvalues(G.slice(), n)[n - 1]!);
    // explicit J: row i, block j = v_j s'(x_i . w_j) x_i, laid out as columns (k, j)
    const Jx = new Float64Array(n * d * m);
    for (let i = 0; i < n; i++) for (let k = 0; k < d; k++) for (let j = 0; j < m; j++) {
      Jx[i * d * m + k * m + j] = J.D[i * m + j]! * X[i * d + k]!;
    }
    results[m] = { gram, svd: sigmaMinOneSidedJacobi(Jx, n, d * m), top };
  }
  const low = results[10]!, high = results[30]!;
  t.true(low.gram < 1e-6 * low.top, `md/2 = 20 < n: sigma_min ${low.gram} vs sigma_max ${low.top}`);
  t.true(low.svd < 1e-6 * low.top);
  t.true(high.gram > 1e-4 * high.top, `md/2 = 60 >= n: sigma_min ${high.gram} vs sigma_max ${high.top}`);
  t.true(Math.abs(high.gram - high.svd) < 1e-6 * high.top, `gram ${high.gram} vs svd ${high.svd}`);
});

test('projection: lands in the ball, is idempotent, never increases distances (global and per-neuron)', (t) => {
  const d = 6, m = 5, r = 0.7;
  const W0 = randn('proj-W0', d * m);
  for (const mode of ['global', 'per-neuron'] as const) {
    for (let trial = 0; trial < 20; trial++) {
      const A = randn(`proj-A-${trial}`, d * m, 0.6), B = randn(`proj-B-${trial}`, d * m, 0.6);
      for (let q = 0; q < d * m; q++) { A[q]! += W0[q]!; B[q]! += W0[q]!; }
      const before = distance(A, B);
      const PA = A.slice(), PB = B.slice();
      project(PA, W0, d, m, r, mode); project(PB, W0, d, m, r, mode);
      if (mode === 'global') t.true(distance(PA, W0) <= r * (1 + 1e-15));
      else for (let j = 0; j < m; j++) {
        let s = 0;
        for (let k = 0; k < d; k++) s += (PA[k * m + j]! - W0[k * m + j]!) ** 2;
        t.true(Math.sqrt(s) <= (r / Math.sqrt(m)) * (1 + 1e-15));
      }
      const PPA = PA.slice();
      project(PPA, W0, d, m, r, mode);
      t.true(relDiff(PPA, PA) < 1e-15, 'idempotent');
      t.true(distance(PA, PB) <= before * (1 + 1e-12), 'non-expansive');
      // a point already inside is unchanged, bit for bit
      const inside = W0.map((w, q) => w + 1e-3 * (A[q]! - W0[q]!));
      const copy = inside.slice();
      t.false(project(copy, W0, d, m, r, mode));
      t.deepEqual(Array.from(copy), Array.from(inside));
    }
  }
});

test('every pgd iterate stays in the ball, the ball becomes active, and the end point is near-KKT', (t) => {
  const cfg = resolveConfig({ method: 'pgd', n: 60, d: 6, m: 20, seed: 2, radius: { relative: 0.05 }, iterations: 400, epsilon: 0 });
  const ds = syntheticDataset(cfg);
  const { W: W0 } = initParams(cfg);
  let worst = 0, count = 0;
  const out = train(cfg, ds, referenceEngine, {
    afterUpdate: (W) => { count++; worst = Math.max(worst, distance(W, W0)); },
  });
  const r = out.result.radiusUsed!;
  t.is(count, 400);
  t.true(worst <= r * (1 + 1e-12), `max ||W - W0|| = ${worst}, r = ${r}`);
  t.true(out.result.constraintActive === true);
  t.true(Math.abs(out.result.distW0! - r) < 1e-9 * r);
  t.true(out.result.kktResidual! < 0.05 * out.result.gradNorm!, `kkt ${out.result.kktResidual} vs grad ${out.result.gradNorm}`);
});

test('float32 pgd (global and per-neuron) keeps every stored iterate in the ball around the float32 W0', async (t) => {
  const { selectEngine } = await import('../src/engines/select.js');
  const engine = await selectEngine('wasm', 'float32', { quiet: true });
  const d = 6, m = 20;
  for (const projection of ['global', 'per-neuron'] as const) {
    const cfg = resolveConfig({ method: 'pgd', n: 60, d, m, seed: 2, radius: { relative: 0.01 }, projection, iterations: 300, epsilon: 0, dtype: 'float32', engine: 'wasm' });
    // the start as float32 holds it, and the radius relative to it
    const W0 = Float64Array.from(Float32Array.from(initParams(cfg).W));
    const r = 0.01 * norm(W0);
    let worst = 0;
    const out = train(cfg, syntheticDataset(cfg), engine, {
      afterUpdate: (W) => {
        if (projection === 'global') worst = Math.max(worst, distance(W, W0) / r);
        else for (let j = 0; j < m; j++) {
          let s2 = 0;
          for (let k = 0; k < d; k++) s2 += (W[k * m + j]! - W0[k * m + j]!) ** 2;
          worst = Math.max(worst, Math.sqrt(s2) / (r / Math.sqrt(m)));
        }
      },
    });
    t.true(Math.abs(out.result.radiusUsed! - r) <= 1e-15 * r, `${out.result.radiusUsed} vs ${r}`);
    t.true(out.result.constraintActive === true, projection);
    t.true(worst <= 1 + 1e-12, `${projection}: max distance / radius = ${worst}`);
    t.true(worst > 1 - 1e-5, `${projection}: the ball is reached (${worst})`);
  }
});

test('KKT residual: zero when the gradient points out of an active ball, ||g|| when inactive', (t) => {
  const d = 3, m = 2, r = 2;
  const W0 = new Float64Array(d * m);
  const dir = randn('kkt-dir', d * m);
  const nd = norm(dir);
  const W = dir.map((x) => (x / nd) * r);
  const g = W.map((x) => -0.7 * x); // descent direction -g points outward: lambda = 0.7
  const k = kkt(g, W, W0, d, m, r, 'global');
  t.true(k.active);
  t.true(Math.sqrt(k.residualSq) < 1e-14);
  const inside = W.map((x) => x / 2);
  const k2 = kkt(g, inside, W0, d, m, r, 'global');
  t.false(k2.active);
  t.true(Math.abs(Math.sqrt(k2.residualSq) - norm(g)) < 1e-14);
});

test('lm from the mirrored init with outputScale 10 fits rho = 3 (n = 200, d = 10) to rel < 1e-10', (t) => {
  const cfg = resolveConfig({ method: 'lm', n: 200, d: 10, m: 60, seed: 1, outputScale: 10, epsilon: 1e-12, iterations: 100 });
  const ds = syntheticDataset(cfg);
  const { result, model } = train(cfg, ds, referenceEngine);
  t.is(result.status, 'ok');
  t.true(result.relLoss! < 1e-10, `relLoss ${result.relLoss}`);
  // the certificates against a one-sided Jacobi SVD of the explicit Jacobian at W0 and at the end
  for (const [name, W, reported] of [['start', model.W0, result.sigmaMinJStart], ['end', model.W, result.sigmaMinJEnd]] as const) {
    const J = explicitJacobianW(ds.X, cfg.n, cfg.d, cfg.m, W, model.v);
    const svd = sigmaMinOneSidedJacobi(J, cfg.n, cfg.d * cfg.m);
    t.true(svd > 0);
    t.true(Math.abs(reported! - svd) < 1e-6 * svd, `sigmaMinJ${name} ${reported} vs ${svd} (Jacobi SVD)`);
  }
});

test('at rho = 0.5 (below the counting bound) every method trains, yet none gets below a clear floor', (t) => {
  const n = 200, d = 10, m = 10; // m (d + 1) = 110 < n
  for (const method of ['gd', 'sgd', 'adam', 'pgd', 'mirror-gd', 'lecun-pgd', 'lm'] as const) {
    const c: RunConfig = { method, n, d, m, seed: 1, outputScale: method === 'lm' ? 10 : 1, iterations: method === 'lm' ? 60 : 600, epsilon: 0 };
    const cfg = resolveConfig(c);
    const { result } = train(cfg, syntheticDataset(cfg), referenceEngine);
    const start = resolveConfig({ ...c, iterations: 0 });
    const atStart = train(start, syntheticDataset(start), referenceEngine).result.relLoss!;
    t.true(result.bestRelLoss! > 0.05, `${method}: best relLoss ${result.bestRelLoss}`);
    // ... and the floor is not a method that does not move: each lowers the loss by a tenth at least
    t.true(result.bestRelLoss! < 0.9 * atStart, `${method}: best relLoss ${result.bestRelLoss}, ${atStart} at the start`);
  }
});

test('divergence is a status, not an exception', (t) => {
  const cfg = resolveConfig({ method: 'gd', n: 30, d: 3, m: 4, seed: 0, lr: 1e6, iterations: 200 });
  const { result } = train(cfg, syntheticDataset(cfg), referenceEngine);
  t.is(result.status, 'diverged');
  t.false(result.success);
  t.is(result.relLoss, null);
  t.notThrows(() => JSON.stringify(result));
});

test('milestones, early stop at epsilon, and the iteration budget', (t) => {
  const cfg = resolveConfig({ method: 'adam', n: 40, d: 5, m: 20, seed: 4, epsilon: 1e-5, iterations: 5000 });
  const { result } = train(cfg, syntheticDataset(cfg), referenceEngine);
  t.true(result.success);
  t.true(result.relLoss! <= 1e-5);
  const [m2, m4, m6] = result.milestones;
  t.true(m2!.iteration! <= m4!.iteration! && m4!.iteration! <= result.iterations);
  t.is(m6!.iteration, null); // stopped at 1e-5, before 1e-6
  t.true(result.iterations < 5000);
  const capped = resolveConfig({ ...cfg, iterations: 7, epsilon: 0 });
  t.is(train(capped, syntheticDataset(capped), referenceEngine).result.iterations, 7);
  const sgd = resolveConfig({ method: 'sgd', n: 40, d: 5, m: 20, seed: 4, batch: 7, iterations: 13, epsilon: 0 });
  t.is(train(sgd, syntheticDataset(sgd), referenceEngine).result.iterations, 13);
});

test('the minibatch order depends on seed, data and batch only: a longer budget extends a shorter run', (t) => {
  const base: RunConfig = { method: 'sgd', n: 60, d: 5, m: 10, seed: 3, batch: 8, epsilon: 0, engine: 'ts' };
  const trace = (over: Partial<RunConfig>) => {
    const cfg = resolveConfig({ ...base, ...over });
    const Ws: number[][] = [];
    train(cfg, syntheticDataset(cfg), referenceEngine, { afterUpdate: (W) => { Ws.push(Array.from(W)); } });
    return Ws;
  };
  const short = trace({ iterations: 30 });
  const long = trace({ iterations: 60, seconds: 59, logEvery: 3 });
  const otherEps = trace({ iterations: 30, epsilon: 1e-9, certificateMaxN: 0 });
  t.is(short.length, 30);
  t.deepEqual(long.slice(0, 30), short);
  t.deepEqual(otherEps, short);
  // ... while the seed and the batch size do change it
  t.notDeepEqual(trace({ iterations: 30, seed: 4 }).at(-1), short.at(-1));
  t.notDeepEqual(trace({ iterations: 30, batch: 9 }).at(-1), short.at(-1));
});

test('a run re-run from its own resolved config is bit-identical (sgd, teacher labels with a default width, a test split)', async (t) => {
  const { executeRun } = await import('../src/run.js');
  const cfg: RunConfig = { method: 'sgd', n: 60, d: 5, m: 10, seed: 2, batch: 8, iterations: 80, epsilon: 0, engine: 'ts', data: { source: 'gaussian', labels: 'teacher', nTest: 10 } };
  const a = await executeRun(cfg);
  const b = await executeRun(a.result.resolved as unknown as RunConfig);
  const c = await executeRun({ ...cfg, data: { nTest: 10, teacherWidth: 5, labels: 'teacher', source: 'gaussian' } });
  t.is(b.result.relLoss, a.result.relLoss);
  t.is(c.result.relLoss, a.result.relLoss);
  t.deepEqual(Array.from(b.model.W), Array.from(a.model.W));
  t.deepEqual(Object.keys(a.resolved.data), ['source', 'labels', 'teacherWidth', 'nTest']);
});

test('overflow at the start (outputScale 1e200) is a diverged status with a message, not an exception', (t) => {
  const cases = [
    ...(['lm', 'pgd', 'gd'] as const).map((method) => ({ method, certificateMaxN: 1000 })),
    // without the certificate's Gram matrix (n > certificateMaxN) and with a numeric radius
    { method: 'pgd' as const, certificateMaxN: 10, radius: 1 },
    { method: 'mirror-gd' as const, certificateMaxN: 10 },
  ];
  for (const { method, ...over } of cases) {
    const cfg = resolveConfig({ method, n: 30, d: 3, m: 6, seed: 0, outputScale: 1e200, iterations: 20, ...over });
    let result;
    t.notThrows(() => { result = train(cfg, syntheticDataset(cfg), referenceEngine).result; }, method);
    t.is(result!.status, 'diverged', method);
    t.regex(result!.message ?? '', /not finite/, method);
    t.false(result!.success);
  }
});

test('lm that cannot lower the loss stops with a message saying so', (t) => {
  // rho = 3 with epsilon 0: lm fits to rounding level within a few dozen steps, then no step helps
  const cfg = resolveConfig({ method: 'lm', n: 100, d: 10, m: 30, seed: 1, outputScale: 10, iterations: 500, epsilon: 0 });
  const { result } = train(cfg, syntheticDataset(cfg), referenceEngine);
  t.is(result.status, 'ok');
  t.true(result.iterations < 500, `${result.iterations}`);
  t.true(result.relLoss! < 1e-20, `${result.relLoss}`);
  t.regex(result.message ?? '', /^lm: no damping lowers the loss at iteration \d+/);
});

test('engine and dtype must agree: tfjs is float32 (by default too), ts is float64', (t) => {
  t.is(resolveConfig({ method: 'gd', n: 10, d: 2, m: 4, seed: 0, engine: 'tfjs' }).dtype, 'float32');
  t.is(resolveConfig({ method: 'gd', n: 10, d: 2, m: 4, seed: 0 }).dtype, 'float64');
  t.throws(() => resolveConfig({ method: 'gd', n: 10, d: 2, m: 4, seed: 0, engine: 'tfjs', dtype: 'float64' }), { message: 'dtype: engine tfjs computes in float32 only; use dtype float32' });
  t.throws(() => resolveConfig({ method: 'gd', n: 10, d: 2, m: 4, seed: 0, engine: 'ts', dtype: 'float32' }), { message: 'dtype: engine ts (the TypeScript reference) computes in float64 only' });
});

test('same config and seed give a bit-identical result on the main thread and in a worker thread, on every engine', async (t) => {
  const { executeRun } = await import('../src/run.js');
  const workerFile = fileURLToPath(new URL('./fixtures/train-worker.js', import.meta.url));
  const strip = (r: RunResult) => ({ ...r, seconds: 0, milestones: r.milestones.map((m) => ({ ...m, seconds: null })) });
  const engines = ['ts', 'wasm', 'native'] as const;
  for (const engine of engines) {
    for (const cfg of [
      { method: 'sgd', n: 50, d: 5, m: 12, seed: 7, batch: 8, iterations: 150, epsilon: 0, momentum: 0.5, engine },
      { method: 'pgd', n: 40, d: 4, m: 10, seed: 3, iterations: 100, epsilon: 0, outputScale: 10, radius: { relative: 0.05 }, engine },
    ] as RunConfig[]) {
      let main;
      try { main = await executeRun(cfg); } catch (e) {
        if (engine === 'native' && process.env.NARROWSWEEP_ALLOW_NO_NATIVE === '1') { t.log(`native: ${(e as Error).message}`); continue; }
        throw e;
      }
      const fromWorker = await new Promise<{ result: RunResult; W: number[] }>((resolve, reject) => {
        const w = new Worker(workerFile, { workerData: cfg });
        w.once('message', resolve);
        w.once('error', reject);
      });
      t.is(fromWorker.result.engine, engine);
      t.deepEqual(strip(fromWorker.result), strip(main.result), `${engine} ${cfg.method}`);
      t.deepEqual(fromWorker.W, Array.from(main.model.W), `${engine} ${cfg.method}`);
    }
  }
});
