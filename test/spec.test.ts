// Spec validation: every error names its field path and what was expected, and nothing is written.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../src/core/errors.js';
import { parseSpec, loadSpec } from '../src/sweep/spec.js';
import { gridSize } from '../src/sweep/grid.js';
import { selectEngine } from '../src/engines/select.js';
import { removeTempDirs, tempDir } from './fixtures/temp.js';

test.after.always(removeTempDirs);

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));

const DEMO = `
name: demo
data: { source: gaussian, labels: gaussian }
grid:
  n: [100, 200]
  d: [10, 20]
  rho: [0.5, 1, 1.5, 2, 3]
  method: [sgd, adam, pgd, lm]
  activation: [tanh]
trials: 5
budget: { iterations: 5000, seconds: 60 }
success: { relLoss: 1.0e-4 }
methods:
  sgd: { lr: 0.05, batch: 32 }
  pgd: { lr: auto, radius: auto, outputScale: 10 }
`;

/** A minimal valid spec with `extra` lines appended (YAML). */
function spec(grid: string, extra = ''): string {
  return `name: t\ngrid: { ${grid} }\n${extra}`;
}
const BASE = 'n: [100], d: [10], m: [4], method: [sgd]';

function rejects(t: import('ava').ExecutionContext, text: string, message: string | RegExp, file = 'bad.yaml'): void {
  const e = t.throws(() => parseSpec(text, file), { instanceOf: ConfigError });
  if (typeof message === 'string') t.is(e?.message, message);
  else t.regex(e?.message ?? '', message);
}

test('the issue example parses and has 2 x 2 x 5 x 4 cells x 5 trials', (t) => {
  const s = parseSpec(DEMO, 'demo.yaml');
  t.is(s.name, 'demo');
  t.is(s.width, 'rho');
  t.deepEqual(s.seeds, [0, 1, 2, 3, 4]);
  t.is(s.epsilon, 1e-4);
  t.deepEqual(s.budget, { iterations: 5000, seconds: 60 });
  t.is(gridSize(s), 400);
});

test('the same spec as JSON gives the same grid', (t) => {
  const json = JSON.stringify({
    name: 'demo', data: { source: 'gaussian', labels: 'gaussian' },
    grid: { n: [100, 200], d: [10, 20], rho: [0.5, 1, 1.5, 2, 3], method: ['sgd', 'adam', 'pgd', 'lm'], activation: ['tanh'] },
    trials: 5, budget: { iterations: 5000, seconds: 60 }, success: { relLoss: 0.0001 },
    methods: { sgd: { lr: 0.05, batch: 32 }, pgd: { lr: 'auto', radius: 'auto', outputScale: 10 } },
  });
  const a = parseSpec(DEMO, 'demo.yaml');
  const b = parseSpec(json, 'demo.json');
  t.deepEqual({ ...b, file: '' }, { ...a, file: '' });
});

test('a wrong axis value names its position and what was expected', (t) => {
  rejects(t, spec('n: [100], d: [10], rho: [0.5, 1, two], method: [sgd]'), 'grid.rho[2]: expected a positive number, got "two"');
  rejects(t, spec('n: [100, -5], d: [10], m: [4], method: [sgd]'), 'grid.n[1]: expected a positive integer, got -5');
  rejects(t, spec('n: [100], d: [10], m: [4], method: [sgd, sgdd]'), 'grid.method[1]: expected one of gd, sgd, adam, pgd, mirror-gd, lecun-pgd, lm, got "sgdd"; did you mean sgd?');
  rejects(t, spec('n: [100], d: [10], m: [4], method: [sgd, bogus]'), 'grid.method[1]: expected one of gd, sgd, adam, pgd, mirror-gd, lecun-pgd, lm, got "bogus"');
  rejects(t, spec('n: [100], d: [10], m: [4], method: [sgd], lr: []'), 'grid.lr: expected a non-empty list of values, got []');
  rejects(t, spec('n: [100], d: [10], m: [4], method: [sgd], lr: 0.1'), 'grid.lr: expected a non-empty list of values, got 0.1');
});

