// F(W0, v0) = 0 exactly at the mirrored init (METHOD.md section 2), on every engine this machine
// has (every engine `narrowsweep doctor` reports must load, in both dtypes where it has two), in
// float64 and float32, for every activation and for shapes that do not divide any vector width; and
// through the whole training path (0 iterations: relLoss is exactly 1 in float64).
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
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

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));

/** The engines `narrowsweep doctor` reports as available here: the names in its benchmark table. */
function doctorEngines(): Set<string> {
  const r = spawnSync(process.execPath, [CLI, 'doctor', '--seconds', '0.05'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`narrowsweep doctor failed: ${r.stderr}`);
  const lines = r.stdout.split('\n');
  const header = lines.findIndex((l) => /^ {2}engine +dtype +detail/.test(l));
  if (header < 0) throw new Error(`no benchmark table in the doctor output:\n${r.stdout}`);
  return new Set(lines.slice(header + 1).map((l) => l.trim().split(/\s+/)[0]!).filter((x) => x !== ''));
}

/** Every engine and dtype of ENGINES that doctor reports available; one that then fails to load fails the test. */
async function engines(t: ExecutionContext): Promise<Array<{ label: string; engine: Engine }>> {
  const available = doctorEngines();
  t.true(available.has('ts'), `doctor lists ${[...available].join(', ')}`);
  const out = [];
  for (const [name, dtype] of ENGINES) {
    if (!available.has(name)) { t.log(`${name}/${dtype}: not available on this machine (doctor)`); continue; }
    try {
      out.push({ label: `${name}/${dtype}`, engine: await selectEngine(name, dtype, { quiet: true }) });
    } catch (e) {
      t.fail(`${name}/${dtype}: doctor reports ${name} available, but it does not load: ${(e as Error).message}`);
    }
  }
  return out;
}

test('F(W0, v0) is exactly 0 on every engine, dtype and activation', async (t) => {
  const list = await engines(t);
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
