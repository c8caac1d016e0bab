// The optimizer layer of train() pinned against independent computations written here: the
// start-of-run quantities (`lr: auto`, `radius: auto`, METHOD.md 3b) from an explicit Jacobian, a
// Jacobi eigen-solve and a dense solve; and a few iterations of gd, sgd, momentum, adam and pgd from
// a plain re-implementation of each update. Nothing below calls the code under test to compute an
// expected value: only the data, the initial point and the minibatch rows are taken from the run.
import test from 'ava';
import { resolveConfig } from '../src/core/config.js';
import { syntheticDataset } from '../src/core/data.js';
import { referenceEngine } from '../src/core/reference.js';
import { train } from '../src/core/train.js';
import type { Dataset, Engine, Problem, ResolvedConfig, RunConfig } from '../src/core/types.js';
import { selectEngine } from '../src/engines/select.js';

// ---- small dense linear algebra, written for the tests ----

/** The explicit n x p Jacobian of F = tanh(X W) v at (W, v): the W block (d*m columns, entry (k, j) at k*m + j), then the v block when withV. */
function explicitJacobian(ds: Dataset, W: Float64Array, v: Float64Array, m: number, withV: boolean): { J: Float64Array; p: number } {
  const { n, d, X } = ds;
  const p = d * m + (withV ? m : 0);
  const J = new Float64Array(n * p);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      let z = 0;
      for (let k = 0; k < d; k++) z += X[i * d + k]! * W[k * m + j]!;
      const t = Math.tanh(z);
      for (let k = 0; k < d; k++) J[i * p + k * m + j] = v[j]! * (1 - t * t) * X[i * d + k]!;
      if (withV) J[i * p + d * m + j] = t;
    }
  }
  return { J, p };
}

/** K = J J^T (n x n). */
function gram(J: Float64Array, n: number, p: number): Float64Array {
  const K = new Float64Array(n * n);
  for (let a = 0; a < n; a++) {
    for (let b = 0; b <= a; b++) {
      let s = 0;
      for (let c = 0; c < p; c++) s += J[a * p + c]! * J[b * p + c]!;
      K[a * n + b] = s; K[b * n + a] = s;
    }
  }
  return K;
}

/** Eigenvalues of a symmetric matrix by cyclic Jacobi rotations (ascending). */
function jacobiEigenvalues(A0: Float64Array, n: number): number[] {
  const A = A0.slice();
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0, diag = 0;
    for (let a = 0; a < n; a++) {
      diag += A[a * n + a]! ** 2;
      for (let b = a + 1; b < n; b++) off += A[a * n + b]! ** 2;
    }
    if (off <= 1e-30 * diag) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = A[p * n + q]!;
        if (apq === 0) continue;
        const theta = (A[q * n + q]! - A[p * n + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < n; k++) { // A <- A G (columns p, q)
          const akp = A[k * n + p]!, akq = A[k * n + q]!;
          A[k * n + p] = c * akp - s * akq;
          A[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) { // A <- G^T A (rows p, q)
          const apk = A[p * n + k]!, aqk = A[q * n + k]!;
          A[p * n + k] = c * apk - s * aqk;
          A[q * n + k] = s * apk + c * aqk;
        }
      }
    }
  }
  return Array.from({ length: n }, (_, i) => A[i * n + i]!).sort((x, y) => x - y);
}

/** Solves M x = b by Gaussian elimination with partial pivoting. */
function solve(M0: Float64Array, b0: Float64Array, n: number): Float64Array {
  const M = M0.slice(), b = b0.slice();
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r * n + c]!) > Math.abs(M[piv * n + c]!)) piv = r;
    if (piv !== c) {
      for (let k = 0; k < n; k++) { const t = M[c * n + k]!; M[c * n + k] = M[piv * n + k]!; M[piv * n + k] = t; }
      const t = b[c]!; b[c] = b[piv]!; b[piv] = t;
    }
    for (let r = c + 1; r < n; r++) {
      const f = M[r * n + c]! / M[c * n + c]!;
      if (f === 0) continue;
      for (let k = c; k < n; k++) M[r * n + k]! -= f * M[c * n + k]!;
      b[r]! -= f * b[c]!;
    }
  }
  for (let r = n - 1; r >= 0; r--) {
    let s = b[r]!;
    for (let k = r + 1; k < n; k++) s -= M[r * n + k]! * b[k]!;
    b[r] = s / M[r * n + r]!;
  }
  return b;
}