test('unknown keys are rejected with the allowed ones listed, and the nearest one suggested', (t) => {
  rejects(t, `${spec(BASE)}runtimeout: 3\n`, /^runtimeout: unknown field \(allowed: name, description, data, grid, zip, trials, seeds, budget, success, defaults, methods, runTimeout\); did you mean runTimeout\?$/);
  rejects(t, `${spec(BASE)}bogus: 3\n`, /^bogus: unknown field \(allowed: name, .*, runTimeout\)$/);
  rejects(t, spec(`${BASE}, lrr: [1]`), /^grid\.lrr: unknown axis \(allowed: method, n, d, m, activation, .*, rho, or <method>\.<setting> such as pgd\.radius\); did you mean lr\?$/);
  rejects(t, spec(`${BASE}, seed: [1]`), /^grid\.seed: unknown axis \(use trials or seeds\)/);
  rejects(t, spec(BASE, 'methods: { sgd: { lrr: 0.1 } }'), /^methods\.sgd\.lrr: unknown field \(allowed: activation, init, optimizer, .*lr, .*\); did you mean lr\?$/);
  rejects(t, spec(BASE, 'methods: { sgdd: { lr: 0.1 } }'), 'methods.sgdd: unknown field (allowed: gd, sgd, adam, pgd, mirror-gd, lecun-pgd, lm); did you mean sgd?');
  rejects(t, spec(BASE, 'budget: { iterations: 10, secs: 5 }'), 'budget.secs: unknown field (allowed: iterations, seconds); did you mean seconds?');
  rejects(t, spec(BASE, 'success: { relloss: 0.1 }'), 'success.relloss: unknown field (allowed: relLoss); did you mean relLoss?');
  rejects(t, spec(BASE, 'data: { source: gaussian, label: sign }'), /^data\.label: unknown field \(allowed: source, labels, teacherWidth, nTest\); did you mean labels\?$/);
  rejects(t, spec(`${BASE}, pgd.radiu: [1]`), /^grid\.pgd\.radiu: unknown per-method axis \(allowed after "pgd\.": activation, .*\); did you mean pgd\.radius\?$/);
  rejects(t, spec(`${BASE}, pdg.radius: [1]`), /^grid\.pdg\.radius: unknown axis \(allowed: .*\); did you mean pgd\.radius\?$/);
  rejects(t, spec(BASE, 'trails: 3'), /^trails: unknown field \(allowed: .*\); did you mean trials\?$/);
  rejects(t, spec(BASE, 'defaults: { learningRate: 0.1 }'), /^defaults\.learningRate: unknown field \(allowed: [^)]*\)$/);
  rejects(t, spec(BASE, 'defaults: { activation: tahn }'), /^defaults\.activation: expected one of tanh, .*, got "tahn"; did you mean tanh\? \(in the configuration /);
  rejects(t, spec('m: [4], method: [sgd]', 'zip: [{ n: 100, dd: 10 }]'), /^zip\[0\]\.dd: unknown axis \(allowed: .*\); did you mean d\?$/);
  rejects(t, spec(BASE, 'defaults: { n: 5 }'), 'defaults.n: n can only be a grid axis (e.g. grid.n: [...])');
});

test('duplicate axis values are rejected, numbers compared as values', (t) => {
  rejects(t, spec('n: [100, 200, 100], d: [10], m: [4], method: [sgd]'), 'grid.n[2]: duplicate value 100 (same as grid.n[0])');
  rejects(t, spec('n: [100], d: [10], m: [4], method: [sgd], epsilon: [0.0001, 1.0e-4]'), 'grid.epsilon[1]: duplicate value 0.0001 (same as grid.epsilon[0])');
  rejects(t, spec('n: [100], d: [10], m: [4], method: [sgd, sgd]'), 'grid.method[1]: duplicate value "sgd" (same as grid.method[0])');
  rejects(t, spec('m: [4], method: [sgd]', 'zip: [{ n: 100, d: 10 }, { n: 200, d: 20 }, { n: 100, d: 10 }]'), 'zip[2]: duplicate tuple {"n":100,"d":10} (same as zip[0])');
  rejects(t, spec(BASE, 'seeds: [1, 2, 1]'), 'seeds[2]: duplicate seed 1 (same as seeds[0])');
});

