// A user's numeric CSV file as a Dataset.
//
// Format: one sample per line, numeric cells; the delimiter is whichever of `,` `;` tab occurs most
// in the first non-blank line (whitespace-separated columns if none does). Cells are trimmed and
// may be wrapped in one pair of double quotes (no delimiters inside quotes). Blank lines are
// skipped. Line endings LF or CRLF; a UTF-8 BOM is ignored.
// Header: `true` / `false`, or `auto` (the default): the first non-blank line is a header when none
// of its cells reads as a number. A first line that mixes names and numbers is an error with a hint,
// not a silent guess, so a corrupt first data row is never dropped unnoticed.
// Rows: the first n data rows (in file order) are the training set, the next nTest the test set;
// any further rows are ignored, but the whole file must be valid. Labels are taken as they are
// (real valued); features are standardised per column on the training rows unless
// `standardize: false` (METHOD.md 3b).
// Every error is a DataError naming the file and, where it applies, the line and the column
// (both 1-based; "line" counts every line of the file, header included).
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { standardize } from '../core/data.js';
import { DataError } from '../core/errors.js';
import type { DataSpec } from '../core/types.js';
import { divisors, identityInput } from './input.js';
import type { LoadedDataset } from './input.js';

export type CsvSpec = Extract<DataSpec, { source: 'csv' }>;

