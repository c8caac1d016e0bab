// Shared types of the training core. METHOD.md is the contract; section numbers below refer to it.

export type FloatArray = Float64Array | Float32Array;
export type Dtype = 'float64' | 'float32';

/** Smooth activations of METHOD.md section 1; `relu` is offered only as a contrast outside the theory. */
export const ACTIVATIONS = ['tanh', 'sigmoid', 'softplus', 'swish', 'gelu', 'sin', 'relu'] as const;
export type Activation = (typeof ACTIVATIONS)[number];
/** Numeric code of each activation, shared by every compiled kernel (wasm, native). */
export const ACTIVATION_CODE: Record<Activation, number> = {
  tanh: 0, sigmoid: 1, softplus: 2, swish: 3, gelu: 4, sin: 5, relu: 6,
};

/**
 * Training data as the core sees it: row-major `X` (n x d) and labels `y` (n).
 * The optional test split has the same layout.
 */
export interface Dataset {
  n: number;
  d: number;
  X: Float64Array;
  y: Float64Array;
  nTest: number;
  Xtest: Float64Array | null;
  ytest: Float64Array | null;
  /** Human-readable description of where the data came from (for reports). */
  source: string;
}

/**
 * One problem bound to an engine: the data, the width and the activation are fixed; the
 * parameters live in buffers the engine owns (for wasm they are views into its memory).
 *
 * Layouts: `W` is d x m row-major (`W[k*m + j]` is entry (k, j), column j is neuron w_j),
 * `v` has m entries, `rows` holds minibatch row indices.
 *
 * The fused step (METHOD.md section 1) over a batch B of b rows:
 *   Z = X_B W,  A = s(Z),  F = A v,  r = F - y_B
 *   gW = X_B^T ((r v^T) .* s'(Z)) / b        (= J^T r / b)
 *   gv = A^T r / b
 * and returns sum_i r_i^2 over the batch (so the batch loss is that / (2b)).
 */
export interface Problem {
  readonly engine: EngineName;
  readonly dtype: Dtype;
  readonly n: number;
  readonly d: number;
  readonly m: number;
  readonly activation: Activation;
  readonly W: FloatArray;
  readonly v: FloatArray;
  readonly gW: FloatArray;
  readonly gv: FloatArray;
  /** Minibatch row indices (length n); the caller fills the first b entries before `step(b)`. */
  readonly rows: Int32Array;
  /**
   * Fused forward + both gradients. With `b` undefined (or equal to n and `useRows` false) the
   * batch is all rows in order; otherwise it is rows[0..b). Writes gW and gv, returns the sum of
   * squared residuals over the batch.
   */
  step(b?: number): number;
  /** Forward only over all rows: writes predictions into `F` (length n), returns sum of squared residuals. */
  forward(): number;
  readonly F: FloatArray;
  /**
   * Optional fast path for the tangent-kernel Gram matrix at the current W, v (METHOD.md 2, 3b):
   * G = (X X^T) .* (D D^T) with D_ij = v_j s'(z_ij), plus A A^T (A = s(XW)) when `withV`.
   * Writes the full symmetric n x n matrix row-major into `G`. The core falls back to its own
   * TypeScript version when an engine does not provide it.
   */
  gram?(G: Float64Array, withV: boolean): void;
  /**
   * Optional compiled Jacobian at the current W, v (in float64 whatever the dtype). The core uses
   * its TypeScript one (src/core/jacobian.ts) when an engine does not provide it. The result stays
   * valid until the next call of linearize() on this problem.
   */
  linearize?(): Linearization;
  /** Releases engine memory (wasm/native/tfjs); the problem must not be used afterwards. */
  dispose(): void;
}

/**
 * The Jacobian J of F(W, v) = s(XW) v at a fixed point (METHOD.md section 2), as operators: the
 * n x (dm) block J_W (row i, block j: v_j s'(x_i . w_j) x_i) and the n x m block J_v = s(XW).
 * W-shaped arguments are d x m row-major like Problem.W.
 */
export interface Linearization {
  readonly n: number;
  readonly d: number;
  readonly m: number;
  /** out = J_W dW + J_v dv (dv null: the W block only). */
  jvp(dW: Float64Array, dv: Float64Array | null, out: Float64Array): void;
  /** gW = J_W^T z and gv = J_v^T z (gv null: the W block only). */
  vjp(z: Float64Array, gW: Float64Array, gv: Float64Array | null): void;
  /** G = J_W J_W^T, plus J_v J_v^T when `withV`: n x n, full, exactly symmetric, row-major. */
  gram(G: Float64Array, withV: boolean): void;
}

/**
 * Dense symmetric linear algebra on row-major n x n Float64Arrays (METHOD.md sections 3b, 4, 5):
 * the Cholesky factorisation and solve of lm and `radius: auto`, and eigenvalues. The TypeScript
 * version is src/core/linalg.ts (tsLinalg); the native engine brings LAPACK's when it has it.
 */
export interface DenseLinalg {
  /** Where it comes from, e.g. "OpenBLAS 0.3.21" or "TypeScript". */
  readonly name: string;
  /** In place: the lower triangle of A becomes L with A = L L^T. False when A is not positive definite. */
  cholesky(A: Float64Array, n: number): boolean;
  /** b = (L L^T)^-1 b in place, with L from `cholesky`; returns b. */
  choleskySolve(L: Float64Array, n: number, b: Float64Array): Float64Array;
  /** All eigenvalues of the symmetric A, ascending; A is overwritten. */
  symmetricEigenvalues(A: Float64Array, n: number): Float64Array;
}

export type EngineName = 'ts' | 'wasm' | 'native' | 'tfjs';

