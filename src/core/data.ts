// Synthetic data (METHOD.md sections 1 and 3b) and per-feature standardisation. Pure: no I/O.
//
// Inputs have entries of order 1: `gaussian` rows are N(0, I_d), `sphere` rows are uniform on the
// sphere of radius sqrt(d). Labels: `gaussian` N(0, 1), `sign` random +-1 (both independent of X),
// or `teacher`: y = s(X W_t) v_t for a LeCun-initialised random net of width K (W_t entries
// N(0, 1/d), v_t entries N(0, 1/K), activation = the run's activation).
//
// Random streams. Data never depends on the method, m or optimizer settings, so every method of a
// sweep cell sees the same data. The keys are a contract (the tests recompute from them):
//   train inputs   data|seed=S|<source>|d=D|train|n=N|X
//   train labels   data|seed=S|<source>|d=D|train|n=N|y=<gaussian|sign>
//   test inputs    data|seed=S|<source>|d=D|test|nTest=T|X
//   test labels    data|seed=S|<source>|d=D|test|nTest=T|y=<gaussian|sign>
//   teacher        data|seed=S|teacher|d=D|width=K      (W_t row-major d x K, then v_t)
// So the training set does not change when a test split is added, the test set is the same for
// every n, and train and test share one teacher.
import { act } from './activations.js';
import { DataError } from './errors.js';
import { Rng } from './rng.js';
import type { Activation, DataSpec, Dataset, ResolvedConfig } from './types.js';

export type SyntheticSpec = Extract<DataSpec, { source: 'gaussian' | 'sphere' }>;
/** The only config fields synthetic data may depend on. */
export type DataConfig = Pick<ResolvedConfig, 'seed' | 'n' | 'd' | 'activation' | 'data'>;

/** The order of DataSpec fields in every resolved config (resolveData builds them in this order). */
const DATA_KEY_ORDER = ['source', 'labels', 'teacherWidth', 'classes', 'path', 'labelCol', 'header', 'nTest', 'standardize'];

/** `spec` with its fields in the canonical order, so that equal specs serialise alike. */
export function canonicalData<T extends DataSpec>(spec: T): T {
  const rank = (k: string) => { const i = DATA_KEY_ORDER.indexOf(k); return i < 0 ? DATA_KEY_ORDER.length : i; };
  const keys = Object.keys(spec).sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(keys.map((k) => [k, (spec as Record<string, unknown>)[k]])) as T;
}

export function isSynthetic(spec: DataSpec): spec is SyntheticSpec {
  return spec.source === 'gaussian' || spec.source === 'sphere';
}

/** Draws `rows` input rows (row-major rows x d) from `rng`. */
function drawInputs(rng: Rng, source: SyntheticSpec['source'], rows: number, d: number): Float64Array {
  const X = new Float64Array(rows * d);
  rng.fillNormal(X);
  if (source === 'sphere') {
    const R = Math.sqrt(d);
    for (let i = 0; i < rows; i++) {
      const row = X.subarray(i * d, (i + 1) * d);
      let ss = 0;
      for (let k = 0; k < d; k++) ss += row[k]! * row[k]!;
      // A zero row has probability 0; redraw it rather than divide by zero.
      while (ss === 0) {
        rng.fillNormal(row);
        for (let k = 0; k < d; k++) ss += row[k]! * row[k]!;
      }
      const f = R / Math.sqrt(ss);
      for (let k = 0; k < d; k++) row[k] = row[k]! * f;
    }
  }
  return X;
}

/** The random teacher of width K: W_t (d x K row-major) with entries N(0, 1/d), v_t with entries N(0, 1/K). */
export function teacherNet(seed: number, d: number, K: number): { W: Float64Array; v: Float64Array } {
  const rng = new Rng(`data|seed=${seed}|teacher|d=${d}|width=${K}`);
  const W = rng.fillNormal(new Float64Array(d * K), 1 / Math.sqrt(d));
  const v = rng.fillNormal(new Float64Array(K), 1 / Math.sqrt(K));
  return { W, v };
}

/** y = s(X W) v for rows x d inputs and a width-K net (METHOD.md section 1). */
export function netOutput(X: Float64Array, rows: number, d: number, W: Float64Array, v: Float64Array, K: number, a: Activation): Float64Array {
  const y = new Float64Array(rows);
  const z = new Float64Array(K);
  for (let i = 0; i < rows; i++) {
    z.fill(0);
    for (let k = 0; k < d; k++) {
      const x = X[i * d + k]!;
      for (let j = 0; j < K; j++) z[j] = z[j]! + x * W[k * K + j]!;
    }
    let s = 0;
    for (let j = 0; j < K; j++) s += act(a, z[j]!) * v[j]!;
    y[i] = s;
  }
  return y;
}

