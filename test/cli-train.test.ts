import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));

function run(args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, NARROWSWEEP_QUIET_ENGINE: '1' } });
}

test('train prints the result; --save-model and --save-data let anyone recompute relLoss independently', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ns-train-'));
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
  const dir = mkdtempSync(join(tmpdir(), 'ns-train-'));
  const data = join(dir, 'data.csv');
  const common = ['--method', 'gd', '--n', '50', '--d', '4', '--m', '6', '--seed', '2', '--iterations', '40', '--engine', 'ts'];
  const a = JSON.parse(execFileSync(process.execPath, [CLI, 'train', ...common, '--save-data', data], { encoding: 'utf8' }));
  const b = JSON.parse(execFileSync(process.execPath, [CLI, 'train', ...common, '--data', `csv:${data}`, '--label-col', '4', '--standardize', 'false'], { encoding: 'utf8' }));
  t.is(b.relLoss, a.relLoss);
  t.is(b.sigmaMinJEnd, a.sigmaMinJEnd);
});

test('bad input: a clear one-line error naming the problem, exit code 2, nothing written', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ns-train-'));
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
  const dir = mkdtempSync(join(tmpdir(), 'ns-train-'));
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
  const dir = mkdtempSync(join(tmpdir(), 'ns-train-'));
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
