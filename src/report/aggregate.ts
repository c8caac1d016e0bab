// The aggregator: results/<name>/runs.jsonl -> the CSV tables of METHOD.md section 6.
// Report code never imports the core at runtime; it reads JSON records only.
//
// Files written into the results folder (each atomically: tmp file, then rename), each documented
// where it is built:
//
// - runs.csv              one row per run                       src/report/runs-table.ts
// - summary.csv           one row per cell, with statistics     src/report/summary-table.ts
// - phase-<method>.csv    the phase table of one method         src/report/phase-table.ts
// - boundary.csv          the empirical 50% boundary            src/report/boundary-table.ts
// - tables.json           the sidecar describing the tables     src/report/sidecar.ts
// - envelope.csv, envelope-phase-<method>.csv, envelope-boundary.csv
//                         with --best-over: each method at its best settings   src/report/envelope.ts
// - *.svg, report.html    the charts and the report (unless report: false)     src/report/report.ts
// - tables.sha256         the manifest of the set, written last  (below)
//
// The files are written one by one, each atomically, so a reader during a refresh, or after an
// aggregate that was stopped part way, may find some new and some old. tables.sha256 (the format of
// `sha256sum`, with the journal state as a # comment) is written last and lists the digest of every
// file of the set: the files form one set, made from one journal state, exactly when
// `sha256sum -c tables.sha256` passes in the folder. A file it does not list (a phase table of a
// method no longer in the spec) is not part of the set.
//
// Which records count (the current spec's, the last record of each id) is decided when the journal
// is read: src/report/journal-read.ts.
//
// Rows and columns are sorted (numbers by value, text by code points; src/report/shared.ts) and
// numbers have a fixed form (raw values in shortest round-trip form, statistics to 6 significant
// digits), so the same records always give byte-identical files. runs.csv and summary.csv also
// hold wall-clock measurements (seconds, wallSeconds, ...), which differ between two executions of
// a sweep; the phase tables, boundary.csv, tables.json and the SVG charts depend on the records only
// (no time stamps). report.html also shows when it was written and the progress of a running sweep.
import { createHash } from 'node:crypto';
import { basename, join, resolve } from 'node:path';
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import type { GridView } from '../sweep/types.js';
import type { EnvelopeCell } from './envelope.js';
import type { PhaseTable } from './phase-table.js';
import type { BoundaryRow } from './boundary-table.js';
import { writeAtomic } from './csv.js';
import { JOURNAL_FILE, scanJournal } from './journal-read.js';
import { RunsCsvRows, writeRunsCsv } from './runs-table.js';
import { cellStats, summaryCsv } from './summary-table.js';
import { phaseCsv, phaseFileName, phaseTable, phaseText } from './phase-table.js';
import { boundaryCsv, boundaryRows } from './boundary-table.js';
import { checkBestOver, envelope, envelopeCells, envelopeCsv, ENVELOPE_FILE } from './envelope.js';
import { RecordExtras, runFacts } from './record-extras.js';
import { writeReport } from './report.js';
import type { ReportContext, ReportOutput } from './report.js';
import { sidecarJson } from './sidecar.js';
import { compareCells, orderKeys } from './shared.js';

export { JOURNAL_FILE } from './journal-read.js';
export { REPORT_FILE } from './report.js';
export type { ReportContext } from './report.js';
export { BestOverError, parseBestOver } from './envelope.js';

/** The manifest of the table set, written last (see the top of this file). */
export const MANIFEST_FILE = 'tables.sha256';
export { compareValues } from './shared.js';
export { thresholdLabel } from './runs-table.js';

export interface AggregateOutput {
  dir: string;
  /**
   * Paths written, in order: runs.csv, summary.csv, phase-<method>.csv..., boundary.csv, tables.json,
   * (with bestOver) envelope.csv, envelope-phase-<method>.csv..., envelope-boundary.csv, then the
   * charts (*.svg), report.html and last tables.sha256.
   */
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
  /** The charts written and any chart warnings (null with report: false). */
  report: ReportOutput | null;
}

export interface AggregateOptions {
  /** The current spec's grid: only its records count, labelled by it (see src/report/journal-read.ts). */
  grid?: GridView | null;
  /**
   * Axes to optimise over (`lr`, `outputScale`; see src/report/envelope.ts): also writes the
   * envelope tables and charts. Throws BestOverError when a name is no axis of the runs.
   */
  bestOver?: string[] | null;
  /** The report's context, or false for the tables only (default: a static report). */
  report?: ReportContext | false;
}

