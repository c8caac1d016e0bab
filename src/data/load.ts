// Every data source behind one call, plus the checks a sweep makes before any work starts and the
// `--save-data` writer. Synthetic data comes from the pure core; csv and mnist read files.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { isSynthetic, syntheticDataset } from '../core/data.js';
import { DataError } from '../core/errors.js';
import type { DataSpec, Dataset, ResolvedConfig } from '../core/types.js';
import { csvCapacity, csvFeatureCount, readCsvDataset } from './csv.js';
import { MNIST_D, mnistCapacity, readMnistDataset } from './mnist.js';
import { identityInput } from './input.js';
import type { LoadedDataset } from './input.js';

/**
 * The dataset of a run, with how its inputs and labels were made from the raw data. Depends on seed,
 * n, d, the data spec (and, for teacher labels, the activation) only.
 */
export function loadDataset(cfg: ResolvedConfig): LoadedDataset {
  const spec = cfg.data;
  if (isSynthetic(spec)) return { ...syntheticDataset(cfg), input: identityInput(spec.source, cfg.d), labels: { kind: 'values' } };
  if (spec.source === 'csv') return readCsvDataset(spec, cfg.n, cfg.d);
  return readMnistDataset(spec, cfg.n, cfg.d, cfg.seed);
}

/**
 * The most samples (n + nTest) the source can supply: Infinity for synthetic data, the number of
 * data rows of a csv file (reading it; DataError if it is missing or bad), the available images
 * for mnist (for labels: digits, only the two classes).
 */
export function dataCapacity(spec: DataSpec): number {
  if (isSynthetic(spec)) return Infinity;
  if (spec.source === 'csv') return csvCapacity(spec);
  return mnistCapacity(spec);
}

/** The input dimension the source fixes (784 for mnist, the feature columns of a csv), or null when any d works. */
export function dataDimension(spec: DataSpec): number | null {
  if (isSynthetic(spec)) return null;
  if (spec.source === 'csv') return csvFeatureCount(spec);
  return MNIST_D;
}

/** Where the test split of `path` goes: `data.csv` -> `data.test.csv`. */
export function testCsvPath(path: string): string {
  return path.toLowerCase().endsWith('.csv') ? `${path.slice(0, -4)}.test.csv` : `${path}.test.csv`;
}

// Shortest round-trip decimal (JS number-to-string), except that -0 keeps its sign, so reading the
// file back gives bit-identical float64 values.
function num(x: number): string {
  if (!Number.isFinite(x)) throw new DataError(`cannot write ${x} to a csv data file (not finite)`);
  return Object.is(x, -0) ? '-0' : String(x);
}

function writeRows(path: string, X: Float64Array, y: Float64Array, rows: number, d: number): void {
  const header = [...Array.from({ length: d }, (_, k) => `x${k + 1}`), 'y'].join(',');
  const lines: string[] = [header];
  for (let i = 0; i < rows; i++) {
    const cells = new Array<string>(d + 1);
    for (let k = 0; k < d; k++) cells[k] = num(X[i * d + k]!);
    cells[d] = num(y[i]!);
    lines.push(cells.join(','));
  }
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${lines.join('\n')}\n`);
}

/**
 * Writes the exact data of a run in the csv format `readCsvDataset` reads: header `x1,...,xd,y`,
 * the d features then the label. The training rows go to `path`, a test split to `testCsvPath(path)`.
 * Loading `{ source: csv, path, labelCol: d, standardize: false }` gives back the same bits.
 * Returns the paths written.
 */
export function writeDatasetCsv(path: string, ds: Dataset): string[] {
  writeRows(path, ds.X, ds.y, ds.n, ds.d);
  const written = [path];
  if (ds.nTest > 0 && ds.Xtest && ds.ytest) {
    const tp = testCsvPath(path);
    writeRows(tp, ds.Xtest, ds.ytest, ds.nTest, ds.d);
    written.push(tp);
  }
  return written;
}