function predict(ds: Dataset, W: Float64Array, v: Float64Array, m: number): Float64Array {
  const { n, d, X } = ds;
  const F = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let f = 0;
    for (let j = 0; j < m; j++) {
      let z = 0;
      for (let k = 0; k < d; k++) z += X[i * d + k]! * W[k * m + j]!;
      f += Math.tanh(z) * v[j]!;
    }
    F[i] = f;
  }
  return F;
}

const relErr = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

/** Every float64 engine this machine loads: ts always, wasm and native when they load. */
async function float64Engines(): Promise<Engine[]> {
  const list: Engine[] = [referenceEngine];
  for (const name of ['wasm', 'native'] as const) {
    try { list.push(await selectEngine(name, 'float64', { quiet: true })); } catch { /* covered by mirrored.test.ts */ }
  }
  return list;
}

// ---- lr: auto ----

test('lr: auto is lrScale / L with L = lambda_max(J0 J0^T) / n, from a Jacobi eigen-solve (v block iff v is trained)', async (t) => {
  const cases: RunConfig[] = [
    { method: 'gd', n: 24, d: 3, m: 8, seed: 1 }, // LeCun, W and v trained
    { method: 'gd', n: 24, d: 3, m: 8, seed: 2, lrScale: 0.7 },
    { method: 'mirror-gd', n: 24, d: 3, m: 8, seed: 1, outputScale: 3 }, // W only
    { method: 'sgd', n: 30, d: 4, m: 6, seed: 3, batch: 5, lrScale: 1.5 },
    { method: 'pgd', n: 20, d: 5, m: 10, seed: 4, radius: 1 },
  ];
  for (const engine of await float64Engines()) {
    for (const c of cases) {
      const cfg = resolveConfig({ ...c, iterations: 0 });
      const ds = syntheticDataset(cfg);
      const { result, model } = train(cfg, ds, engine);
      const { J, p } = explicitJacobian(ds, model.W0, model.v0, cfg.m, cfg.trainOutput);
      const ev = jacobiEigenvalues(gram(J, cfg.n, p), cfg.n);
      const lambda = ev[cfg.n - 1]!;
      const lr = cfg.lrScale / (lambda / cfg.n);
      const label = `${engine.name} ${JSON.stringify(c)}`;
      t.true(relErr(result.lambdaMax!, lambda) < 1e-5, `${label}: lambdaMax ${result.lambdaMax} vs ${lambda}`);
      t.true(relErr(result.lrUsed!, lr) < 1e-5, `${label}: lrUsed ${result.lrUsed} vs ${lr}`);
    }
  }
});

test('lr: a number is used as given, times lrScale; adam with lr: auto uses 1e-2 times lrScale', (t) => {
  const base = { n: 20, d: 3, m: 4, seed: 0, iterations: 0 };
  const r = (c: RunConfig) => { const cfg = resolveConfig(c); return train(cfg, syntheticDataset(cfg), referenceEngine).result; };
  const gd = r({ ...base, method: 'gd', lr: 0.25, lrScale: 0.5 });
  t.is(gd.lrUsed, 0.125);
  t.is(gd.lambdaMax, null);
  t.is(r({ ...base, method: 'adam', lrScale: 3 }).lrUsed, 0.03);
});

// ---- radius: auto ----

