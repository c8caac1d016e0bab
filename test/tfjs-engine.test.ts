// The tfjs engine against the float64 reference, and the reference's analytic gradients against an
// independent oracle: tfjs automatic differentiation of L(W, v) = (1/2n) ||s(XW) v - y||^2.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { GELU_A, GELU_C } from '../src/core/activations.js';
import { ReferenceProblem } from '../src/core/reference.js';
import { Rng } from '../src/core/rng.js';
import { ACTIVATIONS, type Activation, type Engine, type ProblemSpec } from '../src/core/types.js';
import { activate, loadTfjsEngine } from '../src/engines/tfjs.js';

/** float32 precision, relative to the norm of the whole vector. */
const TOL = 1e-5;

let engine: Engine;
test.before(async () => { engine = await loadTfjsEngine(); });

function relErr(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} != ${expected.length}`);
  let num = 0, den = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!, diff = actual[i]! - e;
    num += diff * diff; den += e * e;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-300);
}

/** Round through float32 so both sides see identical inputs and only arithmetic differs. */
function f32(a: Float64Array): Float64Array { return Float64Array.from(Float32Array.from(a)); }

interface Case { spec: ProblemSpec; W: Float64Array; v: Float64Array; rng: Rng }

/** Entries of order 1 (METHOD.md 3b): X, y ~ N(0, 1), W ~ N(0, 1/d), v ~ N(0, 1). */
function makeCase(key: string, n: number, d: number, m: number, activation: Activation): Case {
  const rng = new Rng(key);
  const X = f32(rng.fillNormal(new Float64Array(n * d)));
  const y = f32(rng.fillNormal(new Float64Array(n)));
  const W = f32(rng.fillNormal(new Float64Array(d * m), 1 / Math.sqrt(d)));
  const v = f32(rng.fillNormal(new Float64Array(m)));
  return { spec: { X, y, n, d, m, activation }, W, v, rng };
}

const SHAPES: Array<[number, number, number]> = [[7, 3, 5], [50, 1, 3], [64, 10, 40], [200, 10, 40]];

test('tfjs engine: name, dtype and the backend it runs on', (t) => {
  t.is(engine.name, 'tfjs');
  t.is(engine.dtype, 'float32');
  t.regex(engine.detail, /^(tfjs-node|tfjs-backend-wasm|tfjs cpu)/);
  t.log(`backend: ${engine.detail}`);
});

test('tfjs engine matches the float64 reference: full batch, rows, forward, every activation', (t) => {
  for (const [n, d, m] of SHAPES) {
    for (const a of ACTIVATIONS) {
      const where = `n=${n} d=${d} m=${m} ${a}`;
      const { spec, W, v, rng } = makeCase(`tfjs-vs-ref|${where}`, n, d, m, a);
      const ref = new ReferenceProblem(spec);
      const p = engine.createProblem(spec);
      t.is(p.engine, 'tfjs');
      // Two parameter points on the same problem: W and v must be re-read at every step.
      for (const point of [0, 1]) {
        const Wp = point === 0 ? W : f32(W.map((w) => w + 0.3 * rng.normal() / Math.sqrt(d)));
        const vp = point === 0 ? v : f32(v.map((x) => -0.5 * x + 0.2 * rng.normal()));
        ref.W.set(Wp); ref.v.set(vp); p.W.set(Wp); p.v.set(vp);
        const at = `${where} point ${point}`;

        const sseRef = ref.step(), sse = p.step();
        t.true(relErr(p.gW, ref.gW) <= TOL, `gW full batch ${at}: ${relErr(p.gW, ref.gW)}`);
        t.true(relErr(p.gv, ref.gv) <= TOL, `gv full batch ${at}: ${relErr(p.gv, ref.gv)}`);
        t.true(Math.abs(sse - sseRef) <= TOL * sseRef, `sse full batch ${at}: ${sse} vs ${sseRef}`);

        // A minibatch drawn with replacement (repeated rows must count twice).
        const b = Math.floor(n / 3) + 1;
        for (let k = 0; k < b; k++) { const i = rng.int(n); ref.rows[k] = i; p.rows[k] = i; }
        const sseRefB = ref.step(b), sseB = p.step(b);
        t.true(relErr(p.gW, ref.gW) <= TOL, `gW rows b=${b} ${at}: ${relErr(p.gW, ref.gW)}`);
        t.true(relErr(p.gv, ref.gv) <= TOL, `gv rows b=${b} ${at}: ${relErr(p.gv, ref.gv)}`);
        t.true(Math.abs(sseB - sseRefB) <= TOL * sseRefB, `sse rows ${at}: ${sseB} vs ${sseRefB}`);

        const fRef = ref.forward(), f = p.forward();
        t.true(relErr(p.F, ref.F) <= TOL, `F ${at}: ${relErr(p.F, ref.F)}`);
        t.true(Math.abs(f - fRef) <= TOL * fRef, `forward sse ${at}: ${f} vs ${fRef}`);
      }
      p.dispose();
    }
  }
});

/** s(Z) in plain tf ops, for autodiff. gelu is the tanh form of activations.ts. */
function sAutodiff(a: Activation, Z: tf.Tensor): tf.Tensor {
  switch (a) {
    case 'tanh': return tf.tanh(Z);
    case 'sigmoid': return tf.sigmoid(Z);
    case 'softplus': return tf.softplus(Z);
    case 'swish': return tf.mul(Z, tf.sigmoid(Z));
    case 'gelu': {
      const Z3 = tf.mul(Z, tf.mul(Z, Z));
      return tf.mul(tf.mul(0.5, Z), tf.add(1, tf.tanh(tf.mul(GELU_C, tf.add(Z, tf.mul(GELU_A, Z3))))));
    }
    case 'sin': return tf.sin(Z);
    case 'relu': return tf.relu(Z);
  }
}

/** GELU in its erf form: a realistic wrong choice, used only as a negative control. */
function geluErf(Z: tf.Tensor): tf.Tensor {
  return tf.mul(tf.mul(0.5, Z), tf.add(1, tf.erf(tf.mul(Math.SQRT1_2, Z))));
}

/**
 * Autodiff gradients of L = (1/2b) ||s(X_B W) v - y_B||^2 over the rows `rows` (all rows when
 * null), and 2b L (the sum of squared residuals).
 */
function autodiff(c: Case, s: (Z: tf.Tensor) => tf.Tensor, rows: Int32Array | null): { gW: Float32Array; gv: Float32Array; sse: number } {
  const { X, y, n, d, m } = c.spec;
  return tf.tidy(() => {
    let Xt: tf.Tensor = tf.tensor2d(Float32Array.from(X), [n, d]);
    let yt: tf.Tensor = tf.tensor2d(Float32Array.from(y), [n, 1]);
    if (rows) { const idx = tf.tensor1d(rows, 'int32'); Xt = tf.gather(Xt, idx); yt = tf.gather(yt, idx); }
    const b = rows ? rows.length : n;
    const loss = (...args: tf.Tensor[]): tf.Tensor => {
      const F = tf.matMul(s(tf.matMul(Xt, args[0]!)), args[1]!);
      return tf.div(tf.sum(tf.square(tf.sub(F, yt))), 2 * b);
    };
    const W = tf.tensor2d(Float32Array.from(c.W), [d, m]), v = tf.tensor2d(Float32Array.from(c.v), [m, 1]);
    const { value, grads } = tf.valueAndGrads(loss)([W, v]);
    return {
      gW: grads[0]!.dataSync() as Float32Array,
      gv: grads[1]!.dataSync() as Float32Array,
      sse: 2 * b * value.dataSync()[0]!,
    };
  });
}

const ORACLE_SHAPES: Array<[number, number, number]> = [[50, 4, 6], [200, 10, 40]];

test('oracle: reference gW, gv equal tfjs autodiff of (1/2n)||s(XW)v - y||^2, every activation', (t) => {
  for (const [n, d, m] of ORACLE_SHAPES) {
    for (const a of ACTIVATIONS) {
      const where = `n=${n} d=${d} m=${m} ${a}`;
      const c = makeCase(`oracle|${where}`, n, d, m, a);
      const ref = new ReferenceProblem(c.spec);
      ref.W.set(c.W); ref.v.set(c.v);
      const sse = ref.step();
      const ad = autodiff(c, (Z) => sAutodiff(a, Z), null);
      t.true(relErr(ref.gW, ad.gW) <= TOL, `gW ${where}: ${relErr(ref.gW, ad.gW)}`);
      t.true(relErr(ref.gv, ad.gv) <= TOL, `gv ${where}: ${relErr(ref.gv, ad.gv)}`);
      t.true(Math.abs(sse - ad.sse) <= TOL * sse, `sse ${where}: ${sse} vs ${ad.sse}`);

      // Minibatch: the gradient of the batch loss (1/2b)||r_B||^2, repeated rows included.
      const b = 37;
      const rows = new Int32Array(b).map(() => c.rng.int(n));
      ref.rows.set(rows);
      const sseB = ref.step(b);
      const adB = autodiff(c, (Z) => sAutodiff(a, Z), rows);
      t.true(relErr(ref.gW, adB.gW) <= TOL, `gW rows ${where}: ${relErr(ref.gW, adB.gW)}`);
      t.true(relErr(ref.gv, adB.gv) <= TOL, `gv rows ${where}: ${relErr(ref.gv, adB.gv)}`);
      t.true(Math.abs(sseB - adB.sse) <= TOL * sseB, `sse rows ${where}: ${sseB} vs ${adB.sse}`);
    }
  }
});

test('oracle: the engine\'s own s\'(z) equals the autodiff derivative of s, every activation', (t) => {
  const rng = new Rng('activate-derivative');
  // Avoid |z| < 1e-3 so relu's kink is never sampled.
  const z = Float32Array.from({ length: 400 }, () => { const x = 3 * rng.normal(); return Math.abs(x) < 1e-3 ? 0.5 : x; });
  for (const a of ACTIVATIONS) {
    for (const sigmoidTanh of [false, true]) {
      const [A, D, sRef, dRef] = tf.tidy(() => {
        const Z = tf.tensor2d(z, [20, 20]);
        const out = activate(tf, a, Z, true, sigmoidTanh);
        const grad = tf.grad((x: tf.Tensor) => tf.sum(sAutodiff(a, x)))(Z);
        return [out.A.dataSync(), out.D!.dataSync(), sAutodiff(a, Z).dataSync(), grad.dataSync()];
      });
      const how = `${a}${sigmoidTanh ? ' (tanh via sigmoid)' : ''}`;
      t.true(relErr(A, sRef) <= TOL, `s ${how}: ${relErr(A, sRef)}`);
      t.true(relErr(D, dRef) <= TOL, `s' ${how}: ${relErr(D, dRef)}`);
    }
  }
});

