// Training one configuration (METHOD.md sections 3-5): the optimizers, the ball constraint, the
// lm probe, and the certificates a run reports. Pure: the engine and the data are handed in.
import { initParams } from './init.js';
import { linearize } from './jacobian.js';
import { tsLinalg } from './linalg.js';
import { BudgetStop, lambdaMax, smallestEigenvalue } from './lanczos.js';
import { Rng } from './rng.js';
import { canonicalData } from './data.js';
import { DEFAULTS } from './config.js';
import type {
  Dataset, DenseLinalg, Engine, FloatArray, Linearization, Milestone, Problem, ResolvedConfig, RunResult, RunStatus,
} from './types.js';

export const MILESTONES = [1e-2, 1e-4, 1e-6] as const;

/** Points of the loss trace (result.trace) between iteration 0 and the budget, evenly spaced in log(1 + it). */
export const TRACE_POINTS = 120;

/** relLoss to 4 significant digits: the trace is for pictures, and 120 points of 17 digits would bloat every record. */
function traceValue(x: number): number {
  return Number(x.toPrecision(4));
}

export interface TrainHooks {
  onProgress?: (iteration: number, relLoss: number) => void;
  /** Seconds between onProgress calls (default 1). */
  progressSeconds?: number;
  /** Checked every iteration; true stops the run with status `timeout`. */
  shouldStop?: () => boolean;
  /** Clock in seconds; injectable for tests. */
  now?: () => number;
  /** Called after every parameter update (and projection) with the iterate; for tests and tracing. */
  afterUpdate?: (W: FloatArray, v: FloatArray, iteration: number) => void;
}

export interface TrainOutput {
  result: RunResult;
  model: { W: Float64Array; v: Float64Array; W0: Float64Array; v0: Float64Array };
}

const defaultNow = () => performance.now() / 1000;

function sumSq(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * a[i]!;
  return s;
}

/** ||W - W0||_F */
export function distance(W: FloatArray, W0: Float64Array): number {
  let s = 0;
  for (let q = 0; q < W0.length; q++) { const t = W[q]! - W0[q]!; s += t * t; }
  return Math.sqrt(s);
}

/**
 * Projection onto the ball around W0 (METHOD.md section 3): `global` is the Frobenius ball of
 * radius r, P(Z) = W0 + (Z - W0) min(1, r / ||Z - W0||_F); `per-neuron` applies the same to each
 * column w_j with radius r / sqrt(m). Returns whether any constraint was active (clipped).
 */
export function project(W: FloatArray, W0: Float64Array, d: number, m: number, r: number, mode: 'global' | 'per-neuron'): boolean {
  if (mode === 'global') {
    const dist = distance(W, W0);
    if (dist <= r) return false;
    shrinkInto(W, W0, 0, 1, W0.length, dist, r);
    return true;
  }
  const rj = r / Math.sqrt(m);
  let clipped = false;
  for (let j = 0; j < m; j++) {
    const dist = columnDistance(W, W0, j, d, m);
    if (dist > rj) {
      clipped = true;
      shrinkInto(W, W0, j, m, d, dist, rj);
    }
  }
  return clipped;
}

function columnDistance(W: FloatArray, W0: Float64Array, j: number, d: number, m: number): number {
  let s = 0;
  for (let k = 0; k < d; k++) { const t = W[k * m + j]! - W0[k * m + j]!; s += t * t; }
  return Math.sqrt(s);
}

/**
 * W[q] = W0[q] + (W[q] - W0[q]) r / dist over q = start, start + stride, ... (count entries). In
 * float32 the stored result is rounded and may land a hair outside the ball, so the factor is
 * shrunk, by 2^-24 and then by doubling steps, until the stored point is inside: usually one ulp
 * or two; for a radius below float32 resolution it can end at W0 itself. The ball holds for float32
 * runs too.
 */
