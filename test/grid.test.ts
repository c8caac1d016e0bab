// Grid expansion: counts, the derived width, zipped and per-method axes, trial-major order, stable ids.
import test from 'ava';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { RUN_CONFIG_KEYS, resolveConfig } from '../src/core/config.js';
import { CORE_SEMANTICS_VERSION } from '../src/core/version.js';
import type { RunConfig } from '../src/core/types.js';
import { parseSpec } from '../src/sweep/spec.js';
import { canonicalJson, cellCount, configId, gridSize, iterateGrid, widthFromRho } from '../src/sweep/grid.js';
import type { GridEntry } from '../src/sweep/types.js';
import { GridIndex, readSpecSnapshot, SnapshotError, SPEC_FILE, writeSpecSnapshot } from '../src/sweep/snapshot.js';
import { IdTable } from '../src/sweep/journal.js';
import { removeTempDirs, tempDir } from './fixtures/temp.js';

test.after.always(removeTempDirs);

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

const all = (text: string): GridEntry[] => [...iterateGrid(parseSpec(text, 'spec.yaml'))];

test('counts: the issue example expands to 2 x 2 x 5 x 4 x 1 cells x 5 trials = 400 distinct runs', (t) => {
  const s = parseSpec(DEMO, 'demo.yaml');
  t.is(cellCount(s), 80);
  t.is(gridSize(s), 400);
  const entries = [...iterateGrid(s)];
  t.is(entries.length, 400);
  t.is(new Set(entries.map((e) => e.id)).size, 400);
  t.deepEqual(entries.map((e) => e.index), [...entries.keys()]);
  const perMethod: Record<string, number> = {};
  for (const e of entries) perMethod[e.config.method] = (perMethod[e.config.method] ?? 0) + 1;
  t.deepEqual(perMethod, { sgd: 100, adam: 100, pgd: 100, lm: 100 });
  // settings: spec defaults, then the method's own
  const sgd = entries.find((e) => e.config.method === 'sgd')!.config;
  t.like(sgd, { lr: 0.05, batch: 32, iterations: 5000, seconds: 60, epsilon: 1e-4, activation: 'tanh' });
  const pgd = entries.find((e) => e.config.method === 'pgd')!.config;
  t.like(pgd, { lr: 'auto', radius: 'auto', outputScale: 10 });
  t.is(entries.find((e) => e.config.method === 'adam')!.config.outputScale, undefined);
});

/** Independent oracle for the derived width: exact integer arithmetic on rho given in hundredths. */
function expectedM(rho: number, n: number, d: number, mirrored: boolean): number {
  const r100 = Math.round(rho * 100);
  let m = Math.floor((r100 * n + 100 * d - 1) / (100 * d)); // ceil(r100 n / (100 d)) for integers
  if (mirrored && m % 2 === 1) m++;
  return m;
}

test('derived m = ceil(rho n / d), rounded up to even exactly for mirrored inits', (t) => {
  t.is(widthFromRho(1.5, 200, 10, false), 30); // 1.5 * 200 / 10 in floating point is exactly 30
  t.is(widthFromRho(0.3, 100, 10, false), 3); // 0.3 * 100 / 10 = 3.0000000000000004 in floating point
  t.is(widthFromRho(0.3, 100, 10, true), 4);
  t.is(widthFromRho(0.7, 100, 10, false), 7); // 0.7 * 100 / 10 = 7.000000000000001
  t.is(widthFromRho(0.45, 100, 10, false), 5);
  t.is(widthFromRho(0.45, 100, 10, true), 6);
  t.is(widthFromRho(0.55, 100, 10, true), 6);
  const entries = all(`
name: w
grid:
  n: [150, 200, 333]
  d: [7, 10]
  rho: [0.3, 0.45, 0.7, 1, 1.5, 2, 2.9]
  method: [sgd, pgd, lm, lecun-pgd, mirror-gd]
`);
  const mirrored = new Set(['pgd', 'lm', 'mirror-gd']);
  let checked = 0;
  for (const e of entries) {
    const { n, d, m, method } = e.config;
    t.is(m, expectedM(e.cell.rho as number, n, d, mirrored.has(method)), `${method} n=${n} d=${d} rho=${e.cell.rho}`);
    t.is(e.cell.m, m);
    checked++;
  }
  t.is(checked, 3 * 2 * 7 * 5);
});

