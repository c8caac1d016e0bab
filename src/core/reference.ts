// The plain TypeScript reference of the fused step (METHOD.md section 1). It is the oracle every
// compiled engine is tested against, and the `ts` engine. Float64 only.
import { act, dact } from './activations.js';
import type { Engine, Problem, ProblemSpec } from './types.js';

export class ReferenceProblem implements Problem {
  readonly engine = 'ts' as const;
  readonly dtype = 'float64' as const;
  readonly n: number;
  readonly d: number;
  readonly m: number;
  readonly activation;
  readonly W: Float64Array;
  readonly v: Float64Array;
  readonly gW: Float64Array;
  readonly gv: Float64Array;
  readonly rows: Int32Array;
  readonly F: Float64Array;
  private readonly X: Float64Array;
  private readonly y: Float64Array;
  private readonly z: Float64Array; // one row of Z
  private readonly g: Float64Array; // one row of (r v^T) .* s'(Z)

  constructor(spec: ProblemSpec) {
    const { n, d, m } = spec;
    this.n = n; this.d = d; this.m = m;
    this.activation = spec.activation;
    this.X = spec.X; this.y = spec.y;
    this.W = new Float64Array(d * m);
    this.v = new Float64Array(m);
    this.gW = new Float64Array(d * m);
    this.gv = new Float64Array(m);
    this.rows = new Int32Array(n);
    this.F = new Float64Array(n);
    this.z = new Float64Array(m);
    this.g = new Float64Array(m);
  }

  /** z = x_i W for row i. */
  private rowZ(i: number): void {
    const { X, W, z, d, m } = this;
    z.fill(0);
    for (let k = 0; k < d; k++) {
      const xik = X[i * d + k]!;
      const off = k * m;
      for (let j = 0; j < m; j++) z[j]! += xik * W[off + j]!;
    }
  }

  step(b?: number): number {
    const { X, y, W: _W, v, gW, gv, z, g, d, m, n, activation } = this;
    void _W;
    const batch = b === undefined ? n : b;
    const useRows = b !== undefined;
    gW.fill(0); gv.fill(0);
    let sse = 0;
    for (let t = 0; t < batch; t++) {
      const i = useRows ? this.rows[t]! : t;
      this.rowZ(i);
      let F = 0;
      for (let j = 0; j < m; j++) F += act(activation, z[j]!) * v[j]!;
      const r = F - y[i]!;
      sse += r * r;
      for (let j = 0; j < m; j++) {
        gv[j]! += act(activation, z[j]!) * r;
        g[j] = r * v[j]! * dact(activation, z[j]!);
      }
      for (let k = 0; k < d; k++) {
        const xik = X[i * d + k]!;
        const off = k * m;
        for (let j = 0; j < m; j++) gW[off + j]! += xik * g[j]!;
      }
    }
    const inv = 1 / batch;
    for (let q = 0; q < d * m; q++) gW[q]! *= inv;
    for (let j = 0; j < m; j++) gv[j]! *= inv;
    return sse;
  }

  forward(): number {
    const { y, v, z, m, n, activation, F } = this;
    let sse = 0;
    for (let i = 0; i < n; i++) {
      this.rowZ(i);
      let f = 0;
      for (let j = 0; j < m; j++) f += act(activation, z[j]!) * v[j]!;
      F[i] = f;
      const r = f - y[i]!;
      sse += r * r;
    }
    return sse;
  }

  dispose(): void { /* nothing to release */ }
}

export const referenceEngine: Engine = {
  name: 'ts',
  dtype: 'float64',
  detail: 'typescript reference (float64)',
  createProblem: (spec) => new ReferenceProblem(spec),
};