test('the width: exactly one of m and rho, m >= 1', (t) => {
  rejects(t, spec('n: [100], d: [10], m: [4], rho: [1], method: [sgd]'), 'grid.rho: give exactly one of m and rho (m is also given at grid.m)');
  rejects(t, spec('n: [100], d: [10], method: [sgd]'), 'grid.rho: required: give the width as exactly one of grid.rho (m = ceil(rho n / d)) or grid.m');
  rejects(t, spec('n: [100], d: [10], m: [4, 0], method: [sgd]'), 'grid.m[1]: expected a positive integer, got 0');
  rejects(t, spec('n: [100], d: [10], m: [2.5], method: [sgd]'), 'grid.m[0]: expected a positive integer, got 2.5');
  rejects(t, spec('n: [100], d: [10], rho: [1.0e-12], method: [sgd]'), /^grid\.rho\[0\]: gives m = ceil\(rho n \/ d\) = 0, below 1 \(in the configuration n=100, d=10, rho=1e-12, m=0, method=sgd\)$/);
  rejects(t, spec('d: [10], m: [4], method: [sgd]'), 'grid.n: required: give n as a grid axis (a list, e.g. n: [100]) or in zip');
  rejects(t, spec('n: [10], d: [10], m: [4]'), 'grid.method: required: give method as a grid axis (a list, e.g. method: [sgd]) or in zip');
});

test('a mirrored method at an odd width given directly is rejected, naming the cell', (t) => {
  rejects(t, spec('n: [100], d: [10], m: [4, 3], method: [sgd, pgd]'),
    "grid.m[1]: m = 3 is odd, but init mirrored needs an even width (W0 = [W', W']); choose an even m (in the configuration n=100, d=10, m=3, method=pgd)");
  // an explicit init: mirrored makes sgd mirrored too
  rejects(t, spec('n: [100], d: [10], m: [5], method: [sgd]', 'methods: { sgd: { init: mirrored } }'), /^grid\.m\[0\]: m = 5 is odd, but init mirrored/);
  // the same odd width is fine for a LeCun-initialised method
  t.notThrows(() => parseSpec(spec('n: [100], d: [10], m: [3], method: [sgd, adam]'), 'ok.yaml'));
});

test('n + nTest beyond what the data source holds is rejected', (t) => {
  const dir = tempDir('narrowsweep-spec-');
  const csv = join(dir, 'small.csv');
  writeFileSync(csv, `x1,x2,y\n${Array.from({ length: 10 }, (_, i) => `${i},${i * 2},${i % 2}`).join('\n')}\n`);
  const data = `data: { source: csv, path: ${JSON.stringify(csv)}, labelCol: 2, nTest: 3 }`;
  t.notThrows(() => parseSpec(spec('n: [5, 7], d: [2], m: [2], method: [sgd]', data), 'ok.yaml'));
  rejects(t, spec('n: [5, 8], d: [2], m: [2], method: [sgd]', data),
    'grid.n[1]: n = 8 plus nTest = 3 is more than the data source csv holds (10 samples) (in the configuration n=8, d=2, m=2, method=sgd)');
  rejects(t, spec('n: [5], d: [3], m: [2], method: [sgd]', data), /^grid\.d\[0\]: d = 3, but the data source csv has 2 features/);
});