function shrinkInto(W: FloatArray, W0: Float64Array, start: number, stride: number, count: number, dist: number, r: number): void {
  if (W instanceof Float64Array) {
    const f = r / dist;
    for (let i = 0, q = start; i < count; i++, q += stride) W[q] = W0[q]! + (W[q]! - W0[q]!) * f;
    return;
  }
  const D = new Float64Array(count);
  for (let i = 0, q = start; i < count; i++, q += stride) D[i] = W[q]! - W0[q]!;
  for (let attempt = 0; ; attempt++) {
    const f = (r / dist) * (attempt === 0 ? 1 : 1 - 2 ** (attempt - 25));
    let s = 0;
    for (let i = 0; i < count; i++) {
      const q = start + i * stride;
      W[q] = W0[q]! + D[i]! * f;
      const t = W[q]! - W0[q]!;
      s += t * t;
    }
    if (Math.sqrt(s) <= r || attempt >= 25) return;
  }
}

/** A fixed start vector in R^n for the Lanczos runs of the certificate (any generic vector will do). */
function certificateStart(n: number): Float64Array {
  return new Rng(`lanczos-min|n=${n}`).fillNormal(new Float64Array(n));
}

/**
 * sigma_min(J_W) from the smallest eigenvalue of the n x n Gram matrix J J^T (METHOD.md section 5),
 * by Lanczos on its inverse (src/core/lanczos.ts). Null when G is not finite (overflow: no
 * certificate, never a lost run).
 */
export function sigmaMinFromGram(G: Float64Array, n: number, la: DenseLinalg = tsLinalg, shouldStop?: () => boolean): number | null {
  let lambda: number | null;
  try {
    lambda = smallestEigenvalue(G, n, la, certificateStart(n), { shouldStop });
  } catch (err) {
    if (err instanceof BudgetStop) throw err;
    return null; // no certificate rather than losing the run's result
  }
  return lambda === null || !Number.isFinite(lambda) ? null : Math.sqrt(Math.max(lambda, 0));
}

function allFinite(a: ArrayLike<number>): boolean {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) return false;
  return true;
}

function gramOf(J: Linearization, withV: boolean): Float64Array {
  const G = new Float64Array(J.n * J.n);
  J.gram(G, withV);
  return G;
}

/**
 * `radius: auto` (METHOD.md 3b): kappa * ||J0^T (J0 J0^T + lambda I)^-1 (y - F0)||,
 * lambda = 1e-6 trace(J0 J0^T) / n, with J0 the W block at the initial point and G its Gram matrix.
 */
export function autoRadius(G: Float64Array, J: Pick<Linearization, 'n' | 'd' | 'm' | 'vjp'>, residual: Float64Array, kappa: number, la: DenseLinalg = tsLinalg): number {
  const n = J.n;
  let tr = 0;
  for (let i = 0; i < n; i++) tr += G[i * n + i]!;
  const lambda = 1e-6 * tr / n;
  const M = G.slice();
  for (let i = 0; i < n; i++) M[i * n + i]! += lambda > 0 ? lambda : 1e-300;
  if (!la.cholesky(M, n)) throw new Error('radius auto: the regularised Gram matrix is not positive definite');
  const alpha = la.choleskySolve(M, n, residual.slice());
  const dW = new Float64Array(J.d * J.m);
  J.vjp(alpha, dW, null);
  return kappa * Math.sqrt(sumSq(dW));
}

interface LoopState {
  it: number;
  best: number;
  milestones: Milestone[];
  curve: Array<[number, number]>;
  /** The bounded loss trace, and the first iteration at which its next point is due. */
  trace: Array<[number, number]>;
  traceNext: number;
  lastProgress: number;
}

/** Trains `cfg` on `ds` with `engine`. Never throws for numerical trouble: NaN/Inf gives status `diverged`. */
export function train(cfg: ResolvedConfig, ds: Dataset, engine: Engine, hooks: TrainHooks = {}): TrainOutput {
  const now = hooks.now ?? defaultNow;
  const t0 = now();
  const { n, d, m, activation } = cfg;
  if (ds.n !== n || ds.d !== d) throw new Error(`dataset is ${ds.n} x ${ds.d}, config asks for ${n} x ${d}`);
  const { W: W0, v: v0 } = initParams(cfg);
  const prob = engine.createProblem({ X: ds.X, y: ds.y, n, d, m, activation });
  try {
    return trainOn(prob, cfg, ds, engine, W0, v0, hooks, now, t0);
  } finally {
    prob.dispose();
  }
}