test('an explicit init decides the even rounding, not the method name', (t) => {
  const entries = all(`
name: w
grid: { n: [100], d: [10], rho: [0.45], method: [sgd, pgd], init: [lecun, mirrored] }
`);
  const m = Object.fromEntries(entries.map((e) => [`${e.config.method}/${e.config.init}`, e.config.m]));
  t.deepEqual(m, { 'sgd/lecun': 5, 'sgd/mirrored': 6, 'pgd/lecun': 5, 'pgd/mirrored': 6 });
});

test('the cell holds rho and the derived m, or m alone when the spec gives m', (t) => {
  const [a] = all('name: a\ngrid: { n: [200], d: [10], rho: [1.5], method: [pgd] }\n');
  t.deepEqual(a!.cell, { n: 200, d: 10, rho: 1.5, m: 30, method: 'pgd' });
  const [b] = all('name: b\ngrid: { n: [200], d: [10], m: [30], method: [pgd] }\n');
  t.deepEqual(b!.cell, { n: 200, d: 10, m: 30, method: 'pgd' });
  t.is(a!.id, b!.id); // the same run, whichever way its width was written
});

test('zipped axes pair their values instead of multiplying', (t) => {
  const pairs = (es: GridEntry[]) => [...new Set(es.map((e) => `${e.config.n}/${e.config.d}`))].sort();
  const a = all('name: z\ngrid: { rho: [1, 2], method: [sgd] }\nzip: [{ n: 100, d: 10 }, { n: 200, d: 20 }]\n');
  t.is(a.length, 4);
  t.deepEqual(pairs(a), ['100/10', '200/20']);
  const b = all('name: z\ngrid: { rho: [1, 2], method: [sgd] }\nzip: { n: [100, 200], d: [10, 20] }\n');
  t.deepEqual(b.map((e) => e.id), a.map((e) => e.id));
  // two independent groups: (n, d) pairs x (method, lr) pairs x rho
  const c = all(`
name: z
grid: { rho: [1, 2] }
zip:
  - [{ n: 100, d: 10 }, { n: 200, d: 20 }]
  - { method: [sgd, adam], lr: [0.05, 0.01] }
trials: 2
`);
  t.is(c.length, 2 * 2 * 2 * 2);
  t.deepEqual([...new Set(c.map((e) => `${e.config.method}/${e.config.lr}`))].sort(), ['adam/0.01', 'sgd/0.05']);
  t.deepEqual(pairs(c), ['100/10', '200/20']);
});

test('per-method axes expand only their method', (t) => {
  const s = parseSpec(`
name: p
grid:
  n: [100, 200]
  d: [10]
  rho: [2]
  method: [sgd, pgd, lm]
  pgd.outputScale: [1, 10, 100]
  pgd.radius: [auto, { relative: 0.5 }]
  lm.lmDamping: [0.001, 0.1]
trials: 3
`, 'p.yaml');
  // per (n): sgd 1 + pgd 3 x 2 + lm 2 = 9 cells
  t.is(cellCount(s), 18);
  t.is(gridSize(s), 54);
  const entries = [...iterateGrid(s)];
  t.is(entries.length, 54);
  t.is(new Set(entries.map((e) => e.id)).size, 54);
  for (const e of entries) {
    const keys = Object.keys(e.cell);
    if (e.config.method === 'pgd') {
      t.deepEqual(keys, ['n', 'd', 'rho', 'm', 'method', 'pgd.outputScale', 'pgd.radius']);
      t.is(e.config.outputScale, e.cell['pgd.outputScale'] as number);
      const r = e.config.radius;
      t.is(e.cell['pgd.radius'], typeof r === 'object' ? canonicalJson(r) : r); // objects as canonical JSON text
    } else if (e.config.method === 'lm') {
      t.deepEqual(keys, ['n', 'd', 'rho', 'm', 'method', 'lm.lmDamping']);
      t.is(e.config.outputScale, undefined);
    } else {
      t.deepEqual(keys, ['n', 'd', 'rho', 'm', 'method']);
      t.is(e.config.radius, undefined);
      t.is(e.config.lmDamping, undefined);
    }
  }
});

test('trial-major order: every cell at the first seed, then every cell at the next', (t) => {
  const s = parseSpec(`${DEMO.replace('trials: 5', 'seeds: [7, 42, 3]')}`, 'demo.yaml');
  const entries = [...iterateGrid(s)];
  const C = cellCount(s);
  t.is(entries.length, 3 * C);
  entries.forEach((e, i) => {
    t.is(e.index, i);
    t.is(e.trial, Math.floor(i / C));
    t.is(e.config.seed, [7, 42, 3][e.trial]!);
  });
  // the same cells, in the same order, in every trial
  const cellsOf = (trial: number) => entries.filter((e) => e.trial === trial).map((e) => JSON.stringify(e.cell));
  t.deepEqual(cellsOf(1), cellsOf(0));
  t.deepEqual(cellsOf(2), cellsOf(0));
  t.is(new Set(cellsOf(0)).size, C);
});