test('every expanded configuration is resolved; errors name the source and the grid position', (t) => {
  rejects(t, spec('n: [100, 20], d: [10], m: [4], method: [sgd]', 'methods: { sgd: { batch: 50 } }'),
    'methods.sgd.batch: batch = 50 is larger than n = 20 (in the configuration n=20, d=10, m=4, method=sgd)');
  rejects(t, spec(BASE, 'methods: { sgd: { lr: fast } }'), 'methods.sgd.lr: expected a positive number, got "fast" (in the configuration n=100, d=10, m=4, method=sgd)');
  rejects(t, spec(BASE, 'defaults: { momentum: 1.5 }'), 'defaults.momentum: expected a number in [0, 1), got 1.5 (in the configuration n=100, d=10, m=4, method=sgd)');
  rejects(t, spec(`${BASE}, lr: [0.1, -1]`), 'grid.lr[1]: expected a positive number, got -1 (in the configuration n=100, d=10, m=4, method=sgd, lr=-1)');
  rejects(t, spec('n: [100], d: [10], m: [4], method: [sgd, pgd], pgd.radius: [1, { relative: -1 }]'),
    'grid.pgd.radius[1].relative: expected a positive number, got -1 (in the configuration n=100, d=10, m=4, method=pgd, pgd.radius={"relative":-1})');
  rejects(t, spec('m: [4], method: [lm]', 'zip: { n: [100, 200], d: [10, 20] }\ndefaults: { batch: 10 }'),
    'defaults.batch: lm is a full-batch method; remove batch (in the configuration m=4, method=lm, n=100, d=10)');
  rejects(t, spec(BASE, 'budget: { iterations: 1.5 }'), 'budget.iterations: expected a non-negative integer, got 1.5');
  rejects(t, spec(BASE, 'success: { relLoss: -1 }'), 'success.relLoss: expected a non-negative number, got -1');
});

test('zip: both forms, equal lengths, and an axis given once', (t) => {
  const a = parseSpec(spec('m: [4], method: [sgd]', 'zip: [{ n: 100, d: 10 }, { n: 200, d: 20 }]'), 'a.yaml');
  const b = parseSpec(spec('m: [4], method: [sgd]', 'zip: { n: [100, 200], d: [10, 20] }'), 'b.yaml');
  t.is(gridSize(a), 2);
  t.is(gridSize(b), 2);
  rejects(t, spec('m: [4], method: [sgd]', 'zip: { n: [100, 200], d: [10] }'), 'zip.d: zipped lists must have the same length: 1 values here, 2 in zip.n');
  rejects(t, spec('m: [4], method: [sgd]', 'zip: [{ n: 100, d: 10 }, { n: 200 }]'), 'zip[1]: every tuple must have the same keys as zip[0] (n, d); missing d');
  rejects(t, spec('n: [100], m: [4], method: [sgd]', 'zip: [{ n: 100, d: 10 }]'), 'zip[0].n: axis n is given twice (also at grid.n)');
  rejects(t, spec('m: [4], method: [sgd]', 'zip: [{ n: 100, d: 10, pgd.radius: 1 }]'), 'zip[0].pgd.radius: per-method axes (<method>.<setting>) can only be grid axes, not zipped');
});

test('ambiguous settings are rejected', (t) => {
  rejects(t, spec(`${BASE}, lr: [0.1, 0.2]`, 'methods: { sgd: { lr: 0.3 } }'),
    'methods.sgd.lr: lr is also an axis (grid.lr), which would override it; remove one (to sweep it for one method use grid.sgd.lr)');
  rejects(t, spec(BASE, 'defaults: { iterations: 5 }\nbudget: { iterations: 10 }'), 'budget.iterations: also given as defaults.iterations; give it once');
  rejects(t, spec(BASE, 'trials: 2\nseeds: [1, 2]'), 'seeds: give either trials or seeds, not both');
  rejects(t, spec(`${BASE}, pgd.radius: [1, 2]`), 'grid.pgd.radius: method pgd is not among the methods of this sweep (sgd)');
  rejects(t, spec('n: [100], d: [10], m: [4], method: [pgd], radius: [1], pgd.radius: [2]'),
    'grid.pgd.radius: radius is already an axis for every method (grid.radius); use one or the other');
});

