// The tfjs engine: the fused step of METHOD.md section 1 as TensorFlow.js ops, in float32.
// Parameters and gradients live in JS Float32Arrays; X, X^T and y are uploaded once as tensors, W
// and v at every step (they are small). Gradients use the analytic formulas (the same as
// the reference), not tfjs autodiff, which the tests keep as an independent oracle.
// No `gram` hook: a float32 Gram matrix would lose the small eigenvalues that sigma_min(J) is made
// of (METHOD.md 3b), so the core's float64 fallback is the right one here.
import { GELU_A, GELU_C } from '../core/activations.js';
import type { Activation, Engine, Problem, ProblemSpec } from '../core/types.js';
import type { Tensor, Tensor2D } from '@tensorflow/tfjs';
import { initTfjs, type Tf } from './tfjs-backend.js';

/**
 * tanh as 2 sigmoid(2x) - 1, for an absolute error of float32 rounding: on the wasm backend (tfjs
 * 4.22) Tanh measured 5 to 7 times slower than this at 1000 x 40.
 */
function tanhViaSigmoid(tf: Tf, x: Tensor): Tensor {
  return tf.sub(tf.mul(2, tf.sigmoid(tf.mul(2, x))), 1);
}

/**
 * A = s(Z) and, when asked, D = s'(Z) (activations.ts: gelu is the tanh form). `sigmoidTanh`
 * selects tanhViaSigmoid for tanh and gelu.
 */
export function activate(
  tf: Tf, a: Activation, Z: Tensor, withDerivative: boolean, sigmoidTanh = false,
): { A: Tensor; D: Tensor | null } {
  const one = tf.scalar(1);
  const tanh = (x: Tensor): Tensor => (sigmoidTanh ? tanhViaSigmoid(tf, x) : tf.tanh(x));
  switch (a) {
    case 'tanh': {
      const t = tanh(Z);
      return { A: t, D: withDerivative ? tf.sub(one, tf.square(t)) : null };
    }
    case 'sigmoid': {
      const s = tf.sigmoid(Z);
      return { A: s, D: withDerivative ? tf.mul(s, tf.sub(one, s)) : null };
    }
    case 'softplus':
      return { A: tf.softplus(Z), D: withDerivative ? tf.sigmoid(Z) : null };
    case 'swish': {
      // s'(z) = sig(z) (1 + z (1 - sig(z)))
      const s = tf.sigmoid(Z);
      const A = tf.mul(Z, s);
      return { A, D: withDerivative ? tf.mul(s, tf.add(one, tf.mul(Z, tf.sub(one, s)))) : null };
    }
    case 'gelu': {
      // s(z) = z (1 + t) / 2 with t = tanh(c (z + a z^3));
      // s'(z) = (1 + t) / 2 + z (1 - t^2) c (1 + 3 a z^2) / 2
      const Z2 = tf.square(Z);
      const t = tanh(tf.mul(GELU_C, tf.mul(Z, tf.add(one, tf.mul(GELU_A, Z2)))));
      const half1t = tf.mul(0.5, tf.add(one, t));
      const A = tf.mul(Z, half1t);
      if (!withDerivative) return { A, D: null };
      const inner = tf.mul(tf.sub(one, tf.square(t)), tf.add(one, tf.mul(3 * GELU_A, Z2)));
      return { A, D: tf.add(half1t, tf.mul(tf.mul(0.5 * GELU_C, Z), inner)) };
    }
    case 'sin':
      return { A: tf.sin(Z), D: withDerivative ? tf.cos(Z) : null };
    case 'relu':
      // tf.step(z) is 1 for z > 0 and 0 otherwise, the reference's convention at 0.
      return { A: tf.relu(Z), D: withDerivative ? tf.step(Z) : null };
  }
}

function checkSpec(spec: ProblemSpec): void {
  const { n, d, m, X, y } = spec;
  for (const [name, value] of [['n', n], ['d', d], ['m', m]] as const) {
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`spec.${name} must be a positive integer, got ${value}`);
  }
  if (X.length !== n * d) throw new RangeError(`spec.X has length ${X.length}, expected n*d = ${n * d}`);
  if (y.length !== n) throw new RangeError(`spec.y has length ${y.length}, expected n = ${n}`);
}

/**
 * Layout choices come from measurements on the wasm backend (tfjs 4.22, 1000 x 50 x 40): a matMul
 * with a transposed operand was about 10x slower than a plain one, and tf.gather of rows about 10x
 * slower than gathering on the host and uploading. So X^T is kept as a tensor beside X, and a
 * minibatch X_B, X_B^T, y_B is gathered from the caller's float64 X and y (kept by reference) and
 * uploaded.
 */
export class TfjsProblem implements Problem {
  readonly engine = 'tfjs' as const;
  readonly dtype = 'float32' as const;
  readonly n: number;
  readonly d: number;
  readonly m: number;
  readonly activation: Activation;
  readonly W: Float32Array;
  readonly v: Float32Array;
  readonly gW: Float32Array;
  readonly gv: Float32Array;
  readonly rows: Int32Array;
  readonly F: Float32Array;
  private readonly tf: Tf;
  private readonly sigmoidTanh: boolean;
  private readonly X: Tensor2D; // n x d
  private readonly XT: Tensor2D; // d x n
  private readonly y: Tensor2D; // n x 1
  private readonly Xhost: Float64Array;
  private readonly yHost: Float64Array;
  /** Host staging for a minibatch (X_B, X_B^T, y_B), grown to the largest b seen. */
  private stage = { XB: new Float32Array(0), XBT: new Float32Array(0), yB: new Float32Array(0) };
  private disposed = false;