function trainOn(
  prob: Problem, cfg: ResolvedConfig, ds: Dataset, engine: Engine, W0: Float64Array, v0: Float64Array,
  hooks: TrainHooks, now: () => number, t0: number,
): TrainOutput {
  const { n, d, m, activation, epsilon } = cfg;
  prob.W.set(W0);
  prob.v.set(v0);
  // The starting point is what the engine holds: in float32 that is W0 rounded, and the ball, the
  // distance and the saved W0 are all about that point.
  if (!(prob.W instanceof Float64Array)) { W0 = Float64Array.from(prob.W); v0 = Float64Array.from(prob.v); }
  const ySq = sumSq(ds.y);
  const rel = (sse: number) => (ySq > 0 ? sse / ySq : sse);

  // ---- start-of-run quantities: certificate, learning rate, radius ----
  const la = engine.linalg ?? tsLinalg;
  // The seconds budget also holds inside the start-up phases and a long lm iteration: each
  // Lanczos iteration and each lm damping trial checks it.
  const outOfTime = (): boolean => now() - t0 >= cfg.seconds || hooks.shouldStop?.() === true;
  const needGram = n <= cfg.certificateMaxN || (cfg.constraint === 'ball' && cfg.radius === 'auto') || cfg.optimizer === 'lm';
  let J0: Linearization | null = null;
  let G0: Float64Array | null = null;
  let sigmaMinJStart: number | null = null;
  let startBroken: string | null = null;
  let stoppedIn: string | null = null;
  let lambdaMaxK: number | null = null;
  let lr: number | null = null;
  let radius: number | null = null;
  try {
    J0 = linearize(prob, ds.X);
    G0 = needGram ? gramOf(J0, false) : null;
    if (G0 !== null && n <= cfg.certificateMaxN) sigmaMinJStart = sigmaMinFromGram(G0, n, la, outOfTime);
    // NaN/Inf already at the start (overflow from a huge outputScale, say): report, do not train.
    prob.forward();
    startBroken = !allFinite(prob.F) ? 'the network output at the initial point is not finite'
      : G0 !== null && !allFinite(G0) ? 'the Gram matrix J J^T at the initial point is not finite (overflow)' : null;

    if (cfg.optimizer !== 'lm' && startBroken === null) {
      if (cfg.lr === 'auto') {
        if (cfg.optimizer === 'adam') lr = DEFAULTS.adamAutoLr * cfg.lrScale;
        else {
          const start = new Rng(`lanczos|seed=${cfg.seed}|n=${n}`).fillNormal(new Float64Array(n));
          lambdaMaxK = lambdaMax(J0, cfg.trainOutput, start, { shouldStop: outOfTime }).value;
          const L = lambdaMaxK / n; // METHOD.md 3b: L = lambda_max(J0 J0^T) / n
          lr = L > 0 ? cfg.lrScale / L : cfg.lrScale;
          // overflow (huge outputScale) caught here too when n > certificateMaxN left G0 uncomputed
          if (!Number.isFinite(lambdaMaxK)) startBroken = 'lambda_max of the tangent kernel at the initial point is not finite (overflow)';
        }
      } else lr = cfg.lr * cfg.lrScale;
    }

    if (cfg.constraint === 'ball' && startBroken === null) {
      if (cfg.radius === 'auto') {
        // prob.F is F(W0, v0): forwarded once at the start above
        const resid = new Float64Array(n);
        for (let i = 0; i < n; i++) resid[i] = ds.y[i]! - prob.F[i]!;
        radius = autoRadius(G0!, J0, resid, cfg.kappa, la);
      } else if (typeof cfg.radius === 'number') radius = cfg.radius;
      else radius = cfg.radius.relative * Math.sqrt(sumSq(W0));
    }
  } catch (err) {
    if (!(err instanceof BudgetStop)) throw err;
    stoppedIn = err.phase;
  }
  if (cfg.optimizer !== 'lm') G0 = null; // free the n x n matrix before the loop

  const state: LoopState = {
    it: 0, best: Infinity, curve: [], trace: [], traceNext: 0,
    milestones: MILESTONES.map((threshold) => ({ threshold, iteration: null, seconds: null })),
    lastProgress: t0,
  };
  const progressEvery = hooks.progressSeconds ?? 1;
  let status: RunStatus = 'ok';
  let message: string | null = null;

  /**
   * Records the loss of the current iterate (null when it was not evaluated at this iteration,
   * e.g. between the per-epoch evaluations of sgd) and checks the budgets; true = stop.
   */
  const observe = (relLoss: number | null): boolean => {
    const t = now();
    if (relLoss === null) return budgetExhausted(t);
    if (!Number.isFinite(relLoss)) {
      status = 'diverged';
      message = `loss became ${relLoss} at iteration ${state.it}`;
      return true;
    }
    if (relLoss < state.best) state.best = relLoss;
    for (const ms of state.milestones) {
      if (ms.iteration === null && relLoss <= ms.threshold) { ms.iteration = state.it; ms.seconds = t - t0; }
    }
    if (cfg.logEvery > 0 && state.it % cfg.logEvery === 0) state.curve.push([state.it, relLoss]);
    if (state.it >= state.traceNext) {
      state.trace.push([state.it, traceValue(relLoss)]);
      state.traceNext = nextTracePoint(state.it, cfg.iterations);
    }
    if (hooks.onProgress && t - state.lastProgress >= progressEvery) {
      state.lastProgress = t;
      hooks.onProgress(state.it, relLoss);
    }
    if (relLoss <= epsilon) return true;
    return budgetExhausted(t);
  };
  const budgetExhausted = (t: number): boolean => {
    if (state.it >= cfg.iterations) return true;
    if (t - t0 >= cfg.seconds) { status = 'timeout'; message = `seconds budget (${cfg.seconds} s) reached at iteration ${state.it}`; return true; }
    if (hooks.shouldStop?.()) { status = 'timeout'; message = `stopped at iteration ${state.it}`; return true; }
    return false;
  };

  let constraintHit = false;
  if (stoppedIn !== null) {
    status = 'timeout';
    message = hooks.shouldStop?.() === true ? `stopped during ${stoppedIn}, before iteration 0`
      : `seconds budget (${cfg.seconds} s) reached during ${stoppedIn}, before iteration 0`;
  } else if (startBroken !== null) {
    status = 'diverged';
    message = startBroken;
  } else if (cfg.optimizer === 'lm') {
    const lm = runLm(prob, cfg, ds, W0, J0!, G0!, radius, la, outOfTime, observe, state, rel, hooks.afterUpdate);
    constraintHit = lm.constraintHit;
    if (lm.stoppedIn !== null && status === 'ok') {
      status = 'timeout';
      message = `seconds budget (${cfg.seconds} s) reached during ${lm.stoppedIn} at iteration ${state.it}`;
    }
    if (lm.stalled && status === 'ok') message = `lm: no damping lowers the loss at iteration ${state.it} (a numerically stationary point)`;
  } else {
    constraintHit = runFirstOrder(prob, cfg, W0, lr!, radius, observe, state, rel, hooks.afterUpdate);
  }

  // ---- end-of-run report: final loss and gradient at the final iterate ----
  const sse = prob.step();
  const relLoss = rel(sse);
  const finite = Number.isFinite(relLoss);
  if (!finite && status === 'ok') { status = 'diverged'; message = `final loss is ${relLoss}`; }
  if (finite && relLoss < state.best) state.best = relLoss;
  // The final iterate counts for the milestones too (a minibatch run can end between evaluations).
  if (finite) {
    for (const ms of state.milestones) {
      if (ms.iteration === null && relLoss <= ms.threshold) { ms.iteration = state.it; ms.seconds = now() - t0; }
    }
    const last = state.trace[state.trace.length - 1];
    if (last === undefined || last[0] !== state.it) state.trace.push([state.it, traceValue(relLoss)]);
  }
  const gW = Float64Array.from(prob.gW);
  const gvSq = cfg.trainOutput ? sumSq(prob.gv) : 0;
  const gradNorm = Math.sqrt(sumSq(gW) + gvSq);
  const W = Float64Array.from(prob.W), v = Float64Array.from(prob.v);
  const distW0 = distance(W, W0);

  let kktResidual: number | null = null;
  let constraintActive: boolean | null = null;
  if (finite) {
    if (cfg.constraint === 'ball' && radius !== null) {
      const k = kkt(gW, W, W0, d, m, radius, cfg.projection, cfg.dtype === 'float32' ? 1e-5 : 1e-9);
      constraintActive = k.active;
      kktResidual = Math.sqrt(k.residualSq + gvSq);
    } else kktResidual = gradNorm;
  }

  // The end certificate is part of a finished run's result, so only a hard stop (the pool's run
  // timeout, Ctrl-C) skips it; a run already out of its seconds budget has none.
  let sigmaMinJEnd: number | null = null;
  if (finite && n <= cfg.certificateMaxN && status !== 'timeout') {
    try {
      sigmaMinJEnd = sigmaMinFromGram(gramOf(linearize(prob, ds.X), false), n, la, () => hooks.shouldStop?.() === true);
    } catch (err) {
      if (!(err instanceof BudgetStop)) throw err;
    }
  }

  const test = finite ? testMetrics(engine, ds, W, v, d, m, activation) : null;
  const seconds = now() - t0;
  const success = finite && status !== 'diverged' && relLoss <= epsilon;
  const result: RunResult = {
    status, message, success, epsilon,
    relLoss: finite ? relLoss : null,
    bestRelLoss: Number.isFinite(state.best) ? state.best : null,
    loss: finite ? sse / (2 * n) : null,
    iterations: state.it,
    iterationBudget: cfg.iterations,
    secondsBudget: cfg.seconds,
    seconds,
    milestones: state.milestones,
    lrUsed: lr,
    lambdaMax: lambdaMaxK,
    radiusUsed: radius,
    sigmaMinJStart, sigmaMinJEnd,
    distW0: finite ? distW0 : null,
    constraintActive: cfg.constraint === 'ball' ? (constraintActive ?? constraintHit) : null,
    kktResidual: kktResidual !== null && Number.isFinite(kktResidual) ? kktResidual : null,
    gradNorm: Number.isFinite(gradNorm) ? gradNorm : null,
    testLoss: test?.loss ?? null,
    testRelLoss: test?.rel ?? null,
    testAccuracy: test?.accuracy ?? null,
    engine: engine.name,
    engineDetail: engine.detail,
    dtype: engine.dtype,
    resolved: cfg,
    curve: state.curve,
    trace: state.trace,
  };
  return { result, model: { W, v, W0, v0: Float64Array.from(v0) } };
}