test('two cells that resolve to the same configuration are rejected (their ids would collide)', (t) => {
  // n/d = 2: rho 0.5 and 1 give m = 1 -> 2 (even) and m = 2 for pgd
  rejects(t, spec('n: [100], d: [50], rho: [0.5, 1], method: [pgd]'),
    /^grid\.rho\[1\]: the cells \{n=100, d=50, rho=0\.5, m=2, method=pgd\} and \{n=100, d=50, rho=1, m=2, method=pgd\} are the same configuration/);
  // sgd's default batch is min(32, n): writing it explicitly is the same run
  rejects(t, spec(`${BASE}, batch: [null, 32]`), /^grid\.batch\[1\]: the cells \{.*batch=null\} and \{.*batch=32\} are the same configuration/);
  // ... but the same rho values are fine for a LeCun method, where m is not rounded to even
  t.notThrows(() => parseSpec(spec('n: [100], d: [50], rho: [0.5, 1], method: [sgd]'), 'ok.yaml'));
});

test('the file is data only: syntax errors, duplicate keys, unknown tags and non-plain values are errors', (t) => {
  rejects(t, 'name: t\nname: u\n', /^bad\.yaml: not valid YAML: Map keys must be unique/);
  rejects(t, 'name: t\ngrid: {n: [100\n', /^bad\.yaml: not valid YAML: /);
  rejects(t, `name: !!js/function "function () { process.exit(7) }"\ngrid: { ${BASE} }\n`, /^bad\.yaml: not valid YAML: Unresolved tag: tag:yaml\.org,2002:js\/function/);
  rejects(t, spec(BASE, 'defaults: { lr: .inf }'), 'defaults.lr: expected a finite number, got Infinity');
  rejects(t, spec(BASE, 'defaults: { lr: !!binary aGVsbG8= }'), 'defaults.lr: expected plain data (text, numbers, true/false, null, lists, mappings), got a Uint8Array');
  rejects(t, '{"name": "t", "grid": ', /^bad\.json: not valid JSON: /, 'bad.json');
  rejects(t, '{"name": "t", "name": "u"}', /^bad\.json: not valid JSON: Map keys must be unique/, 'bad.json');
  rejects(t, spec(BASE), 'bad.toml: expected a .yaml, .yml or .json spec file', 'bad.toml');
  rejects(t, '- 1\n- 2\n', 'bad.yaml: expected a mapping at the top level (name, data, grid, ...), got [1,2]');
  rejects(t, spec(BASE).replace('name: t', 'name: ../up'), 'name: expected a folder-safe name (letters, digits, ., _, -; no leading dot), got "../up"');
  const e = t.throws(() => loadSpec('/nonexistent/spec.yaml'), { instanceOf: ConfigError });
  t.is(e?.message, '/nonexistent/spec.yaml: cannot read the spec file (ENOENT)');
});

function cli(cwd: string, ...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8' });
}

test('narrowsweep plan on a bad spec: exit 2, the message on stderr, nothing written', (t) => {
  const cwd = tempDir('narrowsweep-plan-');
  writeFileSync(join(cwd, 'bad.yaml'), spec('n: [100], d: [10], rho: [0.5, 1, two], method: [sgd]'));
  const r = cli(cwd, 'plan', 'bad.yaml');
  t.is(r.status, 2);
  t.is(r.stderr.trim(), 'narrowsweep: grid.rho[2]: expected a positive number, got "two"');
  t.is(r.stdout, '');
  t.deepEqual(readdirSync(cwd), ['bad.yaml']);
});

test('narrowsweep run on a bad spec: exit 2 and no results folder', (t) => {
  const cwd = tempDir('narrowsweep-plan-');
  writeFileSync(join(cwd, 'bad.yaml'), spec('n: [100], d: [10], m: [3], method: [pgd]'));
  const r = cli(cwd, 'run', 'bad.yaml', '--quiet');
  t.is(r.status, 2);
  t.regex(r.stderr, /grid\.m\[0\]: m = 3 is odd, but init mirrored needs an even width/);
  t.deepEqual(readdirSync(cwd), ['bad.yaml']);
});

test('narrowsweep plan on a good spec prints the size and writes nothing', (t) => {
  const cwd = tempDir('narrowsweep-plan-');
  writeFileSync(join(cwd, 'demo.yaml'), DEMO);
  const r = cli(cwd, 'plan', 'demo.yaml');
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, /configurations: 400 \(80 cells x 5 seeds\)/);
  t.regex(r.stdout, /  rho: 5 values \(0\.5, 1, 1\.5, 2, 3\)/);
  t.regex(r.stdout, /per method: adam 100, lm 100, pgd 100, sgd 100/);
  t.regex(r.stdout, /estimated CPU time: about .* a model, not a measurement/s);
  t.deepEqual(readdirSync(cwd), ['demo.yaml']);
});