test('negative controls: the tolerance resolves the bugs these tests are meant to catch', (t) => {
  const [n, d, m] = [200, 10, 40];
  const c = makeCase('controls', n, d, m, 'gelu');
  const ref = new ReferenceProblem(c.spec);
  ref.W.set(c.W); ref.v.set(c.v);
  ref.step();
  const ad = autodiff(c, (Z) => sAutodiff('gelu', Z), null);
  t.true(relErr(ref.gW, ad.gW) <= TOL);
  // A batch divisor off by one (1/(n-1) instead of 1/n).
  t.true(relErr(ref.gW.map((g) => g * n / (n - 1)), ad.gW) > 10 * TOL);
  t.true(relErr(ref.gv.map((g) => g * n / (n - 1)), ad.gv) > 10 * TOL);
  // The erf form of GELU instead of the tanh form the contract fixes.
  const adErf = autodiff(c, geluErf, null);
  t.true(relErr(ref.gW, adErf.gW) > 10 * TOL, `erf vs tanh gelu: ${relErr(ref.gW, adErf.gW)}`);
  // A derivative missing the product rule: swish' taken as sigmoid.
  const zs = tf.tidy(() => {
    const Z = tf.tensor2d(Float32Array.from({ length: 100 }, (_, i) => (i - 50) / 10), [10, 10]);
    const good = activate(tf, 'swish', Z, true).D!.dataSync();
    return [good, tf.sigmoid(Z).dataSync()];
  });
  t.true(relErr(zs[1]!, zs[0]!) > 10 * TOL);
});