  constructor(tf: Tf, sigmoidTanh: boolean, spec: ProblemSpec) {
    checkSpec(spec);
    const { n, d, m } = spec;
    this.tf = tf;
    this.sigmoidTanh = sigmoidTanh;
    this.n = n; this.d = d; this.m = m;
    this.activation = spec.activation;
    this.W = new Float32Array(d * m);
    this.v = new Float32Array(m);
    this.gW = new Float32Array(d * m);
    this.gv = new Float32Array(m);
    this.rows = new Int32Array(n);
    this.F = new Float32Array(n);
    this.Xhost = spec.X;
    this.yHost = spec.y;
    this.X = tf.tensor2d(Float32Array.from(spec.X), [n, d]);
    this.XT = tf.transpose(this.X);
    this.y = tf.tensor2d(Float32Array.from(spec.y), [n, 1]);
  }

  private checkLive(): void {
    if (this.disposed) throw new Error('tfjs problem used after dispose()');
  }

  /** The batch size for step(b), after checking b and rows[0..b). */
  private checkBatch(b: number): number {
    const { n, rows } = this;
    if (!Number.isInteger(b) || b < 1 || b > n) throw new RangeError(`step(b): b must be an integer in [1, ${n}], got ${b}`);
    for (let t = 0; t < b; t++) {
      const i = rows[t]!;
      if (i < 0 || i >= n) throw new RangeError(`rows[${t}] = ${i} is outside [0, ${n})`);
    }
    return b;
  }

  /** X_B (b x d), X_B^T (d x b) and y_B (b x 1) for rows[0..b), as tensors (inside the caller's tidy). */
  private uploadRows(b: number): { XB: Tensor2D; XBT: Tensor2D; yB: Tensor2D } {
    const { tf, d, rows, Xhost, yHost } = this;
    if (this.stage.yB.length < b) {
      this.stage = { XB: new Float32Array(b * d), XBT: new Float32Array(d * b), yB: new Float32Array(b) };
    }
    const XB = this.stage.XB.subarray(0, b * d);
    const XBT = this.stage.XBT.subarray(0, d * b);
    const yB = this.stage.yB.subarray(0, b);
    for (let t = 0; t < b; t++) {
      const i = rows[t]!;
      for (let k = 0; k < d; k++) {
        const x = Xhost[i * d + k]!;
        XB[t * d + k] = x;
        XBT[k * b + t] = x;
      }
      yB[t] = yHost[i]!;
    }
    return { XB: tf.tensor2d(XB, [b, d]), XBT: tf.tensor2d(XBT, [d, b]), yB: tf.tensor2d(yB, [b, 1]) };
  }

  step(b?: number): number {
    this.checkLive();
    const useRows = b !== undefined;
    const batch = useRows ? this.checkBatch(b) : this.n;
    const { tf, d, m } = this;
    return tf.tidy(() => {
      const { XB, XBT, yB } = useRows ? this.uploadRows(batch) : { XB: this.X, XBT: this.XT, yB: this.y };
      const W = tf.tensor2d(this.W, [d, m]);
      const v = tf.tensor2d(this.v, [m, 1]);
      const vRowOverB = tf.tensor2d(this.v.map((x) => x / batch), [1, m]);
      // METHOD.md 1: Z = X_B W, A = s(Z), r = A v - y_B,
      // gW = X_B^T ((r v^T / b) .* s'(Z)), gv = A^T r / b (as r^T A, a plain matMul; 1/b on the host).
      const Z = tf.matMul(XB, W);
      const { A, D } = activate(tf, this.activation, Z, true, this.sigmoidTanh);
      const r = tf.sub(tf.matMul(A, v), yB);
      const G = tf.mul(tf.mul(r, vRowOverB), D!);
      this.gW.set(tf.matMul(XBT, G).dataSync() as Float32Array);
      const gv = tf.matMul(tf.reshape(r, [1, batch]), A).dataSync() as Float32Array;
      for (let j = 0; j < m; j++) this.gv[j] = gv[j]! / batch;
      // The sum of squares is taken in float64 on the host.
      const rHost = r.dataSync() as Float32Array;
      let sse = 0;
      for (let t = 0; t < batch; t++) sse += rHost[t]! * rHost[t]!;
      return sse;
    });
  }

  forward(): number {
    this.checkLive();
    const { tf, d, m, n, F, yHost } = this;
    tf.tidy(() => {
      const W = tf.tensor2d(this.W, [d, m]);
      const v = tf.tensor2d(this.v, [m, 1]);
      const { A } = activate(tf, this.activation, tf.matMul(this.X, W), false, this.sigmoidTanh);
      F.set(tf.matMul(A, v).dataSync() as Float32Array);
    });
    // The residual is formed against the float64 labels, so the reported loss carries only the
    // float32 error of F.
    let sse = 0;
    for (let i = 0; i < n; i++) { const r = F[i]! - yHost[i]!; sse += r * r; }
    return sse;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.X.dispose();
    this.XT.dispose();
    this.y.dispose();
  }
}

/** The tfjs engine on the best backend that loads here; `detail` names it. */
export async function loadTfjsEngine(): Promise<Engine> {
  const { tf, backend, detail } = await initTfjs();
  return {
    name: 'tfjs',
    dtype: 'float32',
    detail,
    createProblem: (spec) => new TfjsProblem(tf, backend === 'wasm', spec),
  };
}
