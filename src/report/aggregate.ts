// The aggregator: results/<name>/runs.jsonl -> the CSV tables of METHOD.md section 6.
// Report code never imports the core at runtime; it reads JSON records only.
//
// Files written into the results folder (each atomically: tmp file, then rename):
//
// - runs.csv      one row per run (the last record of each id), long format. Columns: id, trial,
//                 seed, method, n, d, m, rho (the spec's axis value; empty when the spec gave m),
//                 rhoActual (= m d / n), every resolved config field (data flattened to data.<key>;
//                 the budget fields appear once, as the result's iterationBudget / secondsBudget /
//                 epsilon; the requested engine and dtype as engineRequested / dtypeRequested), every
//                 scalar result field, the milestones as itersTo<t> / secondsTo<t> (t like 1e-2), and
//                 the record's wallSeconds, host, startedAt, finishedAt and versions. No loss curve.
//                 pandas.read_csv(path) loads it with no options (one header row, RFC 4180 quoting,
//                 empty = null, inf/nan for non-finite numbers).
// - summary.csv   one row per cell (method x every axis of the grid), columns: the cell's axes, then
//                 rhoActual, epsilon (unless it is an axis), trials, successes, rate, wilsonLow, wilsonHigh (Wilson 95%,
//                 z = 1.959964), the counts of non-ok statuses (diverged, timeout, error, oom), and
//                 medians over the cell's runs: medianRelLoss, medianItersToSuccess and
//                 medianSecondsToSuccess (successful runs only; empty if none), sigmaMinJStart and
//                 sigmaMinJEnd (median sigma_min(J) at the first and last iterate).
// - phase-<method>.csv  the phase table of one method. First line: a `#` comment with the success
//                 rule, the data, the budget and the axes held fixed (read it with
//                 pandas.read_csv(path, comment='#')). Header: the method's other varying axes
//                 (row-group keys, e.g. outputScale; one column each, before the width), then `rho`
//                 (or `m` when the spec gave m), `mark`, and one column per (n, d) named `n=100;d=10`.
//                 Each cell reads k/R: successes over finished runs (empty: no run yet). mark is
//                 `counting-bound` on the row rho = 1 and `theorem-1` on rho = 2 (METHOD.md 1); it is
//                 empty in m tables, where rho differs per column.
// - boundary.csv  the empirical 50% boundary per method, row-group axes and (n, d): rho50 is the
//                 linear interpolation, in rho (m d / n in m tables), between the LAST rho whose rate
//                 is below 0.5 and the next rho (rate >= 0.5). With a non-monotone rate this is the
//                 last upward crossing (the width above which every measured rate is >= 50%), and
//                 `monotone` is false with the lower rho values that reached 50% named in `note`.
//                 rho50 is empty, with a note, when the rate never reaches 0.5 or is >= 0.5 everywhere.
//                 m50 = rho50 n / d.
// - tables.json   the sidecar: the success rule, epsilon values, data, budget, Wilson z, the number of
//                 runs, `notInSpec` (journal ids left out because they are not in the current spec;
//                 null without a grid), and for each phase table its method, row axis, row-group keys,
//                 columns, fixed axes and marks. It holds no time stamps, so it is deterministic.
// - phase-<method>.svg  the phase table as a picture (src/report/svg.ts): cells shaded by k/R and
//                 labelled with it, rho = 1 and rho = 2 marked by dashed lines.
//
// Which records count: with a `grid` (the results folder's current spec, see src/sweep/snapshot.ts)
// only records whose id is in it, each with the cell (axis values) and trial the grid gives that id,
// so the tables are those of a fresh run of the current spec however the journal was filled; the
// other records stay in runs.jsonl and are only counted (notInSpec). Without a grid (a folder from
// before spec snapshots) every record counts, with the cell and trial it stored.
//
// Rows and columns are sorted (numbers by value, text by code points) and numbers have a fixed
// form (raw values in shortest round-trip form, statistics to 6 significant digits), so the same
// records always give byte-identical files. runs.csv and summary.csv also hold wall-clock
// measurements (seconds, wallSeconds, ...), which differ between two executions of a sweep; the
// phase tables, boundary.csv and tables.json depend on the success outcomes only.
import { join, resolve } from 'node:path';
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readSync } from 'node:fs';
import type { JournalRecord, AxisValue, GridView } from '../sweep/types.js';
import type { Milestone } from '../core/types.js';
import { AtomicFile, csvLine, csvText, sig6, writeAtomic } from './csv.js';
import { phaseSvg } from './svg.js';
import type { Cell } from './csv.js';
import { wilson, Z95 } from './wilson.js';

export const JOURNAL_FILE = 'runs.jsonl';

export interface AggregateOutput {
  dir: string;
  /** Paths written, in order: runs.csv, summary.csv, phase-<method>.csv..., boundary.csv, tables.json. */
  files: string[];
  /** Runs after deduplication by id (the last record of an id wins). */
  runs: number;
  /** Records dropped because a later record had the same id. */
  duplicates: number;
  /** Journal ids left out because they are not in the grid (null: no grid given, every record counts). */
  notInSpec: number | null;
  /** Whether the journal ended in a torn line (ignored). */
  tornLine: boolean;
  /** Methods with a phase table, sorted. */
  methods: string[];
  /** The method shown in `phase` (pgd if present, else lm, else the first method), or null if no runs. */
  headlineMethod: string | null;
  /** formatPhaseTable(headlineMethod), or null when there are no runs. */
  phase: string | null;
  /** The phase table of one method as aligned text for the terminal. */
  formatPhaseTable(method: string): string;
}

