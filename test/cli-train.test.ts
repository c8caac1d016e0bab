import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { removeTempDirs, tempDir } from './fixtures/temp.js';

test.after.always(removeTempDirs);

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));

function run(args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, NARROWSWEEP_QUIET_ENGINE: '1' } });
}

test('train prints the result; --save-model and --save-data let anyone recompute relLoss independently', (t) => {
  const dir = tempDir('ns-train-');
  const model = join(dir, 'model.json'), data = join(dir, 'data.csv');
  const out = execFileSync(process.execPath, [CLI, 'train', '--method', 'lm', '--n', '120', '--d', '8', '--m', '40', '--seed', '3',
    '--output-scale', '10', '--epsilon', '1e-12', '--data', 'gaussian', '--labels', 'sign', '--n-test', '30',
    '--save-model', model, '--save-data', data, '--engine', 'ts'], { encoding: 'utf8' });
  const result = JSON.parse(out);
  t.is(result.status, 'ok');
  t.is(result.resolved.method, 'lm');
  const saved = JSON.parse(readFileSync(model, 'utf8'));
  t.is(saved.W.length, 8);
  t.is(saved.W[0].length, 40);
  // independent recomputation of F = tanh(X W) v from the files alone
  const lines = readFileSync(data, 'utf8').trim().split('\n');
  t.is(lines[0], 'x1,x2,x3,x4,x5,x6,x7,x8,y');
  let sse = 0, ySq = 0;
  for (const line of lines.slice(1)) {
    const cells = line.split(',').map(Number);
    const y = cells[8]!;
    let f = 0;
    for (let j = 0; j < 40; j++) {
      let z = 0;
      for (let k = 0; k < 8; k++) z += cells[k]! * saved.W[k][j];
      f += Math.tanh(z) * saved.v[j];
    }
    sse += (f - y) ** 2; ySq += y * y;
  }
  t.is(lines.length - 1, 120);
  t.true(Math.abs(sse / ySq - result.relLoss) <= 1e-12 + 1e-9 * result.relLoss, `${sse / ySq} vs ${result.relLoss}`);
  t.true(existsSync(join(dir, 'data.test.csv')));
  t.is(readFileSync(join(dir, 'data.test.csv'), 'utf8').trim().split('\n').length - 1, 30);
  t.is(typeof result.testAccuracy, 'number');
  // the mirrored start: F(W0, v0) = 0, so W0 columns 2k and 2k + 1 agree and v0 pairs are opposite
  const even = (a: number[]) => a.filter((_, j) => j % 2 === 0), odd = (a: number[]) => a.filter((_, j) => j % 2 === 1);
  t.deepEqual(saved.W0.map(even), saved.W0.map(odd));
  t.deepEqual(even(saved.v0), odd(saved.v0).map((x: number) => -x));
});

test('training on the saved data file reproduces the run bit for bit', (t) => {
  const dir = tempDir('ns-train-');
  const data = join(dir, 'data.csv');
  const common = ['--method', 'gd', '--n', '50', '--d', '4', '--m', '6', '--seed', '2', '--iterations', '40', '--engine', 'ts'];
  const a = JSON.parse(execFileSync(process.execPath, [CLI, 'train', ...common, '--save-data', data], { encoding: 'utf8' }));
  const b = JSON.parse(execFileSync(process.execPath, [CLI, 'train', ...common, '--data', `csv:${data}`, '--label-col', '4', '--standardize', 'false'], { encoding: 'utf8' }));
  t.is(b.relLoss, a.relLoss);
  t.is(b.sigmaMinJEnd, a.sigmaMinJEnd);
});