/**
 * Reads `<dir>/runs.jsonl` and writes runs.csv, summary.csv, phase-<method>.csv, boundary.csv,
 * tables.json, the charts, report.html and tables.sha256 into `dir` (see the top of this file). Safe to call while a
 * sweep appends to the journal.
 */
export async function aggregate(dir: string, opts: AggregateOptions = {}): Promise<AggregateOutput> {
  mkdirSync(dir, { recursive: true });
  const journal = join(dir, JOURNAL_FILE);
  // One descriptor for both passes, so the byte offsets of pass 1 hold in pass 2 even if the
  // journal file is replaced meanwhile (appends only extend it; pass 1 stops at its size then).
  const fd = existsSync(journal) ? openSync(journal, 'r') : -1;
  try {
    return await aggregateFrom(dir, journal, fd, opts);
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

async function aggregateFrom(dir: string, journal: string, fd: number, opts: AggregateOptions): Promise<AggregateOutput> {
  const runRows = new RunsCsvRows();
  const extras = new RecordExtras();
  const sc = await scanJournal(fd, journal, opts.grid ?? null, (rec, cfg, trial, cell) => {
    runRows.add(rec, cfg, trial, cell);
    extras.add(rec);
  });
  const files: string[] = [];
  const manifest: string[] = [];
  const write = (name: string, text: string) => {
    const p = join(dir, name);
    writeAtomic(p, text);
    files.push(p);
    manifest.push(`${createHash('sha256').update(text).digest('hex')}  ${name}\n`);
  };

  // Every table lists the cells in one order: by their axes, in this order of the axes.
  const keys = orderKeys(sc.cells.flatMap((c) => Object.keys(c.cell)));
  const cells = cellStats(sc, extras);
  cells.sort((a, b) => compareCells(keys, a.cell, b.cell));
  // a bad --best-over fails before any table is replaced
  const bestOver = opts.bestOver && opts.bestOver.length ? opts.bestOver : null;
  if (bestOver) checkBestOver(bestOver, cells);

  const runsFile = join(dir, 'runs.csv');
  manifest.push(`${await writeRunsCsv(runsFile, fd, sc, runRows, keys)}  runs.csv\n`);
  files.push(runsFile);
  write('summary.csv', summaryCsv(cells, keys));

  const methods = [...new Set(cells.map((c) => c.method))].sort();
  const tables = methods.map((m) => phaseTable(m, cells.filter((c) => c.method === m)));
  for (const t of tables) write(phaseFileName(t.method, 'csv'), phaseCsv(t));
  const boundary = boundaryRows(tables);
  write('boundary.csv', boundaryCsv(tables, boundary));

  let env: { over: string[]; cells: EnvelopeCell[]; tables: PhaseTable[]; boundary: BoundaryRow[] } | null = null;
  if (bestOver) {
    const envCells = envelope(cells, bestOver, keys);
    const reduced = envelopeCells(envCells);
    const envTables = methods.map((m) => {
      const t = phaseTable(m, reduced.filter((c) => c.method === m));
      return { ...t, comment: t.comment.replace(/^# phase table of method \S+:/, `# envelope phase table of method ${m} over ${bestOver.join(', ')} (each cell: the best setting's k/R, named in ${ENVELOPE_FILE}):`) };
    });
    env = { over: bestOver, cells: envCells, tables: envTables, boundary: boundaryRows(envTables) };
  }
  write('tables.json', sidecarJson(sc, cells, tables, env));
  if (env) {
    write(ENVELOPE_FILE, envelopeCsv(env.cells, env.over));
    for (const t of env.tables) write(`envelope-${phaseFileName(t.method, 'csv')}`, phaseCsv(t));
    write('envelope-boundary.csv', boundaryCsv(env.tables, env.boundary));
  }

  let report: ReportOutput | null = null;
  if (opts.report !== false) {
    const tableFiles = files.map((p) => basename(p));
    report = await writeReport({
      sc, fd, cells, tables, boundary, facts: runFacts(sc, extras), envelope: env, tableFiles,
    }, opts.report ?? {}, write);
  }

  // last: the manifest of the set (see the top of this file)
  const manifestFile = join(dir, MANIFEST_FILE);
  writeAtomic(manifestFile, `# narrowsweep tables of ${JOURNAL_FILE} at ${sc.bytes} bytes (${sc.lines} records); ` +
    `they are one set when \`sha256sum -c ${MANIFEST_FILE}\` passes in this folder\n${manifest.join('')}`);
  files.push(manifestFile);

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
    phase: headlineMethod === null ? null : formatPhaseTable(headlineMethod), formatPhaseTable, report,
  };
}