/**
 * The iteration after `it` at which the loss trace takes its next point: TRACE_POINTS points evenly
 * spaced in log(1 + it) up to the budget (every iteration at first, sparser later).
 */
export function nextTracePoint(it: number, budget: number): number {
  const c = TRACE_POINTS / Math.log1p(Math.max(budget, 1));
  const slot = Math.floor(c * Math.log1p(it));
  return Math.max(it + 1, Math.ceil(Math.expm1((slot + 1) / c)));
}

/**
 * KKT residual (METHOD.md section 3): min over lambda >= 0 of ||g + lambda (W - W0)|| when the
 * ball is active, else ||g||. Per-neuron balls get one multiplier per column.
 */
export function kkt(
  g: Float64Array, W: Float64Array, W0: Float64Array, d: number, m: number, r: number, mode: 'global' | 'per-neuron', tol = 1e-9,
): { active: boolean; residualSq: number } {
  // tol: how close to the sphere counts as on it (float32 iterates sit a few ulps inside, see shrinkInto)
  const cols = mode === 'global' ? [Array.from({ length: m }, (_, j) => j)] : Array.from({ length: m }, (_, j) => [j]);
  const rad = mode === 'global' ? r : r / Math.sqrt(m);
  let active = false, residualSq = 0;
  for (const group of cols) {
    let dd = 0, gd = 0, gg = 0;
    for (const j of group) {
      for (let k = 0; k < d; k++) {
        const q = k * m + j;
        const delta = W[q]! - W0[q]!;
        dd += delta * delta; gd += g[q]! * delta; gg += g[q]! * g[q]!;
      }
    }
    const on = Math.sqrt(dd) >= rad * (1 - tol);
    if (on && dd > 0) {
      active = true;
      const lambda = Math.max(0, -gd / dd);
      // summed term by term: the expanded gg + 2 lambda gd + lambda^2 dd cancels catastrophically
      for (const j of group) {
        for (let k = 0; k < d; k++) {
          const q = k * m + j;
          const t = g[q]! + lambda * (W[q]! - W0[q]!);
          residualSq += t * t;
        }
      }
    } else residualSq += gg;
  }
  return { active, residualSq };
}