/** Independent implementation of the id rule, from its documentation. */
function sortedJson(x: unknown): string {
  if (Array.isArray(x)) return `[${x.map(sortedJson).join(',')}]`;
  if (x !== null && typeof x === 'object') {
    const o = x as Record<string, unknown>;
    return `{${Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${sortedJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(x);
}
function oracleId(config: RunConfig): string {
  const { seed, ...rest } = resolveConfig(config);
  const sha = (s: string) => createHash('sha256').update(s).digest('hex');
  const cell = sha(sortedJson(rest)).slice(0, 32);
  return sha(`narrowsweep-run core=${CORE_SEMANTICS_VERSION}\n${cell}\nseed=${seed}`).slice(0, 20);
}

test('the id is the documented hash of the resolved config and the core semantics version', (t) => {
  for (const e of all(DEMO).slice(0, 40)) t.is(e.id, oracleId(e.config));
  t.regex(configId({ method: 'sgd', n: 10, d: 2, m: 3, seed: 0 }), /^[0-9a-f]{20}$/);
});

const BASE: RunConfig = { method: 'sgd', n: 100, d: 10, m: 8, seed: 0 };

test('writing a default explicitly, reordering keys or spelling a number differently keeps the id', (t) => {
  const id = configId(BASE);
  t.is(configId({
    seed: 0, m: 8, d: 10, n: 100, method: 'sgd', activation: 'tanh', data: { labels: 'gaussian', source: 'gaussian' },
    init: 'lecun', optimizer: 'sgd', trainOutput: true, lr: 'auto', batch: 32, momentum: 0, outputScale: 1,
  }), id);
  const a = parseSpec('name: a\ngrid: { n: [100], d: [10], m: [8], method: [sgd] }\nsuccess: { relLoss: 1.0e-4 }\n', 'a.yaml');
  const b = parseSpec('{"name": "b", "grid": {"n": [100], "d": [10], "m": [8], "method": ["sgd"]}, "success": {"relLoss": 0.0001}}', 'b.json');
  t.is([...iterateGrid(a)][0]!.id, [...iterateGrid(b)][0]!.id);
});

test('changing any config field changes the id', (t) => {
  const changes: Record<string, Partial<RunConfig>> = {
    method: { method: 'adam' }, n: { n: 101 }, d: { d: 11 }, m: { m: 9 }, seed: { seed: 1 },
    activation: { activation: 'sin' }, data: { data: { source: 'sphere', labels: 'gaussian' } },
    init: { init: 'mirrored' }, optimizer: { optimizer: 'adam' }, constraint: { constraint: 'ball' },
    trainOutput: { trainOutput: false }, projection: { projection: 'per-neuron' }, radius: { radius: 3 },
    kappa: { kappa: 3 }, lr: { lr: 0.1 }, lrScale: { lrScale: 2 }, batch: { batch: 16 }, momentum: { momentum: 0.9 },
    beta1: { beta1: 0.8 }, beta2: { beta2: 0.99 }, adamEps: { adamEps: 1e-7 }, lmDamping: { lmDamping: 0.01 },
    lmFactor: { lmFactor: 3 }, outputScale: { outputScale: 2 }, iterations: { iterations: 4999 },
    seconds: { seconds: 61 }, epsilon: { epsilon: 1e-5 }, logEvery: { logEvery: 10 },
    certificateMaxN: { certificateMaxN: 10 }, dtype: { dtype: 'float32' }, engine: { engine: 'ts' },
  };
  t.deepEqual(Object.keys(changes).sort(), [...RUN_CONFIG_KEYS].sort(), 'every RunConfig field is covered');
  const base = configId({ ...BASE, m: 8 });
  const ids = new Set([base]);
  for (const [field, change] of Object.entries(changes)) {
    const id = configId({ ...BASE, ...change } as RunConfig);
    t.not(id, base, field);
    ids.add(id);
  }
  t.is(ids.size, Object.keys(changes).length + 1);
  // a nested change too
  t.not(configId({ ...BASE, data: { source: 'gaussian', labels: 'gaussian', nTest: 10 } }), base);
  t.not(configId({ ...BASE, radius: { relative: 0.5 } }), configId({ ...BASE, radius: { relative: 0.25 } }));
});

test('ids are the same in another process', (t) => {
  const dir = tempDir('narrowsweep-grid-');
  const specFile = join(dir, 'demo.yaml');
  writeFileSync(specFile, DEMO);
  const url = (p: string) => pathToFileURL(new URL(p, import.meta.url).pathname).href;
  const script = join(dir, 'ids.mjs');
  writeFileSync(script, `
import { loadSpec } from ${JSON.stringify(url('../src/sweep/spec.js'))};
import { iterateGrid } from ${JSON.stringify(url('../src/sweep/grid.js'))};
const ids = [];
for (const e of iterateGrid(loadSpec(process.argv[2]))) ids.push(e.id);
process.stdout.write(JSON.stringify(ids));
`);
  const r = spawnSync(process.execPath, [script, specFile], { encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  const theirs = JSON.parse(r.stdout) as string[];
  t.is(theirs.length, 400);
  t.deepEqual(theirs, all(DEMO).map((e) => e.id));
});

test('each entry has its own config: a consumer changing one does not change the next trials', (t) => {
  const s = parseSpec(DEMO, 'demo.yaml');
  const seen: Array<{ trial: number; lr: unknown; outputScale: unknown; method: string }> = [];
  for (const e of iterateGrid(s)) {
    seen.push({ trial: e.trial, lr: e.config.lr, outputScale: e.config.outputScale, method: e.config.method });
    (e.config as unknown as Record<string, unknown>).lr = 'changed';
    e.config.outputScale = 12345;
  }
  t.false(seen.some((x) => x.lr === 'changed' || x.outputScale === 12345));
  t.deepEqual(seen.filter((x) => x.trial === 4).map((x) => [x.method, x.lr]), seen.filter((x) => x.trial === 0).map((x) => [x.method, x.lr]));
});

test('the spec snapshot (spec.json) gives back the same grid: every id at its position, every cell', (t) => {
  const text = DEMO.replace('pgd: { lr: auto, radius: auto, outputScale: 10 }', 'pgd: { lr: auto, radius: { relative: 0.5 }, outputScale: 10 }')
    .replace('trials: 5', 'seeds: [3, 0, 11]') + 'zip: [{ lrScale: 1, momentum: 0 }, { lrScale: 0.5, momentum: 0.9 }]\n';
  const spec = parseSpec(text, 'demo.yaml');
  const dir = tempDir('narrowsweep-grid-');
  t.is(readSpecSnapshot(dir).kind, 'none');
  t.true(writeSpecSnapshot(dir, spec));
  const snap = readSpecSnapshot(dir);
  if (snap.kind !== 'spec') { t.fail(snap.kind); return; }
  const g = GridIndex.of(snap.spec);
  const entries = [...iterateGrid(spec)];
  t.is(g.size, entries.length);
  t.is(g.cells.length, cellCount(spec));
  for (const e of entries) {
    t.is(g.indexOf(e.id), e.index);
    t.deepEqual(g.cells[e.index % g.cells.length], e.cell);
    t.is(Math.floor(e.index / g.cells.length), e.trial);
  }
  t.is(g.indexOf('0123456789abcdef0123'), -1);
  // A file that is not a snapshot is an error, not an empty grid.
  writeFileSync(join(dir, SPEC_FILE), JSON.stringify({ format: 'narrowsweep spec snapshot', version: 1, coreSemantics: CORE_SEMANTICS_VERSION, spec: { name: 'x' } }));
  t.throws(() => readSpecSnapshot(dir), { instanceOf: SnapshotError, message: /spec\.factors: expected a list/ });
  const other = JSON.parse(readFileSync(join(dir, SPEC_FILE), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(dir, SPEC_FILE), JSON.stringify({ ...other, coreSemantics: CORE_SEMANTICS_VERSION + 1 }));
  t.is(readSpecSnapshot(dir).kind, 'other-core');
});

test('IdTable: one-byte values by default, grid positions up to 2^31 - 1 when wide', (t) => {
  const narrow = new IdTable();
  t.throws(() => narrow.set('0123456789abcdef0123', 200), { instanceOf: RangeError });
  const wide = new IdTable({ wide: true });
  const ids = Array.from({ length: 5000 }, (_, i) => createHash('sha256').update(String(i)).digest('hex').slice(0, 20));
  ids.forEach((id, i) => wide.set(id, i * 400_000));
  wide.set('not-hex', 2 ** 31 - 1);
  t.is(wide.size, 5001);
  t.true(ids.every((id, i) => wide.get(id) === i * 400_000));
  t.is(wide.get('not-hex'), 2 ** 31 - 1);
  t.throws(() => wide.set('x', 2 ** 31), { instanceOf: RangeError });
});
