// F(W0, v0) = 0 exactly at the mirrored init (METHOD.md section 2), on every engine this machine
// has, in float64 and float32, for every activation and for shapes that do not divide any vector
// width; and through the whole training path (0 iterations: relLoss is exactly 1 in float64).
import test from 'ava';
import { initParams } from '../src/core/init.js';
import { resolveConfig } from '../src/core/config.js';
import { syntheticDataset } from '../src/core/data.js';
import { train } from '../src/core/train.js';
import { Rng } from '../src/core/rng.js';
import { ACTIVATIONS } from '../src/core/types.js';
import type { Dtype, Engine, EngineName } from '../src/core/types.js';
import { selectEngine } from '../src/engines/select.js';

const SHAPES: Array<[number, number, number]> = [[7, 3, 6], [33, 17, 10], [101, 50, 42], [130, 1, 2], [200, 10, 40]];
const ENGINES: Array<[EngineName, Dtype]> = [['ts', 'float64'], ['wasm', 'float64'], ['wasm', 'float32'], ['native', 'float64'], ['native', 'float32'], ['tfjs', 'float32']];

async function engines(): Promise<Array<{ label: string; engine: Engine }>> {
  const out = [];
  for (const [name, dtype] of ENGINES) {
    try {
      out.push({ label: `${name}/${dtype}`, engine: await selectEngine(name, dtype, { quiet: true }) });
    } catch { /* not on this machine (the engine tests say so) */ }
  }
  return out;
}

test('F(W0, v0) is exactly 0 on every engine, dtype and activation', async (t) => {
  const list = await engines();
  t.true(list.length >= 3, `engines found: ${list.map((e) => e.label).join(', ')}`);
  let checked = 0;
  for (const [n, d, m] of SHAPES) {
    const X = new Rng(`mirror-X|${n}|${d}`).fillNormal(new Float64Array(n * d));
    const y = new Rng(`mirror-y|${n}`).fillNormal(new Float64Array(n));
    const { W, v } = initParams({ seed: 5, d, m, init: 'mirrored', outputScale: 10 });
    for (const { label, engine } of list) {
      for (const activation of ACTIVATIONS) {
        const p = engine.createProblem({ X, y, n, d, m, activation });
        p.W.set(W); p.v.set(v);
        p.forward();
        const bad = Array.from(p.F).findIndex((f) => f !== 0);
        t.is(bad, -1, `${label} ${activation} ${n}x${d}x${m}: F[${bad}] = ${p.F[bad]}`);
        p.dispose();
        checked++;
      }
    }
  }
  t.log(`${checked} engine x activation x shape combinations: ${list.map((e) => e.label).join(', ')}`);
});

test('a mirrored run with 0 iterations reports relLoss exactly 1 (the zero predictor)', async (t) => {
  for (const dtype of ['float64', 'float32'] as const) {
    const cfg = resolveConfig({ method: 'pgd', n: 60, d: 6, m: 14, seed: 2, iterations: 0, outputScale: 10, dtype, engine: 'wasm' });
    const ds = syntheticDataset(cfg);
    const { result, model } = train(cfg, ds, await selectEngine('wasm', dtype, { quiet: true }));
    // float64: exactly 1. float32: y itself is rounded to float32, so ||F - y||^2 = ||y_32||^2 is
    // 1 to float32 precision against the float64 ||y||^2.
    if (dtype === 'float64') t.is(result.relLoss, 1);
    else t.true(Math.abs(result.relLoss! - 1) < 1e-6, `${result.relLoss}`);
    t.is(result.distW0, 0, dtype);
    // in float32 the run starts from W0 as float32 holds it, and reports that point
    if (dtype === 'float32') t.deepEqual(Array.from(model.W0), Array.from(Float32Array.from(model.W0)));
  }
});