// ---- small helpers ----

function stableJson(x: unknown): string {
  if (x === null || x === undefined) return 'null';
  if (Array.isArray(x)) return `[${x.map(stableJson).join(',')}]`;
  if (typeof x === 'object') {
    const o = x as Record<string, unknown>;
    return `{${Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(x);
}

/** A config/cell value as one CSV cell: scalars as they are, objects as stable JSON text. */
function scalar(x: unknown): Cell {
  if (x === undefined || x === null) return null;
  if (typeof x === 'number' || typeof x === 'string' || typeof x === 'boolean') return x;
  return stableJson(x);
}

function rank(v: AxisValue | undefined): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'boolean') return 1;
  if (typeof v === 'number') return 2;
  return 3;
}
/** Total order on axis values: missing/null < booleans < numbers (by value) < text (by code points). */
export function compareValues(a: AxisValue | undefined, b: AxisValue | undefined): number {
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra - rb;
  if (ra === 0) return 0;
  if (ra === 1 || ra === 2) return Number(a) - Number(b);
  return (a as string) < (b as string) ? -1 : (a as string) > (b as string) ? 1 : 0;
}

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 === 1 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

function finite(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

/** 0.01 -> "1e-2", 0.0005 -> "5e-4" (milestone column suffixes). */
export function thresholdLabel(t: number): string {
  return t.toExponential().replace('e+', 'e');
}

function uniqSorted(values: AxisValue[]): AxisValue[] {
  const seen = new Map<string, AxisValue>();
  for (const v of values) seen.set(stableJson(v), v);
  return [...seen.values()].sort(compareValues);
}

function fmt(v: AxisValue | undefined): string {
  return v === null || v === undefined ? '' : String(v);
}

// ---- pass 1: scan the journal ----
//
// The journal of a big sweep is larger than a JavaScript string can be (10^6 runs are about 2 GB),
// so it is read in chunks, twice: the first pass keeps a few numbers per record (enough for every
// table but runs.csv) plus the byte range of its line; the second reads the live lines again, in
// table order, to write runs.csv row by row. Same rules as readJournal: blank lines are skipped, a
// torn last line (no newline, not JSON) is ignored, any other bad line is an error.

/** What runs.csv needs to know about a record's fields to choose its columns. */
interface Shape { configExtra: string[]; dataKeys: string[]; resultExtra: string[]; thresholds: Array<[string, number]> }

interface CellInfo { cell: Record<string, AxisValue>; n: number; d: number; m: number }

interface Scan {
  /** Records read, in file order. */
  count: number;
  /** Indices of the live records (the last of each id), in file order. */
  live: number[];
  ids: string[];
  offset: number[];
  length: number[];
  cellIdx: number[];
  trial: number[];
  success: boolean[];
  status: string[];
  relLoss: number[];
  iters: number[];
  secs: number[];
  s0: number[];
  s1: number[];
  eps: number[];
  itBudget: number[];
  secBudget: number[];
  dataIdx: number[];
  shapeIdx: number[];
  cells: CellInfo[];
  dataTexts: string[];
  shapes: Shape[];
  /**
   * runs.csv line of each record, formatted with the columns of its own shape (null once they
   * would take more than LINES_BUDGET characters: then pass 2 reads the journal again).
   */
  lines: string[] | null;
  tornLine: boolean;
  /** Distinct ids not in the grid (left out), or null without a grid. */
  notInSpec: number | null;
}

/** Characters of runs.csv lines pass 1 may keep in memory (about 128 MB). */
const LINES_BUDGET = 64_000_000;

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Calls `onLine` for every line of the open file `fd` (up to its size now) with its byte offset and length. */
async function forEachLine(fd: number, onLine: (text: string, offset: number, length: number, lineNo: number, unterminated: boolean) => void): Promise<void> {
  const size = fstatSync(fd).size;
  const chunk = Buffer.allocUnsafe(1 << 22);
  let carry = Buffer.alloc(0);
  let carryStart = 0; // file offset of carry[0]
  let pos = 0;
  let lineNo = 0;
  while (pos < size) {
    const nread = readSync(fd, chunk, 0, Math.min(chunk.length, size - pos), pos);
    if (nread <= 0) break;
    pos += nread;
    const buf = carry.length ? Buffer.concat([carry, chunk.subarray(0, nread)]) : chunk.subarray(0, nread);
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(0x0a, start);
      if (nl < 0) break;
      lineNo++;
      onLine(buf.toString('utf8', start, nl), carryStart + start, nl - start, lineNo, false);
      start = nl + 1;
    }
    carry = Buffer.from(buf.subarray(start)); // a copy: the chunk is reused
    carryStart += start;
    await yieldToEventLoop(); // a sweep refreshing its tables mid-run keeps running meanwhile
  }
  if (carry.length) onLine(carry.toString('utf8'), carryStart, carry.length, lineNo + 1, true);
}

function num(x: unknown): number {
  return typeof x === 'number' ? x : NaN;
}

/** The resolved config of a record (result.resolved, or the record's config when a result lacks it). */
function configOf(rec: JournalRecord): Record<string, unknown> {
  return (rec.result?.resolved ?? rec.config ?? {}) as unknown as Record<string, unknown>;
}

/** The record's cell, with method, n, d, m filled in from the config when missing. */
function cellOf(rec: JournalRecord, cfg: Record<string, unknown>): Record<string, AxisValue> {
  const cell: Record<string, AxisValue> = { ...(rec.cell ?? {}) };
  if (cell.method === undefined) cell.method = cfg.method as string;
  for (const k of ['n', 'd', 'm'] as const) if (cell[k] === undefined) cell[k] = cfg[k] as number;
  return cell;
}

function describeData(data: unknown): string {
  if (!data || typeof data !== 'object') return 'unknown';
  const o = data as Record<string, unknown>;
  const rest = Object.keys(o).filter((k) => k !== 'source' && o[k] !== undefined).sort().map((k) => `${k} ${scalar(o[k])}`);
  return `${String(o.source)}${rest.length ? ` (${rest.join(', ')})` : ''}`;
}

/**
 * Pass 1 over the journal open as `fd` (`file` names it in messages). With a grid, records not in
 * it are skipped (and counted), the others take their cell and trial from it.
 */
async function scanJournal(fd: number, file: string, grid: GridView | null): Promise<Scan> {
  const sc: Scan = {
    count: 0, live: [], ids: [], offset: [], length: [], cellIdx: [], trial: [], success: [], status: [], relLoss: [],
    iters: [], secs: [], s0: [], s1: [], eps: [], itBudget: [], secBudget: [], dataIdx: [], shapeIdx: [], cells: [],
    dataTexts: [], shapes: [], lines: [], tornLine: false, notInSpec: grid === null ? null : 0,
  };
  const outside = new Set<string>();
  const perTrial = grid?.cells.length ?? 0;
  let lineChars = 0;
  const shapeCols: RunColumns[] = [];
  const lastOf = new Map<string, number>();
  const cellIndex = new Map<string, number>();
  const dataIndex = new Map<string, number>();
  const shapeIndex = new Map<string, number>();
  const intern = <T>(map: Map<string, number>, list: T[], key: string, make: () => T): number => {
    let i = map.get(key);
    if (i === undefined) { i = list.length; list.push(make()); map.set(key, i); }
    return i;
  };
  if (fd >= 0) await forEachLine(fd, (text, offset, length, lineNo, unterminated) => {
    if (text.trim() === '') return;
    let rec: JournalRecord;
    try {
      rec = JSON.parse(text) as JournalRecord;
    } catch {
      if (unterminated) { sc.tornLine = true; return; }
      throw new Error(`${file}:${lineNo}: journal line is not valid JSON (the file is corrupted beyond a torn last line)`);
    }
    const cfg = configOf(rec);
    let cell: Record<string, AxisValue>;
    let cellKey: string;
    let trial = rec.trial;
    if (grid !== null) {
      const at = grid.indexOf(rec.id);
      if (at < 0) { outside.add(rec.id); return; }
      const pos = at % perTrial;
      cell = grid.cells[pos]!;
      cellKey = String(pos);
      trial = Math.floor(at / perTrial);
    } else {
      cell = cellOf(rec, cfg);
      cellKey = stableJson(cell);
    }
    const i = sc.count++;
    const res = (rec.result ?? {}) as unknown as Record<string, unknown>;
    sc.ids.push(rec.id);
    lastOf.set(rec.id, i);
    sc.offset.push(offset);
    sc.length.push(length);
    sc.cellIdx.push(intern(cellIndex, sc.cells, cellKey, () => ({ cell, n: cfg.n as number, d: cfg.d as number, m: cfg.m as number })));
    sc.trial.push(trial);
    sc.success.push(rec.result?.success === true);
    sc.status.push(rec.result?.status ?? 'error');
    sc.relLoss.push(num(res.relLoss));
    sc.iters.push(num(res.iterations));
    sc.secs.push(num(res.seconds));
    sc.s0.push(num(res.sigmaMinJStart));
    sc.s1.push(num(res.sigmaMinJEnd));
    sc.eps.push(num(res.epsilon ?? cfg.epsilon));
    sc.itBudget.push(num(res.iterationBudget ?? cfg.iterations));
    sc.secBudget.push(num(res.secondsBudget ?? cfg.seconds));
    const dataText = describeData(cfg.data);
    sc.dataIdx.push(intern(dataIndex, sc.dataTexts, dataText, () => dataText));
    const shape: Shape = {
      configExtra: Object.keys(cfg).filter((k) => !CONFIG_SKIP.has(k) && !CONFIG_ORDER.includes(k)).sort(),
      dataKeys: cfg.data && typeof cfg.data === 'object' ? Object.keys(cfg.data).sort() : [],
      resultExtra: Object.entries(res).filter(([k, v]) => !RESULT_ORDER.includes(k) && !RESULT_SKIP.has(k) && (v === null || typeof v !== 'object')).map(([k]) => k).sort(),
      thresholds: ((rec.result?.milestones ?? []) as Milestone[]).map((ms) => [thresholdLabel(ms.threshold), ms.threshold] as [string, number]),
    };
    const si = intern(shapeIndex, sc.shapes, JSON.stringify(shape), () => shape);
    sc.shapeIdx.push(si);
    if (sc.lines !== null) {
      const line = runLine(rec, shapeCols[si] ??= runColumns([shape]), trial, cell.rho);
      lineChars += line.length;
      if (lineChars > LINES_BUDGET) sc.lines = null; else sc.lines.push(line);
    }
  });
  for (let i = 0; i < sc.count; i++) if (lastOf.get(sc.ids[i]!) === i) sc.live.push(i);
  if (grid !== null) sc.notInSpec = outside.size;
  return sc;
}

/** Axes that identify a phase-table position; every other axis of a method's cells is a row-group key. */
const POSITION_KEYS = new Set(['method', 'n', 'd', 'rho', 'm']);
const FIRST_KEYS = ['method', 'n', 'd', 'rho', 'm'];

function orderKeys(keys: Iterable<string>): string[] {
  const set = new Set(keys);
  return [...FIRST_KEYS.filter((k) => set.has(k)), ...[...set].filter((k) => !FIRST_KEYS.includes(k)).sort()];
}

function compareCells(keys: string[], a: Record<string, AxisValue>, b: Record<string, AxisValue>): number {
  for (const k of keys) {
    const c = compareValues(a[k], b[k]);
    if (c !== 0) return c;
  }
  return 0;
}

// ---- runs.csv (pass 2) ----

/** Resolved config fields in their usual order; unknown extra fields follow, sorted. */
const CONFIG_ORDER = [
  'activation', 'init', 'optimizer', 'constraint', 'trainOutput', 'projection', 'radius', 'kappa', 'lr',
  'lrScale', 'batch', 'momentum', 'beta1', 'beta2', 'adamEps', 'lmDamping', 'lmFactor', 'outputScale',
  'logEvery', 'certificateMaxN',
];
/** Config fields written elsewhere (identity columns, data.*) or under the result's name. */
const CONFIG_SKIP = new Set(['method', 'n', 'd', 'm', 'seed', 'data', 'iterations', 'seconds', 'epsilon', 'engine', 'dtype']);
const RESULT_ORDER = [
  'status', 'message', 'success', 'epsilon', 'relLoss', 'bestRelLoss', 'loss', 'iterations', 'iterationBudget',
  'seconds', 'secondsBudget', 'lrUsed', 'lambdaMax', 'radiusUsed', 'sigmaMinJStart', 'sigmaMinJEnd', 'distW0',
  'constraintActive', 'kktResidual', 'gradNorm', 'testLoss', 'testRelLoss', 'testAccuracy', 'engine',
  'engineDetail', 'dtype',
];
const RESULT_SKIP = new Set(['resolved', 'curve', 'milestones']);

/**
 * Writes runs.csv: the live records in table order (cell, then trial, then id), each line read
 * again from the journal. Columns are the union over the live records' shapes.
 */
/** The columns of runs.csv for records of the given shapes. */
interface RunColumns { header: string[]; configCols: string[]; dataCols: string[]; resultCols: string[]; ms: Array<[string, number]> }

function runColumns(shapes: Shape[]): RunColumns {
  const configExtra = new Set<string>();
  const dataKeys = new Set<string>();
  const resultExtra = new Set<string>();
  const thresholds = new Map<string, number>();
  for (const sh of shapes) {
    sh.configExtra.forEach((k) => configExtra.add(k));
    sh.dataKeys.forEach((k) => dataKeys.add(k));
    sh.resultExtra.forEach((k) => resultExtra.add(k));
    sh.thresholds.forEach(([label, t]) => thresholds.set(label, t));
  }
  const configCols = [...CONFIG_ORDER, ...[...configExtra].sort()];
  const dataCols = ['source', 'labels', ...[...dataKeys].filter((k) => k !== 'source' && k !== 'labels').sort()];
  const resultCols = [...RESULT_ORDER, ...[...resultExtra].sort()];
  const ms = [...thresholds.entries()].sort((a, b) => b[1] - a[1]);
  const header = [
    'id', 'trial', 'seed', 'method', 'n', 'd', 'm', 'rho', 'rhoActual',
    ...dataCols.map((k) => `data.${k}`), ...configCols, 'engineRequested', 'dtypeRequested',
    ...resultCols, ...ms.flatMap(([label]) => [`itersTo${label}`, `secondsTo${label}`]),
    'wallSeconds', 'host', 'startedAt', 'finishedAt', 'version', 'coreVersion', 'nodeVersion',
  ];
  return { header, configCols, dataCols, resultCols, ms };
}

/** One record as a runs.csv line, with its trial and rho (the cell's, empty when the spec gave m). */
function runLine(rec: JournalRecord, cols: RunColumns, trial: number, rho: AxisValue | undefined): string {
  const c = configOf(rec);
  const res = (rec.result ?? {}) as unknown as Record<string, unknown>;
  const data = (c.data ?? {}) as Record<string, unknown>;
  const n = c.n as number;
  const d = c.d as number;
  const m = c.m as number;
  const byThreshold = new Map<string, Milestone>();
  for (const x of (rec.result?.milestones ?? []) as Milestone[]) byThreshold.set(thresholdLabel(x.threshold), x);
  return csvLine([
    rec.id, trial, scalar(c.seed), scalar(c.method), n, d, m, scalar(rho), (m * d) / n,
    ...cols.dataCols.map((k) => scalar(data[k])), ...cols.configCols.map((k) => scalar(c[k])),
    scalar(c.engine), scalar(c.dtype),
    ...cols.resultCols.map((k) => scalar(res[k])),
    ...cols.ms.flatMap(([label]) => [scalar(byThreshold.get(label)?.iteration), scalar(byThreshold.get(label)?.seconds)]),
    scalar(rec.wallSeconds), scalar(rec.host), scalar(rec.startedAt), scalar(rec.finishedAt),
    scalar(rec.versions?.narrowsweep), scalar(rec.versions?.core), scalar(rec.versions?.node),
  ]);
}

/**
 * Writes runs.csv: the live records in table order (cell, then trial, then id). Columns are the
 * union over the live records' shapes. When every live record has one shape, the lines formatted
 * in pass 1 are used (if they were kept); otherwise each line is read again from the journal.
 */
async function writeRunsCsv(file: string, fd: number, sc: Scan, order: number[]): Promise<void> {
  const liveShapes = [...new Set(sc.live.map((i) => sc.shapeIdx[i]!))].sort((a, b) => a - b);
  const cols = runColumns(liveShapes.map((k) => sc.shapes[k]!));
  const kept = sc.lines !== null && liveShapes.length === 1 ? sc.lines : null;
  const out = new AtomicFile(file);
  try {
    out.write(csvLine(cols.header));
    let buf = Buffer.allocUnsafe(1 << 16);
    let written = 0;
    for (const i of order) {
      if (++written % 2000 === 0) await yieldToEventLoop();
      if (kept !== null) { out.write(kept[i]!); continue; }
      const len = sc.length[i]!;
      if (buf.length < len) buf = Buffer.allocUnsafe(len * 2);
      readSync(fd, buf, 0, len, sc.offset[i]!);
      out.write(runLine(JSON.parse(buf.toString('utf8', 0, len)) as JournalRecord, cols, sc.trial[i]!, sc.cells[sc.cellIdx[i]!]!.cell.rho));
    }
    out.commit();
  } catch (e) {
    out.abort();
    throw e;
  }
}

// ---- cells ----

interface CellStats {
  cell: Record<string, AxisValue>;
  method: string;
  n: number;
  d: number;
  m: number;
  trials: number;
  successes: number;
  statuses: Record<string, number>;
  epsilon: number[];
  data: string[];
  iterations: number[];
  seconds: number[];
  medianRelLoss: number | null;
  medianItersToSuccess: number | null;
  medianSecondsToSuccess: number | null;
  sigmaMinJStart: number | null;
  sigmaMinJEnd: number | null;
}

function cellStats(sc: Scan): CellStats[] {
  const groups = new Map<number, number[]>();
  for (const i of sc.live) {
    const c = sc.cellIdx[i]!;
    const g = groups.get(c);
    if (g) g.push(i); else groups.set(c, [i]);
  }
  const distinct = (g: number[], xs: number[]) => [...new Set(g.map((i) => xs[i]!).filter(finite))].sort((a, b) => a - b);
  const out: CellStats[] = [];
  for (const [c, g] of groups) {
    const info = sc.cells[c]!;
    const ok = g.filter((i) => sc.success[i]);
    const statuses: Record<string, number> = {};
    for (const i of g) statuses[sc.status[i]!] = (statuses[sc.status[i]!] ?? 0) + 1;
    out.push({
      cell: info.cell,
      method: String(info.cell.method),
      n: info.n,
      d: info.d,
      m: info.m,
      trials: g.length,
      successes: ok.length,
      statuses,
      epsilon: distinct(g, sc.eps),
      data: [...new Set(g.map((i) => sc.dataTexts[sc.dataIdx[i]!]!))].sort(),
      iterations: distinct(g, sc.itBudget),
      seconds: distinct(g, sc.secBudget),
      medianRelLoss: median(g.map((i) => sc.relLoss[i]!).filter(finite)),
      medianItersToSuccess: median(ok.map((i) => sc.iters[i]!).filter(finite)),
      medianSecondsToSuccess: median(ok.map((i) => sc.secs[i]!).filter(finite)),
      sigmaMinJStart: median(g.map((i) => sc.s0[i]!).filter(finite)),
      sigmaMinJEnd: median(g.map((i) => sc.s1[i]!).filter(finite)),
    });
  }
  return out;
}

const NON_OK = ['diverged', 'timeout', 'error', 'oom'];

function summaryTable(cells: CellStats[], keys: string[]): { header: string[]; rows: Cell[][] } {
  const epsAxis = keys.includes('epsilon');
  const header = [
    // epsilon is written once: as an axis when the grid varies it, else after rhoActual
    ...keys, 'rhoActual', ...(epsAxis ? [] : ['epsilon']), 'trials', 'successes', 'rate', 'wilsonLow', 'wilsonHigh', ...NON_OK,
    'medianRelLoss', 'medianItersToSuccess', 'medianSecondsToSuccess', 'sigmaMinJStart', 'sigmaMinJEnd',
  ];
  const rows = cells.map((c) => {
    const w = wilson(c.successes, c.trials);
    return [
      ...keys.map((k) => c.cell[k] ?? null), (c.m * c.d) / c.n,
      ...(epsAxis ? [] : [c.epsilon.length === 1 ? c.epsilon[0]! : c.epsilon.join(' ')]),
      c.trials, c.successes, sig6(c.successes / c.trials), sig6(w.low), sig6(w.high),
      ...NON_OK.map((s) => c.statuses[s] ?? 0),
      sig6(c.medianRelLoss), sig6(c.medianItersToSuccess), sig6(c.medianSecondsToSuccess), sig6(c.sigmaMinJStart), sig6(c.sigmaMinJEnd),
    ];
  });
  return { header, rows };
}

// ---- phase tables ----

interface PhaseTable {
  method: string;
  width: 'rho' | 'm';
  groupKeys: string[];
  fixed: Record<string, AxisValue>;
  columns: Array<{ n: number; d: number; label: string }>;
  rows: Array<{ group: AxisValue[]; width: number; mark: string; cells: Array<CellStats | null> }>;
  epsilon: number[];
  data: string[];
  iterations: number[];
  seconds: number[];
  comment: string;
}

function markOf(width: 'rho' | 'm', value: number): string {
  if (width !== 'rho') return '';
  if (value === 1) return 'counting-bound';
  if (value === 2) return 'theorem-1';
  return '';
}

function listText(xs: Array<number | string>, unit = ''): string {
  return xs.length === 1 ? `${xs[0]}${unit}` : `{${xs.join(', ')}}${unit}`;
}

function phaseTable(method: string, cells: CellStats[]): PhaseTable {
  const width: 'rho' | 'm' = cells.every((c) => typeof c.cell.rho === 'number') ? 'rho' : 'm';
  const other = orderKeys(cells.flatMap((c) => Object.keys(c.cell)).filter((k) => !POSITION_KEYS.has(k)));
  const groupKeys: string[] = [];
  const fixed: Record<string, AxisValue> = {};
  for (const k of other) {
    const vals = uniqSorted(cells.map((c) => c.cell[k] ?? null));
    if (vals.length > 1) groupKeys.push(k); else fixed[k] = vals[0] ?? null;
  }
  const colMap = new Map<string, { n: number; d: number; label: string }>();
  for (const c of cells) colMap.set(`${c.n};${c.d}`, { n: c.n, d: c.d, label: `n=${c.n};d=${c.d}` });
  const columns = [...colMap.values()].sort((a, b) => a.n - b.n || a.d - b.d);
  const rowMap = new Map<string, PhaseTable['rows'][number]>();
  for (const c of cells) {
    const group = groupKeys.map((k) => c.cell[k] ?? null);
    const w = width === 'rho' ? (c.cell.rho as number) : c.m;
    const key = stableJson([group, w]);
    let row = rowMap.get(key);
    if (!row) {
      row = { group, width: w, mark: markOf(width, w), cells: columns.map(() => null) };
      rowMap.set(key, row);
    }
    const col = columns.findIndex((x) => x.n === c.n && x.d === c.d);
    if (row.cells[col]) {
      // two cells at one position: an axis differs that is not a row-group key (cannot happen with
      // one spec; merge so nothing is lost)
      const prev = row.cells[col]!;
      row.cells[col] = { ...prev, trials: prev.trials + c.trials, successes: prev.successes + c.successes };
    } else row.cells[col] = c;
  }
  const rows = [...rowMap.values()].sort((a, b) => {
    for (let i = 0; i < a.group.length; i++) {
      const c = compareValues(a.group[i], b.group[i]);
      if (c !== 0) return c;
    }
    return a.width - b.width;
  });
  const epsilon = [...new Set(cells.flatMap((c) => c.epsilon))].sort((a, b) => a - b);
  const data = [...new Set(cells.flatMap((c) => c.data))].sort();
  const iterations = [...new Set(cells.flatMap((c) => c.iterations))].sort((a, b) => a - b);
  const seconds = [...new Set(cells.flatMap((c) => c.seconds))].sort((a, b) => a - b);
  const fixedText = Object.entries(fixed).map(([k, v]) => `${k}=${fmt(v)}`).join(' ');
  const comment = [
    `# phase table of method ${method}: each cell is k/R = successes / finished runs`,
    `success: relLoss <= ${listText(epsilon)}`,
    `data: ${data.join(' | ')}`,
    `budget: ${listText(iterations)} iterations and ${listText(seconds, ' s')} per run`,
    width === 'rho'
      ? 'rows: rho = m d / n as given in the spec (m = ceil(rho n / d), rounded up to even for a mirrored init)'
      : 'rows: m (the spec gave m)',
    groupKeys.length ? `row groups: ${groupKeys.join(' ')}` : '',
    fixedText ? `fixed: ${fixedText}` : '',
    width === 'rho' ? 'marks: rho = 1 counting bound and rho = 2 Theorem 1 (METHOD.md 1)' : 'no marks (rho = m d / n differs per column)',
  ].filter((s) => s !== '').join('; ');
  return { method, width, groupKeys, fixed, columns, rows, epsilon, data, iterations, seconds, comment };
}