function drawSplit(cfg: DataConfig, spec: SyntheticSpec, split: string, rows: number): { X: Float64Array; y: Float64Array } {
  const { seed, d } = cfg;
  const base = `data|seed=${seed}|${spec.source}|d=${d}|${split}`;
  const X = drawInputs(new Rng(`${base}|X`), spec.source, rows, d);
  let y: Float64Array;
  if (spec.labels === 'teacher') {
    const K = spec.teacherWidth;
    if (K === undefined || !Number.isInteger(K) || K < 1) {
      throw new DataError(`data.teacherWidth: teacher labels need a positive integer width, got ${String(K)}`);
    }
    const t = teacherNet(seed, d, K);
    y = netOutput(X, rows, d, t.W, t.v, K, cfg.activation);
  } else {
    const rng = new Rng(`${base}|y=${spec.labels}`);
    y = new Float64Array(rows);
    if (spec.labels === 'gaussian') rng.fillNormal(y);
    else for (let i = 0; i < rows; i++) y[i] = rng.uniform() < 0.5 ? 1 : -1;
  }
  return { X, y };
}

/** A one-line description of a synthetic spec, for reports. */
export function describeSynthetic(spec: SyntheticSpec): string {
  const labels = spec.labels === 'teacher' ? `teacher labels (width ${spec.teacherWidth ?? '?'})` : `${spec.labels} labels`;
  return `${spec.source} inputs, ${labels}`;
}

/**
 * Synthetic training data (n rows) and, when data.nTest > 0, a test split drawn the same way from
 * its own stream (see the stream keys at the top of this file).
 */
export function syntheticDataset(cfg: DataConfig): Dataset {
  const spec = cfg.data;
  if (!isSynthetic(spec)) throw new DataError(`syntheticDataset: data.source ${spec.source} is not synthetic`);
  const { n, d, seed } = cfg;
  const nTest = spec.nTest ?? 0;
  const train = drawSplit(cfg, spec, `train|n=${n}`, n);
  const test = nTest > 0 ? drawSplit(cfg, spec, `test|nTest=${nTest}`, nTest) : null;
  return {
    n, d, X: train.X, y: train.y,
    nTest, Xtest: test?.X ?? null, ytest: test?.y ?? null,
    source: `${describeSynthetic(spec)}, seed ${seed}`,
  };
}

/**
 * Per-feature standardisation (METHOD.md 3b), in place: each column of the training rows gets
 * mean 0 and standard deviation 1 (population sd, dividing by n); the same shift and scale are
 * applied to the test rows. A constant training column is only centred (it becomes exactly 0),
 * never divided by its zero sd. Returns the mean and the sd used (0 for constant columns).
 */
export function standardize(X: Float64Array, n: number, d: number, Xtest: Float64Array | null = null): { mean: Float64Array; sd: Float64Array } {
  if (X.length !== n * d) throw new DataError(`standardize: X has ${X.length} entries, expected n * d = ${n} * ${d}`);
  if (Xtest !== null && Xtest.length % d !== 0) throw new DataError(`standardize: Xtest has ${Xtest.length} entries, not a multiple of d = ${d}`);
  const mean = new Float64Array(d), sd = new Float64Array(d);
  const nt = Xtest === null ? 0 : Xtest.length / d;
  for (let k = 0; k < d; k++) {
    const first = n > 0 ? X[k]! : 0;
    let constant = true, sum = 0, maxAbs = 0;
    for (let i = 0; i < n; i++) {
      const x = X[i * d + k]!;
      if (x !== first) constant = false;
      sum += x;
      const a = Math.abs(x);
      if (a > maxAbs) maxAbs = a;
    }
    let mu = n > 0 ? sum / n : 0;
    let ss = 0;
    for (let i = 0; i < n; i++) { const e = X[i * d + k]! - mu; ss += e * e; }
    let s = n > 0 ? Math.sqrt(ss / n) : 0;
    // A constant column is centred on its exact value (the computed mean may be off by an ulp), and
    // a column whose spread is at rounding level is treated as constant rather than blown up.
    if (constant) { mu = first; s = 0; } else if (s <= 1e-12 * maxAbs) s = 0;
    mean[k] = mu; sd[k] = s;
    const div = s > 0 ? s : 1;
    for (let i = 0; i < n; i++) X[i * d + k] = (X[i * d + k]! - mu) / div;
    for (let i = 0; i < nt; i++) Xtest![i * d + k] = (Xtest![i * d + k]! - mu) / div;
  }
  return { mean, sd };
}