/** Test loss and accuracy (sign agreement) of the final W, v on the test split, on the run's engine. */
function testMetrics(engine: Engine, ds: Dataset, W: Float64Array, v: Float64Array, d: number, m: number, a: ResolvedConfig['activation']): { loss: number; rel: number; accuracy: number } | null {
  if (!ds.Xtest || !ds.ytest || ds.nTest === 0) return null;
  const p = engine.createProblem({ X: ds.Xtest, y: ds.ytest, n: ds.nTest, d, m, activation: a });
  try {
    p.W.set(W);
    p.v.set(v);
    const sse = p.forward();
    let ySq = 0, correct = 0;
    for (let i = 0; i < ds.nTest; i++) {
      const y = ds.ytest[i]!;
      ySq += y * y;
      if (Math.sign(p.F[i]!) === Math.sign(y)) correct++;
    }
    return { loss: sse / (2 * ds.nTest), rel: ySq > 0 ? sse / ySq : sse, accuracy: correct / ds.nTest };
  } finally {
    p.dispose();
  }
}

/** gd / sgd (with optional heavy-ball momentum) / adam, optionally projected onto the ball. */
function runFirstOrder(
  prob: Problem, cfg: ResolvedConfig, W0: Float64Array, lr: number, radius: number | null,
  observe: (rel: number | null) => boolean, state: LoopState, rel: (sse: number) => number,
  afterUpdate?: TrainHooks['afterUpdate'],
): boolean {
  const { n, d, m } = cfg;
  const W = prob.W, v = prob.v, gW = prob.gW, gv = prob.gv;
  const dm = d * m;
  const batch = cfg.batch === null || cfg.batch >= n ? null : cfg.batch;
  const rows = prob.rows;
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  // Keyed on what defines the sampling only, so a longer budget extends a shorter run, and every
  // engine, epsilon and method of a cell with the same batch draws the same minibatches.
  const rng = batch === null ? null : new Rng(`batch|seed=${cfg.seed}|n=${n}|d=${d}|batch=${batch}|data=${JSON.stringify(canonicalData(cfg.data))}`);
  let cursor = n; // forces a shuffle before the first minibatch
  const adam = cfg.optimizer === 'adam';
  const mom = cfg.momentum;
  const mW = adam || mom > 0 ? new Float64Array(dm) : null, mv = adam || mom > 0 ? new Float64Array(m) : null;
  const sW = adam ? new Float64Array(dm) : null, sv = adam ? new Float64Array(m) : null;
  const { beta1, beta2, adamEps } = cfg;
  let b1t = 1, b2t = 1;
  let constraintHit = false;
  // With minibatches the full-batch loss is evaluated once per epoch (and at iteration 0).
  const evalEvery = batch === null ? 1 : Math.max(1, Math.floor(n / batch));

  for (;;) {
    let sse: number;
    let b: number | undefined;
    if (batch === null) {
      sse = prob.step();
      if (observe(rel(sse))) return constraintHit;
    } else {
      if (observe(state.it % evalEvery === 0 ? rel(prob.forward()) : null)) return constraintHit;
      if (cursor >= n) { rng!.shuffle(order); cursor = 0; }
      b = Math.min(batch, n - cursor);
      rows.set(order.subarray(cursor, cursor + b));
      cursor += b;
      sse = prob.step(b);
      if (!Number.isFinite(sse) && observe(sse)) return constraintHit;
    }
    // ---- update ----
    if (adam) {
      b1t *= beta1; b2t *= beta2;
      const c1 = 1 / (1 - b1t), c2 = 1 / (1 - b2t);
      for (let q = 0; q < dm; q++) {
        const g = gW[q]!;
        const mq = (mW![q] = beta1 * mW![q]! + (1 - beta1) * g);
        const sq = (sW![q] = beta2 * sW![q]! + (1 - beta2) * g * g);
        W[q] = W[q]! - lr * (mq * c1) / (Math.sqrt(sq * c2) + adamEps);
      }
      if (cfg.trainOutput) {
        for (let j = 0; j < m; j++) {
          const g = gv[j]!;
          const mq = (mv![j] = beta1 * mv![j]! + (1 - beta1) * g);
          const sq = (sv![j] = beta2 * sv![j]! + (1 - beta2) * g * g);
          v[j] = v[j]! - lr * (mq * c1) / (Math.sqrt(sq * c2) + adamEps);
        }
      }
    } else if (mom > 0) {
      for (let q = 0; q < dm; q++) { const u = (mW![q] = mom * mW![q]! + gW[q]!); W[q] = W[q]! - lr * u; }
      if (cfg.trainOutput) for (let j = 0; j < m; j++) { const u = (mv![j] = mom * mv![j]! + gv[j]!); v[j] = v[j]! - lr * u; }
    } else {
      for (let q = 0; q < dm; q++) W[q] = W[q]! - lr * gW[q]!;
      if (cfg.trainOutput) for (let j = 0; j < m; j++) v[j] = v[j]! - lr * gv[j]!;
    }
    if (radius !== null && project(W, W0, d, m, radius, cfg.projection)) constraintHit = true;
    state.it++;
    afterUpdate?.(W, v, state.it);
  }
}