test('radius: auto is kappa ||J0^T (J0 J0^T + lambda I)^-1 (y - F0)||, lambda = 1e-6 tr(J0 J0^T) / n, from a dense solve', async (t) => {
  const cases: RunConfig[] = [
    { method: 'pgd', n: 16, d: 4, m: 12, seed: 1 }, // md/2 = 24 >= n: full row rank, lambda small
    { method: 'pgd', n: 30, d: 3, m: 8, seed: 2, outputScale: 10 }, // md/2 = 12 < n: rank deficient, the regularisation matters
    { method: 'pgd', n: 16, d: 4, m: 12, seed: 3, kappa: 3 },
    { method: 'lecun-pgd', n: 20, d: 4, m: 9, seed: 4, kappa: 0.5 }, // F0 != 0: the residual y - F0
  ];
  for (const engine of await float64Engines()) {
    for (const c of cases) {
      const cfg = resolveConfig({ ...c, iterations: 0 });
      const ds = syntheticDataset(cfg);
      const { result, model } = train(cfg, ds, engine);
      const n = cfg.n;
      const { J, p } = explicitJacobian(ds, model.W0, model.v0, cfg.m, false);
      const K = gram(J, n, p);
      let tr = 0;
      for (let i = 0; i < n; i++) tr += K[i * n + i]!;
      const lambda = 1e-6 * tr / n;
      for (let i = 0; i < n; i++) K[i * n + i]! += lambda;
      const F0 = predict(ds, model.W0, model.v0, cfg.m);
      const r = Float64Array.from(ds.y, (y, i) => y - F0[i]!);
      const a = solve(K, r, n);
      let ss = 0;
      for (let c2 = 0; c2 < p; c2++) {
        let s = 0;
        for (let i = 0; i < n; i++) s += J[i * p + c2]! * a[i]!;
        ss += s * s;
      }
      const radius = cfg.kappa * Math.sqrt(ss);
      const label = `${engine.name} ${JSON.stringify(c)}`;
      t.true(relErr(result.radiusUsed!, radius) < 1e-7, `${label}: radiusUsed ${result.radiusUsed} vs ${radius}`);
    }
  }
});

test('radius: { relative: c } is c ||W0||_F and a number is used as given', (t) => {
  const base = { method: 'pgd' as const, n: 20, d: 3, m: 6, seed: 5, iterations: 0 };
  const rel = resolveConfig({ ...base, radius: { relative: 0.3 } });
  const out = train(rel, syntheticDataset(rel), referenceEngine);
  const w0 = Math.sqrt(out.model.W0.reduce((s, x) => s + x * x, 0));
  t.true(relErr(out.result.radiusUsed!, 0.3 * w0) < 1e-15);
  const num = resolveConfig({ ...base, radius: 0.42 });
  t.is(train(num, syntheticDataset(num), referenceEngine).result.radiusUsed, 0.42);
});

// ---- the optimizers, step by step ----