/** The parsed file: every data row, all columns, row-major. */
export interface CsvTable {
  path: string;
  /** Column names from the header line, or null without a header. */
  header: string[] | null;
  cols: number;
  rows: number;
  /** rows x cols, row-major. */
  values: Float64Array;
  /** 1-based file line of each data row. */
  lines: Int32Array;
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const NOT_FINITE = /^[+-]?(nan|inf|infinity)$/i;

function unquote(cell: string): string {
  const c = cell.trim();
  return c.length >= 2 && c.startsWith('"') && c.endsWith('"') ? c.slice(1, -1).trim() : c;
}

function splitter(firstLine: string): (line: string) => string[] {
  let best = '', count = 0;
  for (const sep of [',', ';', '\t']) {
    const c = firstLine.split(sep).length - 1;
    if (c > count) { best = sep; count = c; }
  }
  if (best === '') return (line) => line.trim().split(/\s+/);
  return (line) => line.split(best);
}

function columnName(header: string[] | null, col: number): string {
  const name = header?.[col];
  return name ? `column ${col + 1} (${JSON.stringify(name)})` : `column ${col + 1}`;
}

const cache = new Map<string, { mtimeMs: number; size: number; table: CsvTable }>();

function statOrThrow(path: string, what: string): { mtimeMs: number; size: number } {
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new DataError(`${what}: ${path} is not a file`);
    return { mtimeMs: st.mtimeMs, size: st.size };
  } catch (e) {
    if (e instanceof DataError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new DataError(`${what}: file not found: ${path}`);
    throw new DataError(`${what}: cannot read ${path}: ${(e as Error).message}`);
  }
}

/** Parses and validates the whole file (cached per process while the file is unchanged). */
export function readCsvTable(path: string, header: 'auto' | boolean = 'auto'): CsvTable {
  const full = resolve(path);
  const st = statOrThrow(path, 'csv data');
  const key = `${full}|${String(header)}`;
  const hit = cache.get(key);
  if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return hit.table;
  let text: string;
  try {
    text = readFileSync(full, 'utf8');
  } catch (e) {
    throw new DataError(`csv data: cannot read ${path}: ${(e as Error).message}`);
  }
  const table = parseCsv(text, path, header);
  cache.set(key, { ...st, table });
  return table;
}

/** Parses CSV text; `path` is only used in messages. */
export function parseCsv(text: string, path: string, header: 'auto' | boolean = 'auto'): CsvTable {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  let first = 0;
  while (first < lines.length && lines[first]!.trim() === '') first++;
  if (first === lines.length) throw new DataError(`${path}: the file is empty`);
  const split = splitter(lines[first]!);
  const firstCells = split(lines[first]!).map(unquote);
  const numeric = (c: string) => NUMBER.test(c) || NOT_FINITE.test(c);
  let hasHeader: boolean;
  if (header === 'auto') {
    const named = firstCells.filter((c) => !numeric(c)).length;
    if (named > 0 && named < firstCells.length) {
      const col = firstCells.findIndex((c) => !numeric(c));
      throw new DataError(
        `${path}: line ${first + 1}, column ${col + 1}: ${JSON.stringify(firstCells[col])} is not a number, but other cells of this first line are; ` +
        'if it is a header, set header: true, otherwise fix the cell');
    }
    hasHeader = named === firstCells.length;
  } else {
    hasHeader = header;
  }
  const cols = firstCells.length;
  const names = hasHeader ? firstCells : null;
  const out: number[] = [];
  const lineNo: number[] = [];
  for (let li = hasHeader ? first + 1 : first; li < lines.length; li++) {
    const line = lines[li]!;
    if (line.trim() === '') continue;
    const cells = split(line);
    const where = `${path}: line ${li + 1}`;
    if (cells.length !== cols) {
      const gap = cells.length < cols ? `column ${cells.length + 1} is missing` : `column ${cols + 1} is extra`;
      throw new DataError(`${where} has ${cells.length} columns, but line ${first + 1} has ${cols} (ragged row: ${gap})`);
    }
    for (let c = 0; c < cols; c++) {
      const cell = unquote(cells[c]!);
      const at = `${where}, ${columnName(names, c)}`;
      if (cell === '') throw new DataError(`${at}: empty cell`);
      if (NOT_FINITE.test(cell)) throw new DataError(`${at}: ${JSON.stringify(cell)} is not finite (NaN and Inf are not allowed)`);
      if (!NUMBER.test(cell)) throw new DataError(`${at}: ${JSON.stringify(cell)} is not a number`);
      const x = Number(cell);
      if (!Number.isFinite(x)) throw new DataError(`${at}: ${JSON.stringify(cell)} overflows to ${x} (not finite)`);
      out.push(x);
    }
    lineNo.push(li + 1);
  }
  if (lineNo.length === 0) throw new DataError(`${path}: no data rows${hasHeader ? ' after the header' : ''}`);
  return { path, header: names, cols, rows: lineNo.length, values: Float64Array.from(out), lines: Int32Array.from(lineNo) };
}

/** 0-based label column of `spec` for a table with `cols` columns (default: the last). */
function labelColumn(spec: CsvSpec, cols: number): number {
  const lc = (spec as { labelCol?: number }).labelCol;
  const col = lc === undefined || lc < 0 ? cols - 1 : lc;
  if (col >= cols) {
    throw new DataError(`${spec.path}: data.labelCol = ${col} (0-based), but the file has ${cols} columns (0 to ${cols - 1})`);
  }
  return col;
}

/** Number of data rows in the file (the most n + nTest can be). */
export function csvCapacity(spec: CsvSpec): number {
  return readCsvTable(spec.path, spec.header ?? 'auto').rows;
}

/** Number of feature columns (all columns but the label). */
export function csvFeatureCount(spec: CsvSpec): number {
  return readCsvTable(spec.path, spec.header ?? 'auto').cols - 1;
}

/**
 * The first n rows as training data and the next data.nTest rows as test data (see the file header),
 * with the input transform and the label column that make them from the file's rows.
 */
export function readCsvDataset(spec: CsvSpec, n: number, d: number): LoadedDataset {
  const t = readCsvTable(spec.path, spec.header ?? 'auto');
  const label = labelColumn(spec, t.cols);
  const features = t.cols - 1;
  if (features !== d) {
    throw new DataError(`${spec.path}: the file has ${features} feature columns (${t.cols} columns, label in column ${label + 1}), but d = ${d}; set d: ${features}`);
  }
  const nTest = spec.nTest ?? 0;
  if (t.rows < n + nTest) {
    throw new DataError(
      `${spec.path}: ${t.rows} data rows (last at line ${t.lines[t.rows - 1]}), but n + nTest = ${n} + ${nTest} = ${n + nTest} are needed`);
  }
  const take = (from: number, rows: number) => {
    const X = new Float64Array(rows * d), y = new Float64Array(rows);
    for (let i = 0; i < rows; i++) {
      const r = (from + i) * t.cols;
      let k = 0;
      for (let c = 0; c < t.cols; c++) {
        if (c === label) y[i] = t.values[r + c]!;
        else X[i * d + k++] = t.values[r + c]!;
      }
    }
    return { X, y };
  };
  const train = take(0, n);
  const test = nTest > 0 ? take(n, nTest) : null;
  const std = spec.standardize !== false;
  const input = { ...identityInput('csv', d), path: spec.path, header: t.header !== null, labelColumn: label };
  input.featureColumns = Array.from({ length: t.cols }, (_, c) => c).filter((c) => c !== label);
  if (std) {
    const { mean, sd } = standardize(train.X, n, d, test?.X ?? null);
    Object.assign(input, { standardized: true, mean: Array.from(mean), scale: divisors(sd) });
  }
  const rowsDesc = nTest > 0 ? `lines ${t.lines[0]}-${t.lines[n - 1]} train, ${t.lines[n]}-${t.lines[n + nTest - 1]} test` : `lines ${t.lines[0]}-${t.lines[n - 1]}`;
  return {
    n, d, X: train.X, y: train.y,
    nTest, Xtest: test?.X ?? null, ytest: test?.y ?? null,
    source: `csv ${spec.path} (${rowsDesc}, label column ${label + 1}${std ? ', standardized' : ''})`,
    input, labels: { kind: 'values', column: label },
  };
}