test.serial('tfjs problem: no tensors leak per step, dispose releases X, X^T and y', (t) => {
  const c = makeCase('leak', 30, 4, 6, 'tanh');
  const before = tf.memory().numTensors;
  const p = engine.createProblem(c.spec);
  p.W.set(c.W); p.v.set(c.v);
  const created = tf.memory().numTensors;
  t.is(created - before, 3);
  p.step(); p.rows.fill(3); p.step(10); p.forward();
  t.is(tf.memory().numTensors, created);
  p.dispose();
  t.is(tf.memory().numTensors, before);
  t.throws(() => p.step(), { message: /after dispose/ });
});

test('tfjs problem: bad arguments throw, naming the argument', (t) => {
  const c = makeCase('args', 10, 2, 3, 'tanh');
  t.throws(() => engine.createProblem({ ...c.spec, X: new Float64Array(5) }), { message: /spec\.X/ });
  t.throws(() => engine.createProblem({ ...c.spec, m: 0 }), { message: /spec\.m/ });
  const p = engine.createProblem(c.spec);
  t.throws(() => p.step(0), { message: /step\(b\)/ });
  t.throws(() => p.step(11), { message: /step\(b\)/ });
  p.rows[1] = 10;
  t.throws(() => p.step(2), { message: /rows\[1\]/ });
  p.dispose();
});

test('NARROWSWEEP_TFJS_BACKEND forces the backend, and a backend that does not load is a plain error', (t) => {
  const cli = fileURLToPath(new URL('../src/cli.js', import.meta.url));
  const train = (backend: string) => spawnSync(process.execPath, [cli, 'train', '--method', 'gd', '--n', '20', '--d', '3', '--m', '4', '--iterations', '3', '--engine', 'tfjs', '--quiet'],
    { encoding: 'utf8', env: { ...process.env, NARROWSWEEP_TFJS_BACKEND: backend } });
  const cpu = train('cpu');
  t.is(cpu.status, 0, cpu.stderr);
  t.regex(JSON.parse(cpu.stdout).engineDetail, /^tfjs cpu /);
  const wasm = train('wasm');
  t.regex(JSON.parse(wasm.stdout).engineDetail, /^tfjs-backend-wasm /);
  const bogus = train('gpu');
  t.is(bogus.status, 2);
  t.regex(bogus.stderr, /^narrowsweep: NARROWSWEEP_TFJS_BACKEND: expected node, wasm or cpu, got "gpu"$/m);
  t.is(bogus.stdout, '');
  // a backend that is asked for but does not load is a failed run (tfjs-node cannot install here)
  const node = train('node');
  if (node.status === 1) t.regex(node.stderr, /tfjs backend node was asked for \(NARROWSWEEP_TFJS_BACKEND\) but did not load/);
  else t.regex(JSON.parse(node.stdout).engineDetail, /^tfjs-node/);
});