/** An engine that records the rows of every minibatch step (the ts reference underneath). */
function recordingEngine(batches: number[][]): Engine {
  return {
    ...referenceEngine,
    createProblem(spec) {
      const p = referenceEngine.createProblem(spec);
      return new Proxy(p, {
        get(target, key) {
          if (key === 'step') {
            return (b?: number) => {
              if (b !== undefined) batches.push(Array.from(target.rows.subarray(0, b)));
              return target.step(b);
            };
          }
          const value = Reflect.get(target, key) as unknown;
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      }) as Problem;
    },
  };
}

/** A plain re-implementation of gd / sgd (heavy-ball momentum) / adam, optionally projected onto the global ball. */
function replay(cfg: ResolvedConfig, ds: Dataset, W0: Float64Array, v0: Float64Array, lr: number, iterations: number,
  batches: number[][] | null, radius: number | null): Array<{ W: Float64Array; v: Float64Array }> {
  const { d, m } = cfg;
  const W = W0.slice(), v = v0.slice();
  const mW = new Float64Array(d * m), mv = new Float64Array(m), sW = new Float64Array(d * m), sv = new Float64Array(m);
  const out: Array<{ W: Float64Array; v: Float64Array }> = [];
  for (let it = 1; it <= iterations; it++) {
    const rows = batches ? batches[it - 1]! : Array.from({ length: ds.n }, (_, i) => i);
    const b = rows.length;
    const gW = new Float64Array(d * m), gv = new Float64Array(m);
    for (const i of rows) {
      const z = new Float64Array(m);
      for (let j = 0; j < m; j++) for (let k = 0; k < d; k++) z[j]! += ds.X[i * d + k]! * W[k * m + j]!;
      let f = 0;
      for (let j = 0; j < m; j++) f += Math.tanh(z[j]!) * v[j]!;
      const r = f - ds.y[i]!;
      for (let j = 0; j < m; j++) {
        const th = Math.tanh(z[j]!);
        gv[j]! += th * r / b;
        for (let k = 0; k < d; k++) gW[k * m + j]! += r * v[j]! * (1 - th * th) * ds.X[i * d + k]! / b;
      }
    }
    const update = (x: Float64Array, g: Float64Array, mom: Float64Array, sec: Float64Array) => {
      for (let q = 0; q < x.length; q++) {
        if (cfg.optimizer === 'adam') {
          mom[q] = cfg.beta1 * mom[q]! + (1 - cfg.beta1) * g[q]!;
          sec[q] = cfg.beta2 * sec[q]! + (1 - cfg.beta2) * g[q]! ** 2;
          const mhat = mom[q]! / (1 - cfg.beta1 ** it), shat = sec[q]! / (1 - cfg.beta2 ** it);
          x[q]! -= lr * mhat / (Math.sqrt(shat) + cfg.adamEps);
        } else if (cfg.momentum > 0) {
          mom[q] = cfg.momentum * mom[q]! + g[q]!;
          x[q]! -= lr * mom[q]!;
        } else x[q]! -= lr * g[q]!;
      }
    };
    update(W, gW, mW, sW);
    if (cfg.trainOutput) update(v, gv, mv, sv);
    if (radius !== null) {
      let dist = 0;
      for (let q = 0; q < W.length; q++) dist += (W[q]! - W0[q]!) ** 2;
      dist = Math.sqrt(dist);
      if (dist > radius) for (let q = 0; q < W.length; q++) W[q] = W0[q]! + (W[q]! - W0[q]!) * (radius / dist);
    }
    out.push({ W: W.slice(), v: v.slice() });
  }
  return out;
}

function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0, scale = 0;
  for (let i = 0; i < b.length; i++) { diff = Math.max(diff, Math.abs(a[i]! - b[i]!)); scale = Math.max(scale, Math.abs(b[i]!)); }
  return diff / scale;
}

const PINNED: Array<{ name: string; cfg: RunConfig }> = [
  { name: 'gd', cfg: { method: 'gd', n: 12, d: 3, m: 4, seed: 1, lr: 0.4 } },
  { name: 'sgd', cfg: { method: 'sgd', n: 12, d: 3, m: 4, seed: 2, lr: 0.3, batch: 5 } },
  { name: 'sgd + momentum', cfg: { method: 'sgd', n: 12, d: 3, m: 4, seed: 3, lr: 0.2, batch: 4, momentum: 0.8 } },
  { name: 'gd + momentum', cfg: { method: 'gd', n: 12, d: 3, m: 4, seed: 4, lr: 0.2, momentum: 0.5 } },
  { name: 'adam', cfg: { method: 'adam', n: 12, d: 3, m: 4, seed: 5, lr: 0.05 } },
  { name: 'adam (beta1, beta2, adamEps set)', cfg: { method: 'adam', n: 12, d: 3, m: 4, seed: 6, lr: 0.02, beta1: 0.5, beta2: 0.9, adamEps: 1e-3, batch: 6 } },
  { name: 'pgd (W only, ball active)', cfg: { method: 'pgd', n: 12, d: 3, m: 4, seed: 7, lr: 2, radius: 0.05, outputScale: 5 } },
];

