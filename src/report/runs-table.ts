// runs.csv: one row per run (the last record of each id), long format. Columns: id, trial, seed,
// method, n, d, m, rho (the spec's axis value; empty when the spec gave m), rhoActual (= m d / n),
// every resolved config field (data flattened to data.<key>; the budget fields appear once, as the
// result's iterationBudget / secondsBudget / epsilon; the requested engine and dtype as
// engineRequested / dtypeRequested), every scalar result field, the milestones as itersTo<t> /
// secondsTo<t> (t like 1e-2), and the record's wallSeconds, host, startedAt, finishedAt and
// versions. No loss curve or trace (result.curve, result.trace: the training-curve chart reads the
// trace from the journal, src/report/traces.ts). pandas.read_csv(path) loads it with no options (one header row,
// RFC 4180 quoting, empty = null, inf/nan for non-finite numbers). It holds wall-clock
// measurements, so two executions of a sweep give different bytes.
//
// Pass 1 (src/report/journal-read.ts) tells RunsCsvRows each record's shape (which fields it has)
// and, while they fit in memory, its formatted line; writeRunsCsv then writes the rows in table
// order, from those lines or by reading each record's line again (pass 2).
import { readSync } from 'node:fs';
import type { JournalRecord, AxisValue } from '../sweep/types.js';
import type { Milestone } from '../core/types.js';
import { AtomicFile, csvLine } from './csv.js';
import { compareCells, intern, scalar, yieldToEventLoop } from './shared.js';
import { configOf } from './journal-read.js';
import type { Scan } from './journal-read.js';

/** 0.01 -> "1e-2", 0.0005 -> "5e-4" (milestone column suffixes). */
export function thresholdLabel(t: number): string {
  return t.toExponential().replace('e+', 'e');
}

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
const RESULT_SKIP = new Set(['resolved', 'curve', 'trace', 'milestones']);

/** What runs.csv needs to know about a record's fields to choose its columns. */
interface Shape { configExtra: string[]; dataKeys: string[]; resultExtra: string[]; thresholds: Array<[string, number]> }

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

/** Characters of runs.csv lines pass 1 may keep in memory (about 128 MB). */
const LINES_BUDGET = 64_000_000;

/** What pass 1 keeps for runs.csv, per record of the scan (same indices); `add` is its RecordHook. */
export class RunsCsvRows {
  readonly shapes: Shape[] = [];
  readonly shapeIdx: number[] = [];
  /**
   * runs.csv line of each record, formatted with the columns of its own shape (null once they
   * would take more than LINES_BUDGET characters: then pass 2 reads the journal again).
   */
  lines: string[] | null = [];
  private lineChars = 0;
  private readonly shapeCols: RunColumns[] = [];
  private readonly shapeIndex = new Map<string, number>();

  add(rec: JournalRecord, cfg: Record<string, unknown>, trial: number, cell: Record<string, AxisValue>): void {
    const res = (rec.result ?? {}) as unknown as Record<string, unknown>;
    const shape: Shape = {
      configExtra: Object.keys(cfg).filter((k) => !CONFIG_SKIP.has(k) && !CONFIG_ORDER.includes(k)).sort(),
      dataKeys: cfg.data && typeof cfg.data === 'object' ? Object.keys(cfg.data).sort() : [],
      resultExtra: Object.entries(res).filter(([k, v]) => !RESULT_ORDER.includes(k) && !RESULT_SKIP.has(k) && (v === null || typeof v !== 'object')).map(([k]) => k).sort(),
      thresholds: ((rec.result?.milestones ?? []) as Milestone[]).map((ms) => [thresholdLabel(ms.threshold), ms.threshold] as [string, number]),
    };
    const si = intern(this.shapeIndex, this.shapes, JSON.stringify(shape), () => shape);
    this.shapeIdx.push(si);
    if (this.lines !== null) {
      const line = runLine(rec, this.shapeCols[si] ??= runColumns([shape]), trial, cell.rho);
      this.lineChars += line.length;
      if (this.lineChars > LINES_BUDGET) this.lines = null; else this.lines.push(line);
    }
  }
}

/** The live records in table order: by cell (axes in the order of `keys`), then trial, then id. */
function runOrder(sc: Scan, keys: string[]): number[] {
  const cellOrder = sc.cells.map((_, k) => k).sort((a, b) => compareCells(keys, sc.cells[a]!.cell, sc.cells[b]!.cell));
  const cellRank = new Array<number>(sc.cells.length);
  cellOrder.forEach((c, r) => { cellRank[c] = r; });
  return [...sc.live].sort((a, b) => cellRank[sc.cellIdx[a]!]! - cellRank[sc.cellIdx[b]!]! ||
    sc.trial[a]! - sc.trial[b]! || (sc.ids[a]! < sc.ids[b]! ? -1 : sc.ids[a]! > sc.ids[b]! ? 1 : 0));
}

/**
 * Writes runs.csv: the live records in table order (cell, then trial, then id). Columns are the
 * union over the live records' shapes. When every live record has one shape, the lines formatted
 * in pass 1 are used (if they were kept); otherwise each line is read again from the journal `fd`.
 * Returns the sha256 (hex) of the file written.
 */
export async function writeRunsCsv(file: string, fd: number, sc: Scan, rows: RunsCsvRows, keys: string[]): Promise<string> {
  const order = runOrder(sc, keys);
  const liveShapes = [...new Set(sc.live.map((i) => rows.shapeIdx[i]!))].sort((a, b) => a - b);
  const cols = runColumns(liveShapes.map((k) => rows.shapes[k]!));
  const kept = rows.lines !== null && liveShapes.length === 1 ? rows.lines : null;
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
  return out.digest();
}