test('bad input: a clear one-line error naming the problem, exit code 2, nothing written', (t) => {
  const dir = tempDir('ns-train-');
  const model = join(dir, 'model.json');
  const cases: Array<[string[], RegExp]> = [
    [['--method', 'pgd', '--n', '10', '--d', '2', '--m', '7'], /m: m = 7 is odd, but init mirrored needs an even width/],
    [['--method', 'gd', '--n', '10', '--d', '2'], /--m: is required/],
    [['--method', 'gd', '--n', '10', '--d', '2', '--m', 'four'], /--m: expected a number, got "four"/],
    [['--method', 'gdd', '--n', '10', '--d', '2', '--m', '4'], /method: expected one of gd, sgd/],
    [['--method', 'gd', '--n', '10', '--d', '2', '--m', '4', '--bogus', '1'], /Unknown option '--bogus'/],
    [['--method', 'gd', '--n', '10', '--d', '2', '--m', '4', '--data', `csv:${join(dir, 'missing.csv')}`], /missing\.csv/],
    [['--method', 'gd', '--n', '10', '--d', '2', '--m', '4', '--engine', 'ts', '--dtype', 'float32'], /^narrowsweep: dtype: engine ts \(the TypeScript reference\) computes in float64 only$/m],
    [['--method', 'gd', '--n', '10', '--d', '2', '--m', '4', '--engine', 'tfjs', '--dtype', 'float64'], /^narrowsweep: dtype: engine tfjs computes in float32 only/m],
    // a negative number as a flag's value is checked by us, not called "ambiguous" by the flag parser
    [['--method', 'gd', '--n', '10', '--d', '2', '--m', '4', '--epsilon', '-1'], /^narrowsweep: epsilon: expected a non-negative number, got -1$/m],
    [['--method', 'gd', '--n', '10', '--d', '2', '--m', '4', '--lr', '-0.5'], /^narrowsweep: lr: expected a positive number, got -0\.5$/m],
    [['--method', 'gd', '--n', '-10', '--d', '2', '--m', '4'], /^narrowsweep: n: expected a positive integer, got -10$/m],
  ];
  for (const [args, re] of cases) {
    const r = run(['train', ...args, '--save-model', model]);
    t.is(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    t.regex(r.stderr, re);
    t.notRegex(r.stderr, /at .*\.js:\d+/, 'no stack trace');
  }
  t.deepEqual(readdirSync(dir), []);
});

test('--save-model and --save-data create missing folders; an overflow is a diverged result, exit 0', (t) => {
  const dir = tempDir('ns-train-');
  const model = join(dir, 'a', 'b', 'model.json'), data = join(dir, 'c', 'data.csv');
  const r = run(['train', '--method', 'gd', '--n', '20', '--d', '3', '--m', '4', '--iterations', '5', '--save-model', model, '--save-data', data]);
  t.is(r.status, 0, r.stderr);
  t.is(JSON.parse(readFileSync(model, 'utf8')).m, 4);
  t.is(readFileSync(data, 'utf8').trim().split('\n').length, 21);
  const big = run(['train', '--method', 'lm', '--n', '20', '--d', '3', '--m', '4', '--output-scale', '1e200']);
  t.is(big.status, 0, big.stderr);
  const res = JSON.parse(big.stdout);
  t.is(res.status, 'diverged');
  t.regex(res.message, /not finite/);
});

test('a run with a test split reproduces from data.csv plus data.test.csv appended', (t) => {
  const dir = tempDir('ns-train-');
  const common = ['--method', 'gd', '--n', '60', '--d', '4', '--m', '6', '--n-test', '15', '--seed', '3', '--iterations', '30', '--engine', 'ts'];
  const a = JSON.parse(execFileSync(process.execPath, [CLI, 'train', ...common, '--save-data', join(dir, 'data.csv')], { encoding: 'utf8' }));
  const train = readFileSync(join(dir, 'data.csv'), 'utf8'), test_ = readFileSync(join(dir, 'data.test.csv'), 'utf8');
  writeFileSync(join(dir, 'all.csv'), train + test_.split('\n').slice(1).join('\n'));
  const b = JSON.parse(execFileSync(process.execPath, [CLI, 'train', ...common, '--data', `csv:${join(dir, 'all.csv')}`, '--standardize', 'false'], { encoding: 'utf8' }));
  t.is(b.relLoss, a.relLoss);
  t.is(b.testRelLoss, a.testRelLoss);
  t.is(b.testAccuracy, a.testAccuracy);
  t.is(typeof a.testRelLoss, 'number');
});

/** Reads a saved data csv (header, d features, label last) into rows. */
function readRows(file: string): number[][] {
  return readFileSync(file, 'utf8').trim().split('\n').slice(1).map((l) => l.split(',').map(Number));
}

test('testAccuracy, testRelLoss and testLoss recompute from the saved model on the saved test split', (t) => {
  const dir = tempDir('ns-train-');
  const model = join(dir, 'model.json'), data = join(dir, 'data.csv');
  const r = run(['train', '--method', 'adam', '--n', '80', '--d', '4', '--m', '8', '--seed', '1', '--iterations', '300',
    '--data', 'gaussian', '--labels', 'teacher', '--n-test', '40', '--engine', 'ts', '--save-model', model, '--save-data', data]);
  t.is(r.status, 0, r.stderr);
  const result = JSON.parse(r.stdout);
  const saved = JSON.parse(readFileSync(model, 'utf8'));
  const rows = readRows(join(dir, 'data.test.csv'));
  t.is(rows.length, 40);
  let sse = 0, yy = 0, agree = 0;
  for (const row of rows) {
    const y = row[4]!;
    let f = 0;
    for (let j = 0; j < 8; j++) {
      let z = 0;
      for (let k = 0; k < 4; k++) z += row[k]! * saved.W[k][j];
      f += Math.tanh(z) * saved.v[j];
    }
    sse += (f - y) ** 2; yy += y * y;
    if (Math.sign(f) === Math.sign(y)) agree++;
  }
  t.is(result.testAccuracy, agree / 40);
  // a split that a sign-disagreement count would report the same way proves nothing
  t.true(agree > 24, `${agree} of 40 signs agree`);
  t.true(Math.abs(result.testRelLoss - sse / yy) <= 1e-12 * (sse / yy), `${result.testRelLoss} vs ${sse / yy}`);
  t.true(Math.abs(result.testLoss - sse / 80) <= 1e-12 * (sse / 80), `${result.testLoss} vs ${sse / 80}`);
  t.is(saved.testRelLoss, result.testRelLoss);
});

/** A raw csv file as a user has it: a header, features on their own offsets and scales, a constant column, the label in the middle. */
function rawCsv(dir: string, rows: number): string {
  const file = join(dir, 'raw.csv');
  const lines = ['age,label,income,flag,score,const'];
  let s = 12345;
  const u = () => { s = (s * 1103515245 + 12345) % 2147483648; return s / 2147483648; };
  for (let i = 0; i < rows; i++) {
    const age = 20 + 50 * u(), income = 1000 + 9000 * u(), flag = u() < 0.3 ? 1 : 0, score = -3 + 0.01 * u();
    const label = Math.sin(age / 9) + (income - 5500) / 4000 + flag - 0.3 > 0 ? 1 : -1;
    lines.push([age.toFixed(3), label, income.toFixed(2), flag, score.toFixed(5), 7].join(','));
  }
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

/** Applies a saved model to the raw rows of a csv file, as the README's numpy snippet does. */
function applyModel(saved: { W: number[][]; v: number[]; input: { header: boolean; featureColumns: number[]; mean: number[]; scale: number[] } }, file: string): number[] {
  const inp = saved.input;
  const lines = readFileSync(file, 'utf8').trim().split('\n').slice(inp.header ? 1 : 0);
  return lines.map((line) => {
    const raw = line.split(',').map(Number);
    const x = inp.featureColumns.map((c, k) => (raw[c]! - inp.mean[k]!) / inp.scale[k]!);
    let f = 0;
    for (let j = 0; j < saved.v.length; j++) {
      let z = 0;
      for (let k = 0; k < x.length; k++) z += x[k]! * saved.W[k]![j]!;
      f += Math.tanh(z) * saved.v[j]!;
    }
    return f;
  });
}

function fit(F: number[], y: number[]): { rel: number; accuracy: number } {
  let sse = 0, yy = 0, agree = 0;
  F.forEach((f, i) => { sse += (f - y[i]!) ** 2; yy += y[i]! ** 2; if (Math.sign(f) === Math.sign(y[i]!)) agree++; });
  return { rel: sse / yy, accuracy: agree / F.length };
}

test('--save-model after a csv run stores the input transform and the label column: the model applies to the raw file', (t) => {
  const dir = tempDir('ns-train-');
  const file = rawCsv(dir, 90);
  const model = join(dir, 'model.json');
  const r = run(['train', '--method', 'lm', '--data', `csv:${file}`, '--label-col', '1', '--n', '60', '--n-test', '20', '--d', '5', '--m', '40',
    '--output-scale', '10', '--epsilon', '1e-6', '--engine', 'ts', '--save-model', model]);
  t.is(r.status, 0, r.stderr);
  const result = JSON.parse(r.stdout);
  const saved = JSON.parse(readFileSync(model, 'utf8'));
  t.like(saved.input, { source: 'csv', path: file, header: true, featureColumns: [0, 2, 3, 4, 5], labelColumn: 1, standardized: true });
  t.deepEqual(saved.labels, { kind: 'values', column: 1 });
  // the constant column is only centred (scale 1); the others are divided by their training sd
  t.is(saved.input.mean[4], 7);
  t.is(saved.input.scale[4], 1);
  const raw = readFileSync(file, 'utf8').trim().split('\n').slice(1).map((l) => l.split(',').map(Number));
  const ages = raw.slice(0, 60).map((row) => row[0]!);
  const mean = ages.reduce((a, b) => a + b, 0) / 60;
  t.true(Math.abs(saved.input.mean[0] - mean) < 1e-12 * mean);
  t.true(Math.abs(saved.input.scale[0] - Math.sqrt(ages.reduce((a, b) => a + (b - mean) ** 2, 0) / 60)) < 1e-9);
  const F = applyModel(saved, file);
  const y = raw.map((row) => row[1]!);
  const train = fit(F.slice(0, 60), y.slice(0, 60)), test_ = fit(F.slice(60, 80), y.slice(60, 80));
  t.true(result.relLoss < 1e-6, `${result.relLoss}`);
  t.true(Math.abs(train.rel - result.relLoss) <= 1e-6 * result.relLoss, `recomputed ${train.rel} vs reported ${result.relLoss}`);
  t.true(Math.abs(test_.rel - result.testRelLoss) <= 1e-9 * result.testRelLoss, `recomputed ${test_.rel} vs reported ${result.testRelLoss}`);
  t.is(test_.accuracy, result.testAccuracy);
});

test('the README numpy snippet applies a saved model to the raw csv and gives the reported relLoss and testRelLoss', (t) => {
  const py = spawnSync('python3', ['-c', 'import numpy'], { encoding: 'utf8' });
  if (py.status !== 0) { t.log('python3 with numpy is not available here: the snippet is not run (the test above checks the same in JavaScript)'); t.pass(); return; }
  const readme = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');
  const block = /^ {4}import json, numpy as np\n(?: {4}.*\n)+/m.exec(readme);
  t.truthy(block, 'the README has the snippet (an indented block starting with "import json, numpy as np")');
  const snippet = block![0].replace(/^ {4}/gm, '');
  t.true(snippet.split('\n').filter((l) => l.trim() !== '' && !l.trim().startsWith('#')).length <= 5, snippet);
  const dir = tempDir('ns-train-');
  const file = rawCsv(dir, 90);
  writeFileSync(join(dir, 'my.csv'), readFileSync(file));
  const r = run(['train', '--method', 'lm', '--data', `csv:${join(dir, 'my.csv')}`, '--label-col', '1', '--n', '60', '--n-test', '20', '--m', '40',
    '--output-scale', '10', '--epsilon', '1e-6', '--engine', 'ts', '--save-model', join(dir, 'model.json')]);
  t.is(r.status, 0, r.stderr);
  const result = JSON.parse(r.stdout);
  const check = `${snippet}
y = raw[:, inp['labelColumn']]
rel = lambda a, b: float(((F[a:b] - y[a:b]) ** 2).sum() / (y[a:b] ** 2).sum())
print(json.dumps([rel(0, 60), rel(60, 80)]))
`;
  const out = spawnSync('python3', ['-c', check], { cwd: dir, encoding: 'utf8' });
  t.is(out.status, 0, out.stderr);
  const [trainRel, testRel] = JSON.parse(out.stdout) as [number, number];
  t.true(Math.abs(trainRel - result.relLoss) <= 1e-6 * result.relLoss, `numpy ${trainRel} vs reported ${result.relLoss}`);
  t.true(Math.abs(testRel - result.testRelLoss) <= 1e-9 * result.testRelLoss, `numpy ${testRel} vs reported ${result.testRelLoss}`);
});

test('--save-model after an mnist run stores the 784-feature transform and the class of each sign', (t) => {
  const dir = tempDir('ns-train-');
  const model = join(dir, 'model.json'), data = join(dir, 'data.csv');
  const r = run(['train', '--method', 'adam', '--data', 'mnist', '--labels', 'digits', '--classes', '3,8', '--n', '60', '--n-test', '10',
    '--m', '4', '--iterations', '5', '--engine', 'ts', '--save-model', model, '--save-data', data]);
  t.is(r.status, 0, r.stderr);
  t.regex(r.stderr, /^narrowsweep: d = 784 \(28 x 28 pixels\) from mnist$/m, 'd from the data source');
  const saved = JSON.parse(readFileSync(model, 'utf8'));
  t.is(saved.d, 784);
  t.deepEqual(saved.labels, { kind: 'classes', '+1': 3, '-1': 8 });
  t.like(saved.input, { source: 'mnist', standardized: true });
  t.deepEqual(saved.input.featureColumns, Array.from({ length: 784 }, (_, k) => k));
  // undoing the transform on the trained rows gives back pixel values: multiples of 1/1000 in [0, 1]
  let worst = 0;
  for (const row of readRows(data)) {
    for (let k = 0; k < 784; k++) {
      const pixel = row[k]! * saved.input.scale[k] + saved.input.mean[k];
      worst = Math.max(worst, Math.abs(pixel * 1000 - Math.round(pixel * 1000)));
      t.true(pixel > -1e-9 && pixel < 1 + 1e-9);
    }
  }
  t.true(worst < 1e-6, `${worst}`);
  t.true(saved.input.scale.some((s: number) => s !== 1) && saved.input.scale.includes(1), 'some columns are constant (scale 1), others not');
});

test('train on a csv file takes n (data rows minus --n-test) and d (columns minus the label) from the file', (t) => {
  const dir = tempDir('ns-train-');
  const file = rawCsv(dir, 90);
  const common = ['train', '--method', 'gd', '--data', `csv:${file}`, '--label-col', '1', '--m', '6', '--iterations', '3', '--engine', 'ts'];
  const all = run([...common, '--n-test', '20']);
  t.is(all.status, 0, all.stderr);
  t.like(JSON.parse(all.stdout).resolved, { n: 70, d: 5 });
  t.regex(all.stderr, new RegExp(`^narrowsweep: d = 5 \\(the columns but the label\\), n = 70 \\(90 data rows - 20 test rows\\) from ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
  t.like(JSON.parse(run([...common]).stdout).resolved, { n: 90, d: 5 });
  t.is(run([...common, '--quiet']).stderr, '', '--quiet: no note');
  // a smaller --n takes the first rows: the standardisation is over those rows only
  const model = join(dir, 'model.json');
  const sub = run([...common, '--n', '30', '--n-test', '10', '--save-model', model]);
  t.is(sub.status, 0, sub.stderr);
  t.like(JSON.parse(sub.stdout).resolved, { n: 30, d: 5 });
  const ages = readFileSync(file, 'utf8').trim().split('\n').slice(1, 31).map((l) => Number(l.split(',')[0]));
  const mean = ages.reduce((a, b) => a + b, 0) / 30;
  t.true(Math.abs(JSON.parse(readFileSync(model, 'utf8')).input.mean[0] - mean) < 1e-12 * mean);
});

test('train on a csv file: a --d that does not match, or sizes the file cannot supply, are one-line errors, exit 2, nothing written', (t) => {
  const dir = tempDir('ns-train-');
  const file = rawCsv(dir, 90);
  const out = tempDir('ns-train-');
  const common = ['train', '--method', 'gd', '--data', `csv:${file}`, '--label-col', '1', '--m', '6', '--iterations', '3', '--save-model', join(out, 'model.json')];
  const cases: Array<[string[], string]> = [
    [['--d', '4'], `narrowsweep: --d: 4, but ${file} has 5 features (6 columns, one of them the label); give --d 5 or leave it out`],
    [['--n-test', '90'], `narrowsweep: --n-test: 90 test rows leave no training rows: ${file} has 90 data rows`],
    [['--n', '80', '--n-test', '20'], `narrowsweep: ${file}: 90 data rows (last at line 91), but n + nTest = 80 + 20 = 100 are needed`],
  ];
  for (const [args, message] of cases) {
    const r = run([...common, ...args]);
    t.is(r.status, 2, args.join(' '));
    t.is(r.stderr, `${message}\n`);
    t.is(r.stdout, '');
  }
  t.deepEqual(readdirSync(out), []);
});