export interface ProblemSpec {
  X: Float64Array;
  y: Float64Array;
  n: number;
  d: number;
  m: number;
  activation: Activation;
}

/** A compute engine: creates problems. Selected outside the core and handed to it. */
export interface Engine {
  readonly name: EngineName;
  readonly dtype: Dtype;
  /** Free-form description (e.g. "native avx512", "tfjs-backend-wasm"), recorded in results. */
  readonly detail: string;
  createProblem(spec: ProblemSpec): Problem;
  /** Compiled dense linear algebra (LAPACK); the core uses tsLinalg without it. */
  readonly linalg?: DenseLinalg;
}

// ---- configuration (METHOD.md section 4) ----

export const PRESETS = ['gd', 'sgd', 'adam', 'pgd', 'mirror-gd', 'lecun-pgd', 'lm'] as const;
export type Preset = (typeof PRESETS)[number];
export type Init = 'lecun' | 'mirrored';
export type Optimizer = 'gd' | 'sgd' | 'adam' | 'lm';
export type Constraint = 'none' | 'ball';
export type Projection = 'global' | 'per-neuron';
/** `auto` (METHOD.md 3b), a number, or a multiple of ||W0||_F. */
export type Radius = number | 'auto' | { relative: number };

export type DataSpec =
  | {
      source: 'gaussian' | 'sphere';
      labels: 'gaussian' | 'sign' | 'teacher';
      /** Width of the random teacher network (labels: teacher); default m. */
      teacherWidth?: number;
      nTest?: number;
    }
  | {
      source: 'mnist';
      /** `digits`: classes[0] -> +1, classes[1] -> -1; `parity`: even -> +1, odd -> -1; `random`: random +-1. */
      labels: 'digits' | 'parity' | 'random';
      classes?: [number, number];
      nTest?: number;
      standardize?: boolean;
    }
  | {
      source: 'csv';
      path: string;
      /** 0-based column index of the label. */
      labelCol: number;
      header?: 'auto' | boolean;
      nTest?: number;
      standardize?: boolean;
    };

/** Everything a run needs, with presets not yet resolved. All fields are JSON values. */
export interface RunConfig {
  method: Preset;
  n: number;
  d: number;
  m: number;
  seed: number;
  activation?: Activation;
  data?: DataSpec;
  // the four factors (override the preset)
  init?: Init;
  optimizer?: Optimizer;
  constraint?: Constraint;
  trainOutput?: boolean;
  // settings
  projection?: Projection;
  radius?: Radius;
  kappa?: number;
  lr?: number | 'auto';
  lrScale?: number;
  batch?: number | null;
  momentum?: number;
  beta1?: number;
  beta2?: number;
  adamEps?: number;
  lmDamping?: number;
  lmFactor?: number;
  outputScale?: number;
  // budget and success
  iterations?: number;
  seconds?: number;
  epsilon?: number;
  /** Record the loss every this many iterations (0 = never) for the loss curve. */
  logEvery?: number;
  /** Largest n for which the n x n Gram certificate (sigma_min) is computed. */
  certificateMaxN?: number;
  dtype?: Dtype;
  engine?: 'auto' | EngineName;
}

/** A RunConfig with every default filled in and the preset resolved into its factors. */
export interface ResolvedConfig {
  method: Preset;
  n: number;
  d: number;
  m: number;
  seed: number;
  activation: Activation;
  data: DataSpec;
  init: Init;
  optimizer: Optimizer;
  constraint: Constraint;
  trainOutput: boolean;
  projection: Projection;
  radius: Radius;
  kappa: number;
  lr: number | 'auto';
  lrScale: number;
  batch: number | null;
  momentum: number;
  beta1: number;
  beta2: number;
  adamEps: number;
  lmDamping: number;
  lmFactor: number;
  outputScale: number;
  iterations: number;
  seconds: number;
  epsilon: number;
  logEvery: number;
  certificateMaxN: number;
  dtype: Dtype;
  engine: 'auto' | EngineName;
}

export type RunStatus = 'ok' | 'diverged' | 'timeout' | 'error' | 'oom';

/** Iterations and seconds at which relLoss first reached a threshold (null if never). */
export interface Milestone {
  threshold: number;
  iteration: number | null;
  seconds: number | null;
}

/** What a run returns (METHOD.md section 5). Plain JSON. */
export interface RunResult {
  status: RunStatus;
  message: string | null;
  success: boolean;
  epsilon: number;
  relLoss: number | null;
  bestRelLoss: number | null;
  loss: number | null;
  iterations: number;
  iterationBudget: number;
  secondsBudget: number;
  seconds: number;
  milestones: Milestone[];
  lrUsed: number | null;
  lambdaMax: number | null;
  radiusUsed: number | null;
  sigmaMinJStart: number | null;
  sigmaMinJEnd: number | null;
  distW0: number | null;
  constraintActive: boolean | null;
  kktResidual: number | null;
  gradNorm: number | null;
  testLoss: number | null;
  testRelLoss: number | null;
  testAccuracy: number | null;
  engine: EngineName;
  engineDetail: string;
  dtype: Dtype;
  resolved: ResolvedConfig;
  /** [iteration, relLoss] every logEvery iterations (empty when logEvery is 0). */
  curve: Array<[number, number]>;
  /**
   * The bounded loss trace, for training-curve charts: [iteration, relLoss (4 significant digits)]
   * at about TRACE_POINTS iterations evenly spaced in log(1 + iteration), always with iteration 0 and
   * the last iteration (sgd: at its per-epoch evaluations only).
   */
  trace: Array<[number, number]>;
}