/**
 * Levenberg-Marquardt on W (METHOD.md section 4): dW = J^T (J J^T + mu I)^-1 (y - F). A step that
 * lowers the loss is taken and mu shrinks by lmFactor; otherwise mu grows by lmFactor and the step
 * is retried. mu starts at lmDamping * trace(J J^T) / n. The Gram matrix, the Cholesky
 * factorisations and solves and J^T alpha run on the engine's compiled paths when it has them.
 */
function runLm(
  prob: Problem, cfg: ResolvedConfig, ds: Dataset, W0: Float64Array, J0: Linearization, G0: Float64Array, radius: number | null,
  la: DenseLinalg, outOfTime: () => boolean,
  observe: (rel: number | null) => boolean, state: LoopState, rel: (sse: number) => number,
  afterUpdate?: TrainHooks['afterUpdate'],
): { constraintHit: boolean; stalled: boolean; stoppedIn: string | null } {
  const { n, d, m } = cfg;
  const W = prob.W;
  const Wold = new Float64Array(d * m);
  const r = new Float64Array(n);
  const dW = new Float64Array(d * m);
  const G = G0;
  let J = J0;
  let tr = 0;
  for (let i = 0; i < n; i++) tr += G[i * n + i]!;
  let mu = cfg.lmDamping * (tr > 0 ? tr / n : 1);
  let sse = prob.forward();
  let constraintHit = false;
  const M = new Float64Array(n * n);
  for (;;) {
    if (observe(rel(sse))) return { constraintHit, stalled: false, stoppedIn: null };
    for (let i = 0; i < n; i++) r[i] = ds.y[i]! - prob.F[i]!;
    if (state.it > 0) { J = linearize(prob, ds.X); J.gram(G, false); }
    Wold.set(W);
    let accepted = false;
    while (!accepted) {
      if (outOfTime()) {
        W.set(Wold);
        return { constraintHit, stalled: false, stoppedIn: 'an lm iteration' };
      }
      M.set(G);
      for (let i = 0; i < n; i++) M[i * n + i]! += mu;
      if (la.cholesky(M, n)) {
        const alpha = la.choleskySolve(M, n, r.slice());
        J.vjp(alpha, dW, null);
        for (let q = 0; q < d * m; q++) W[q] = Wold[q]! + dW[q]!;
        const hit = radius !== null && project(W, W0, d, m, radius, cfg.projection);
        const trial = prob.forward();
        if (trial < sse) {
          sse = trial;
          afterUpdate?.(W, prob.v, state.it + 1);
          if (hit) constraintHit = true;
          mu = Math.max(mu / cfg.lmFactor, 1e-300);
          accepted = true;
          break;
        }
      }
      mu *= cfg.lmFactor;
      if (!(mu < 1e300)) break;
    }
    if (!accepted) {
      // No damping lowers the loss: a (numerically) stationary point. Restore and stop.
      W.set(Wold);
      return { constraintHit, stalled: true, stoppedIn: null };
    }
    state.it++;
  }
}