test('narrowsweep plan times the engine the runs will use and samples distinct cells of the first trial', async (t) => {
  const cwd = tempDir('narrowsweep-plan-');
  writeFileSync(join(cwd, 'demo.yaml'), DEMO);
  // 80 cells x 5 seeds: 5 samples evenly spaced over all 400 runs would be one cell at 5 seeds.
  const r = cli(cwd, 'plan', 'demo.yaml', '--samples', '5');
  t.is(r.status, 0, r.stderr);
  const auto = await selectEngine('auto', 'float64', { quiet: true });
  t.regex(r.stdout, new RegExp(`estimated CPU time: about .* with the ${auto.name} engine the runs use`));
  t.regex(r.stdout, new RegExp(`on engine auto -> ${auto.name} \\(`));
  const samples = [...r.stdout.matchAll(/^ {2}#(\d+) id \w+ trial (\d+): (.*)$/gm)];
  t.is(samples.length, 5);
  t.deepEqual(samples.map((m) => m[2]), ['0', '0', '0', '0', '0']);
  t.is(new Set(samples.map((m) => m[3])).size, 5, 'five different cells');
  t.deepEqual(samples.map((m) => Number(m[1])), [0, 16, 32, 48, 64]);
  // An engine asked for by the spec is the one timed.
  writeFileSync(join(cwd, 'ts.yaml'), `${DEMO}defaults: { engine: ts }\n`);
  const ts = cli(cwd, 'plan', 'ts.yaml', '--samples', '0');
  t.is(ts.status, 0, ts.stderr);
  t.regex(ts.stdout, /with the ts engine the runs use/);
  t.regex(ts.stdout, /on engine ts \(typescript reference/);
  t.deepEqual(readdirSync(cwd).sort(), ['demo.yaml', 'ts.yaml']);
});

/** The allowed names an unknown-field error lists: the test cases below must cover each. */
function allowedNames(text: string): string[] {
  const e = messageOf(() => parseSpec(text, 'x.yaml'));
  const m = /\(allowed: ([^)]*)\)/.exec(e);
  if (!m) throw new Error(`no allowed list in: ${e}`);
  return m[1]!.split(', ');
}
function messageOf(f: () => unknown): string {
  try { f(); } catch (e) { return (e as Error).message; }
  throw new Error('expected an error');
}

test('runTimeout: -5, "abc", 0 and a list are rejected; a positive number is kept', (t) => {
  for (const [value, shown] of [['-5', '-5'], ['abc', '"abc"'], ['0', '0'], ['[5]', '[5]'], ['"10"', '"10"']]) {
    rejects(t, spec(BASE, `runTimeout: ${value}`), `runTimeout: expected a positive number, got ${shown}`);
  }
  t.is(parseSpec(spec(BASE, 'runTimeout: 0.5'), 'ok.yaml').runTimeout, 0.5);
  t.is(parseSpec(spec(BASE), 'ok.yaml').runTimeout, null);
});

test('every top-level spec field rejects a bad value, naming the field', (t) => {
  const cases: Record<string, [string, string | RegExp]> = {
    name: [`name: 5\ngrid: { ${BASE} }`, 'name: expected a folder-safe name (letters, digits, ., _, -; no leading dot), got 5'],
    description: [spec(BASE, 'description: [1]'), 'description: expected text, got [1]'],
    data: [spec(BASE, 'data: 7'), 'data: expected an object such as { source: gaussian, labels: gaussian }, got 7'],
    grid: ['name: t\ngrid: [1]\n', 'grid: expected a mapping of axis names to lists, got [1]'],
    zip: [spec('m: [4], method: [sgd]', 'zip: 5'), /^zip: expected a list of tuples such as .* got 5$/],
    trials: [spec(BASE, 'trials: 0'), 'trials: expected a positive integer, got 0'],
    seeds: [spec(BASE, 'seeds: [-1]'), 'seeds[0]: expected a non-negative integer, got -1'],
    budget: [spec(BASE, 'budget: 5'), 'budget: expected { iterations, seconds }, got 5'],
    success: [spec(BASE, 'success: 1'), 'success: expected { relLoss: <epsilon> }, got 1'],
    defaults: [spec(BASE, 'defaults: 3'), 'defaults: expected a mapping of settings such as { lr: 0.05 }, got 3'],
    methods: [spec(BASE, 'methods: [sgd]'), 'methods: expected a mapping of method names to settings, got ["sgd"]'],
    runTimeout: [spec(BASE, 'runTimeout: -5'), 'runTimeout: expected a positive number, got -5'],
  };
  t.deepEqual(Object.keys(cases).sort(), allowedNames(spec(BASE, 'bogus: 1')).sort(), 'a top-level field without a bad-value case');
  for (const [field, [text, message]] of Object.entries(cases)) {
    const e = t.throws(() => parseSpec(text, 'bad.yaml'), { instanceOf: ConfigError }, field);
    if (typeof message === 'string') t.is(e?.message, message, field); else t.regex(e?.message ?? '', message, field);
  }
  rejects(t, spec(BASE, 'budget: { seconds: 0 }'), 'budget.seconds: expected a positive number, got 0');
  rejects(t, spec(BASE, 'budget: { iterations: -1 }'), 'budget.iterations: expected a non-negative integer, got -1');
  rejects(t, spec(BASE, 'success: { relLoss: abc }'), 'success.relLoss: expected a non-negative number, got "abc"');
  rejects(t, spec(BASE, 'methods: { sgd: 5 }'), 'methods.sgd: expected a mapping of settings such as { lr: 0.05 }, got 5');
});

test('every setting (defaults and methods.<method>) rejects a bad value, naming the field', (t) => {
  const cases: Record<string, [string, RegExp]> = {
    activation: ['elu', /expected one of tanh, sigmoid, softplus, swish, gelu, sin, relu, got "elu"/],
    init: ['xavier', /expected one of lecun, mirrored, got "xavier"/],
    optimizer: ['rmsprop', /expected one of gd, sgd, adam, lm, got "rmsprop"/],
    constraint: ['box', /expected one of none, ball, got "box"/],
    trainOutput: ['yes', /expected true or false, got "yes"/],
    projection: ['local', /expected one of global, per-neuron, got "local"/],
    radius: ['big', /expected a positive number, auto, or \{ relative: c \}, got "big"/],
    kappa: ['0', /expected a positive number, got 0/],
    lr: ['-1', /expected a positive number, got -1/],
    lrScale: ['0', /expected a positive number, got 0/],
    batch: ['0', /expected a positive integer, got 0/],
    momentum: ['1', /expected a number in \[0, 1\), got 1/],
    beta1: ['-0.1', /expected a number in \[0, 1\), got -0\.1/],
    beta2: ['1', /expected a number in \[0, 1\), got 1/],
    adamEps: ['0', /expected a positive number, got 0/],
    lmDamping: ['-1', /expected a positive number, got -1/],
    lmFactor: ['1', /expected a number > 1, got 1/],
    outputScale: ['0', /expected a positive number, got 0/],
    iterations: ['-1', /expected a non-negative integer, got -1/],
    seconds: ['0', /expected a positive number, got 0/],
    epsilon: ['-1', /expected a non-negative number, got -1/],
    logEvery: ['1.5', /expected a non-negative integer, got 1\.5/],
    certificateMaxN: ['-1', /expected a non-negative integer, got -1/],
    dtype: ['float16', /expected one of float64, float32, got "float16"/],
    engine: ['gpu', /expected one of auto, ts, wasm, native, tfjs, got "gpu"/],
  };
  t.deepEqual(Object.keys(cases).sort(), allowedNames(spec(BASE, 'defaults: { bogus: 1 }')).sort(), 'a setting without a bad-value case');
  for (const [key, [value, re]] of Object.entries(cases)) {
    for (const where of ['defaults', 'methods.sgd']) {
      const block = where === 'defaults' ? `defaults: { ${key}: ${value} }` : `methods: { sgd: { ${key}: ${value} } }`;
      const e = t.throws(() => parseSpec(spec(BASE, block), 'bad.yaml'), { instanceOf: ConfigError }, `${where}.${key}`);
      t.true((e?.message ?? '').startsWith(`${where}.${key}: `), e?.message);
      t.regex(e?.message ?? '', re, `${where}.${key}`);
    }
  }
});

test('every data field, for each source, rejects a bad value, naming the field', (t) => {
  const dir = tempDir('narrowsweep-spec-');
  const csv = join(dir, 'ok.csv');
  writeFileSync(csv, 'a,b,y\n1,2,3\n4,5,6\n');
  const bad: Record<string, Record<string, [string, RegExp]>> = {
    gaussian: {
      source: ['parquet', /^data\.source: expected one of gaussian, sphere, mnist, csv, got "parquet"/],
      labels: ['fuzzy', /^data\.labels: expected one of gaussian, sign, teacher, got "fuzzy"/],
      teacherWidth: ['0', /^data\.teacherWidth: expected a positive integer, got 0/],
      nTest: ['-1', /^data\.nTest: expected a non-negative integer, got -1/],
    },
    mnist: {
      source: ['parquet', /^data\.source: expected one of/],
      labels: ['gaussian', /^data\.labels: expected one of digits, parity, random, got "gaussian"/],
      classes: ['[3, 3]', /^data\.classes: expected two different digits such as \[3, 8\], got \[3,3\]/],
      nTest: ['1.5', /^data\.nTest: expected a non-negative integer, got 1\.5/],
      standardize: ['yes', /^data\.standardize: expected true or false, got "yes"/],
    },
    csv: {
      source: ['parquet', /^data\.source: expected one of/],
      path: ['""', /^data\.path: expected a file path, got ""/],
      labelCol: ['-1', /^data\.labelCol: expected a non-negative integer, got -1/],
      header: ['maybe', /^data\.header: expected auto, true or false, got "maybe"/],
      nTest: ['-2', /^data\.nTest: expected a non-negative integer, got -2/],
      standardize: ['1', /^data\.standardize: expected true or false, got 1/],
    },
  };
  const good: Record<string, Record<string, string>> = {
    gaussian: { source: 'gaussian', labels: 'teacher' },
    mnist: { source: 'mnist', labels: 'digits' },
    csv: { source: 'csv', path: JSON.stringify(csv) },
  };
  for (const [source, fields] of Object.entries(bad)) {
    const base = good[source]!;
    const known = allowedNames(spec(BASE, `data: { ${Object.entries({ ...base, bogus: '1' }).map(([k, v]) => `${k}: ${v}`).join(', ')} }`));
    t.deepEqual(Object.keys(fields).sort(), [...known].sort(), `${source}: a data field without a bad-value case`);
    for (const [key, [value, re]] of Object.entries(fields)) {
      const data = Object.entries({ ...base, [key]: value }).map(([k, v]) => `${k}: ${v}`).join(', ');
      const e = t.throws(() => parseSpec(spec(BASE, `data: { ${data} }`), 'bad.yaml'), { instanceOf: ConfigError }, `${source} ${key}`);
      t.regex(e?.message ?? '', re, `${source} ${key}`);
    }
  }
});

test('narrowsweep plan with a bad runTimeout: one line, exit 2, nothing written', (t) => {
  const cwd = tempDir('narrowsweep-plan-');
  writeFileSync(join(cwd, 'bad.yaml'), spec(BASE, 'runTimeout: abc'));
  const r = cli(cwd, 'plan', 'bad.yaml');
  t.is(r.status, 2);
  t.is(r.stderr, 'narrowsweep: runTimeout: expected a positive number, got "abc"\n');
  t.is(r.stdout, '');
  t.deepEqual(readdirSync(cwd), ['bad.yaml']);
});