for (const { name, cfg: c } of PINNED) {
  test(`${name}: every iterate equals a plain re-implementation of the update (1e-12)`, (t) => {
    const iterations = 12;
    const cfg = resolveConfig({ ...c, iterations, epsilon: 0 });
    const ds = syntheticDataset(cfg);
    const batches: number[][] = [];
    const seen: Array<{ W: Float64Array; v: Float64Array }> = [];
    const { result, model } = train(cfg, ds, recordingEngine(batches), {
      afterUpdate: (W, v) => { seen.push({ W: Float64Array.from(W), v: Float64Array.from(v) }); },
    });
    t.is(seen.length, iterations);
    const minibatch = cfg.batch !== null && cfg.batch < cfg.n;
    if (minibatch) t.is(batches.length, iterations);
    const expected = replay(cfg, ds, model.W0, model.v0, result.lrUsed!, iterations, minibatch ? batches : null,
      cfg.constraint === 'ball' ? result.radiusUsed : null);
    t.is(result.lrUsed, (c.lr as number) * cfg.lrScale);
    for (let it = 0; it < iterations; it++) {
      const eW = maxRelDiff(seen[it]!.W, expected[it]!.W), ev = maxRelDiff(seen[it]!.v, expected[it]!.v);
      t.true(eW < 1e-12 && ev < 1e-12, `iteration ${it + 1}: W differs by ${eW}, v by ${ev} (relative)`);
    }
    // the iterates moved (a test of a method that does not move would pass trivially)
    t.true(maxRelDiff(expected[iterations - 1]!.W, model.W0) > 1e-3);
    if (cfg.trainOutput) t.true(maxRelDiff(expected[iterations - 1]!.v, model.v0) > 1e-3);
    else t.deepEqual(Array.from(model.v), Array.from(model.v0));
    if (cfg.constraint === 'ball') t.true(result.constraintActive === true);
    // and the reported loss is the loss of the last iterate
    const F = predict(ds, expected[iterations - 1]!.W, expected[iterations - 1]!.v, cfg.m);
    let sse = 0, yy = 0;
    for (let i = 0; i < ds.n; i++) { sse += (F[i]! - ds.y[i]!) ** 2; yy += ds.y[i]! ** 2; }
    t.true(relErr(result.relLoss!, sse / yy) < 1e-11, `relLoss ${result.relLoss} vs ${sse / yy}`);
  });
}

// ---- minibatch sampling ----

test('sgd: every epoch visits each row exactly once (a permutation), and the epochs are different permutations', (t) => {
  for (const [n, batch] of [[20, 6], [24, 4], [9, 8], [9, 1]] as const) {
    const iterations = 5 * Math.ceil(n / batch);
    const cfg = resolveConfig({ method: 'sgd', n, d: 3, m: 4, seed: 9, batch, iterations, epsilon: 0 });
    const batches: number[][] = [];
    train(cfg, syntheticDataset(cfg), recordingEngine(batches));
    t.is(batches.length, iterations);
    const epochs: number[][] = [];
    let cur: number[] = [];
    for (const b of batches) {
      t.true(b.length >= 1 && b.length <= batch, `batch of ${b.length} rows`);
      cur.push(...b);
      t.true(cur.length <= n, 'a minibatch straddles two epochs');
      if (cur.length === n) { epochs.push(cur); cur = []; }
    }
    t.is(epochs.length, 5, `n ${n}, batch ${batch}: ${epochs.length} complete epochs`);
    const identity = Array.from({ length: n }, (_, i) => i);
    for (const [k, e] of epochs.entries()) t.deepEqual([...e].sort((a, b) => a - b), identity, `epoch ${k} is not a permutation`);
    const distinct = new Set(epochs.map((e) => e.join(',')));
    t.is(distinct.size, epochs.length, `n ${n}, batch ${batch}: only ${distinct.size} different orders in ${epochs.length} epochs`);
  }
});