function phaseCsv(t: PhaseTable): string {
  const header = [...t.groupKeys, t.width, 'mark', ...t.columns.map((c) => c.label)];
  const rows: Cell[][] = t.rows.map((r) => [
    ...r.group, r.width, r.mark, ...r.cells.map((c) => (c ? `${c.successes}/${c.trials}` : null)),
  ]);
  return `${t.comment.replace(/[\r\n]/g, ' ')}\n${csvText(header, rows)}`;
}

function phaseText(t: PhaseTable): string {
  const header = [...t.groupKeys, t.width, 'mark', ...t.columns.map((c) => c.label)];
  const rows = t.rows.map((r) => [
    ...r.group.map(fmt), String(r.width), r.mark, ...r.cells.map((c) => (c ? `${c.successes}/${c.trials}` : '.')),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  const title = `${t.method}: successes k/R with relLoss <= ${listText(t.epsilon)}, ` +
    `rows ${t.width}, columns (n, d); data ${t.data.join(' | ')}`;
  return [title, line(header), ...rows.map(line)].join('\n');
}

function pictureOf(t: PhaseTable): Parameters<typeof phaseSvg>[0] {
  const fixedText = Object.entries(t.fixed).map(([k, v]) => `${k}=${fmt(v)}`).join(' ');
  return {
    method: t.method, width: t.width, groupKeys: t.groupKeys, columns: t.columns,
    rows: t.rows.map((r) => ({ group: r.group.map(fmt), width: r.width, mark: r.mark, cells: r.cells })),
    subtitle: [
      `success: relLoss <= ${listText(t.epsilon)}; budget ${listText(t.iterations)} iterations, ${listText(t.seconds, ' s')} per run`,
      `data: ${t.data.join(' | ')}${fixedText ? `; fixed: ${fixedText}` : ''}`,
    ],
  };
}

// ---- boundary ----

function boundaryTable(tables: PhaseTable[], groupUnion: string[]): { header: string[]; rows: Cell[][] } {
  const header = [
    'method', ...groupUnion, 'n', 'd', 'rho50', 'm50', 'lastBelowRho', 'lastBelowRate', 'firstAboveRho',
    'firstAboveRate', 'monotone', 'note',
  ];
  const rows: Cell[][] = [];
  for (const t of tables) {
    // the distinct row groups, in table order
    const groups = new Map<string, AxisValue[]>();
    for (const r of t.rows) groups.set(stableJson(r.group), r.group);
    for (const group of groups.values()) {
      const key = stableJson(group);
      for (const [ci, col] of t.columns.entries()) {
        const pts: Array<{ rho: number; rate: number }> = [];
        for (const r of t.rows) {
          if (stableJson(r.group) !== key) continue;
          const c = r.cells[ci];
          if (!c || c.trials === 0) continue;
          pts.push({ rho: t.width === 'rho' ? r.width : (r.width * col.d) / col.n, rate: c.successes / c.trials });
        }
        if (pts.length === 0) continue;
        pts.sort((a, b) => a.rho - b.rho);
        const groupCells = groupUnion.map((k) => {
          const i = t.groupKeys.indexOf(k);
          return i >= 0 ? group[i] ?? null : null;
        });
        let L = -1;
        for (let i = 0; i < pts.length; i++) if (pts[i]!.rate < 0.5) L = i;
        let rho50: number | null = null;
        let note = '';
        let below: { rho: number; rate: number } | null = null;
        let above: { rho: number; rate: number } | null = null;
        const early = pts.slice(0, Math.max(L, 0)).filter((p) => p.rate >= 0.5);
        const monotone = L < 0 || early.length === 0;
        if (L < 0) {
          note = `rate >= 0.5 at every rho measured (boundary at or below rho = ${sig6(pts[0]!.rho)})`;
          above = pts[0]!;
        } else if (L === pts.length - 1) {
          note = `rate < 0.5 at every rho measured up to rho = ${sig6(pts[L]!.rho)}`;
          below = pts[L]!;
          if (early.length) note += `; non-monotone: rate >= 0.5 at rho = ${early.map((p) => sig6(p.rho)).join(' ')}`;
        } else {
          below = pts[L]!;
          above = pts[L + 1]!;
          rho50 = below.rho + ((0.5 - below.rate) / (above.rate - below.rate)) * (above.rho - below.rho);
          if (!monotone) note = `non-monotone: rate >= 0.5 also at rho = ${early.map((p) => sig6(p.rho)).join(' ')}; this is the last upward crossing`;
        }
        rows.push([
          t.method, ...groupCells, col.n, col.d, sig6(rho50), rho50 === null ? null : sig6((rho50 * col.n) / col.d),
          below ? sig6(below.rho) : null, below ? sig6(below.rate) : null,
          above ? sig6(above.rho) : null, above ? sig6(above.rate) : null, monotone, note || null,
        ]);
      }
    }
  }
  return { header, rows };
}

// ---- the entry point ----

function safeName(method: string): string {
  return method.replace(/[^A-Za-z0-9._-]/g, '_');
}

export interface AggregateOptions {
  /** The current spec's grid: only its records count, labelled by it (see the top of this file). */
  grid?: GridView | null;
}

/**
 * Reads `<dir>/runs.jsonl` and writes runs.csv, summary.csv, phase-<method>.csv, boundary.csv and
 * tables.json into `dir` (see the top of this file). Safe to call while a sweep appends to the journal.
 */
export async function aggregate(dir: string, opts: AggregateOptions = {}): Promise<AggregateOutput> {
  mkdirSync(dir, { recursive: true });
  const journal = join(dir, JOURNAL_FILE);
  // One descriptor for both passes, so the byte offsets of pass 1 hold in pass 2 even if the
  // journal file is replaced meanwhile (appends only extend it; pass 1 stops at its size then).
  const fd = existsSync(journal) ? openSync(journal, 'r') : -1;
  try {
    return await aggregateFrom(dir, journal, fd, opts.grid ?? null);
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

async function aggregateFrom(dir: string, journal: string, fd: number, grid: GridView | null): Promise<AggregateOutput> {
  const sc = await scanJournal(fd, journal, grid);
  const files: string[] = [];
  const write = (name: string, text: string) => {
    const p = join(dir, name);
    writeAtomic(p, text);
    files.push(p);
  };

  // Table order of the cells, then of the runs (cell, trial, id).
  const keys = orderKeys(sc.cells.flatMap((c) => Object.keys(c.cell)));
  const cellOrder = sc.cells.map((_, k) => k).sort((a, b) => compareCells(keys, sc.cells[a]!.cell, sc.cells[b]!.cell));
  const cellRank = new Array<number>(sc.cells.length);
  cellOrder.forEach((c, r) => { cellRank[c] = r; });
  const runOrder = [...sc.live].sort((a, b) => cellRank[sc.cellIdx[a]!]! - cellRank[sc.cellIdx[b]!]! ||
    sc.trial[a]! - sc.trial[b]! || (sc.ids[a]! < sc.ids[b]! ? -1 : sc.ids[a]! > sc.ids[b]! ? 1 : 0));
  const runsFile = join(dir, 'runs.csv');
  await writeRunsCsv(runsFile, fd, sc, runOrder);
  files.push(runsFile);

  const cells = cellStats(sc);
  cells.sort((a, b) => compareCells(keys, a.cell, b.cell));
  const st = summaryTable(cells, keys);
  write('summary.csv', csvText(st.header, st.rows));

  const methods = [...new Set(cells.map((c) => c.method))].sort();
  const tables = methods.map((m) => phaseTable(m, cells.filter((c) => c.method === m)));
  for (const t of tables) write(`phase-${safeName(t.method)}.csv`, phaseCsv(t));

  const groupUnion = orderKeys(tables.flatMap((t) => t.groupKeys));
  const bt = boundaryTable(tables, groupUnion);
  write('boundary.csv', csvText(bt.header, bt.rows));

  const all = (f: (c: CellStats) => Array<number | string>) => [...new Set(cells.flatMap(f))].sort(
    (a, b) => (typeof a === 'number' && typeof b === 'number' ? a - b : String(a) < String(b) ? -1 : 1));
  const sidecar = {
    about: 'narrowsweep tables (see src/report/aggregate.ts for every column). Phase cells are k/R = successes / finished runs.',
    journal: JOURNAL_FILE,
    runs: sc.live.length,
    notInSpec: sc.notInSpec,
    successRule: 'success = relLoss <= epsilon (METHOD.md section 5)',
    epsilon: all((c) => c.epsilon),
    data: all((c) => c.data),
    budget: { iterations: all((c) => c.iterations), seconds: all((c) => c.seconds) },
    wilson: { confidence: 0.95, z: Z95 },
    boundary: 'rho50: linear interpolation in rho between the last rho with rate < 0.5 and the next rho (the last upward crossing)',
    phaseTables: Object.fromEntries(tables.map((t) => [`phase-${safeName(t.method)}.csv`, {
      method: t.method,
      rows: t.width,
      rowGroupKeys: t.groupKeys,
      columns: t.columns.map((c) => c.label),
      fixed: t.fixed,
      epsilon: t.epsilon,
      data: t.data,
      budget: { iterations: t.iterations, seconds: t.seconds },
      marks: t.width === 'rho' ? { 'counting-bound': 1, 'theorem-1': 2 } : {},
      comment: t.comment.slice(2),
    }])),
  };
  write('tables.json', `${JSON.stringify(sidecar, null, 2)}\n`);
  for (const t of tables) write(`phase-${safeName(t.method)}.svg`, phaseSvg(pictureOf(t)));

  const byMethod = new Map(tables.map((t) => [t.method, t]));
  const headlineMethod = methods.includes('pgd') ? 'pgd' : methods.includes('lm') ? 'lm' : methods[0] ?? null;
  const formatPhaseTable = (method: string): string => {
    const t = byMethod.get(method);
    if (!t) throw new Error(`no runs of method ${method} (methods: ${methods.join(', ') || 'none'})`);
    return phaseText(t);
  };
  return {
    dir: resolve(dir), files, runs: sc.live.length, duplicates: sc.count - sc.live.length, notInSpec: sc.notInSpec,
    tornLine: sc.tornLine, methods, headlineMethod,
    phase: headlineMethod === null ? null : formatPhaseTable(headlineMethod), formatPhaseTable,
  };
}
