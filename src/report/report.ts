// The report: every chart as a standalone SVG file and report.html, from the tables aggregate has
// just computed (so a chart and its table cannot disagree). Files, each written atomically:
//
// - phase-<method>.svg           heatmap of the phase table (one panel per row group): colour the
//                                 rate, k/R in each cell, rho = 1 and rho = 2 lines, the rho50 boundary
// - envelope-phase-<method>.svg  the same for the envelope (with --best-over), the winning setting in each cell
// - frontier.svg                 rho50 against n (or d) for every method, with Wilson bands
// - envelope-frontier.svg        the same for the envelope
// - curves.svg                   relLoss against iteration at rho just below and above 2, per method
// - nice-region.svg              sigma_min(J) start/end and ||W - W0|| against the radius, pgd and mirror-gd
// - test-accuracy.svg            median test accuracy against rho (when a run has a test split)
// - report.html                  the header and all of the above inline, offline, with the chart data as JSON
//
// The SVG files depend on the tables only (no time stamps), so the same records give the same
// bytes; report.html also holds the header's times and progress.
import { cpus, hostname } from 'node:os';
import type { Spec } from '../sweep/spec.js';
import type { BoundaryRow } from './boundary-table.js';
import { curveCells, curvesData, frontierData, heatmapData, niceRegionData, NICE_METHODS, testAccuracyData } from './chart-data.js';
import { curvesSpec, frontierSpec, heatmapSpec, niceRegionSpec, testAccuracySpec } from './chart-specs.js';
import type { EnvelopeCell } from './envelope.js';
import type { Scan } from './journal-read.js';
import type { PhaseTable } from './phase-table.js';
import type { RunFacts } from './record-extras.js';
import { reportHtml } from './report-html.js';
import type { ReportFigure, ReportSection } from './report-html.js';
import type { CellStats } from './summary-table.js';
import { readTraces } from './traces.js';
import { chartLibraryVersions, renderChart } from './vega-render.js';

export const REPORT_FILE = 'report.html';
/** The facts of the report's header as JSON: runs by status, wall time, hosts, engines, versions. */
export const MANIFEST_JSON = 'manifest.json';

/** What the command that writes the report knows beyond the journal. */
export interface ReportContext {
  /** The folder's current spec (its header lists the axes and settings). */
  spec?: Spec | null;
  /** Configurations in the spec (every shard), for the progress line. */
  totalRuns?: number | null;
  /** running: a refresh during `run` (the page reloads itself); final: the end of `run`; static: `aggregate`/`report`. */
  state?: 'running' | 'final' | 'static';
  /** Seconds between refreshes during a run (the page's reload interval). */
  refreshSeconds?: number | null;
  /** When the current `run` session started (ms since the epoch). */
  sessionStartedAt?: number | null;
  /** The time written into the header (default: now); tests pass a fixed one. */
  now?: Date;
}

export interface ReportInput {
  sc: Scan;
  fd: number;
  cells: CellStats[];
  tables: PhaseTable[];
  boundary: BoundaryRow[];
  facts: RunFacts;
  envelope: { over: string[]; cells: EnvelopeCell[]; tables: PhaseTable[]; boundary: BoundaryRow[] } | null;
  /** The files written before the report (for its list of tables), by name. */
  tableFiles: string[];
}

/** Chart warnings (vega-lite or vega) of the last report, by chart; empty for correct specs. */
export interface ReportOutput {
  charts: string[];
  warnings: Record<string, string[]>;
  chartData: Record<string, unknown>;
}

const distinct = <T extends number | string>(xs: T[]): T[] => [...new Set(xs)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

/** Writes the charts and report.html through `write(name, text)`; returns the chart names and any warnings. */
export async function writeReport(input: ReportInput, ctx: ReportContext, write: (name: string, text: string) => void): Promise<ReportOutput> {
  const { tables, boundary, cells, envelope } = input;
  const groupKeys = new Map(tables.map((t) => [t.method, t.groupKeys]));
  const chartData: Record<string, unknown> = {};
  const warnings: Record<string, string[]> = {};
  const rendered = new Map<string, string>();
  const charts: string[] = [];
  const draw = async (name: string, data: unknown, spec: Record<string, unknown>): Promise<void> => {
    const r = await renderChart(spec, name);
    if (r.warnings.length) warnings[name] = r.warnings;
    chartData[name] = data;
    rendered.set(name, r.svg);
    write(`${name}.svg`, r.svg);
    charts.push(name);
  };

  const figure = (name: string, kind: string, caption: string): ReportFigure[] => {
    const svg = rendered.get(name);
    return svg === undefined ? [] : [{ name, kind, svg, caption }];
  };
  const sections: ReportSection[] = [];

  // Frontiers first: the comparison the paper is about.
  const frontier = frontierData(boundary);
  if (frontier.points.length) await draw(frontier.name, frontier, frontierSpec(frontier, `Frontiers: rho50 against ${frontier.xField}, every method`));
  let envFrontierName: string | null = null;
  if (envelope) {
    const ef = frontierData(envelope.boundary, { envelope: true });
    if (ef.points.length) {
      await draw(ef.name, ef, frontierSpec(ef, `Frontiers at each method's best setting over ${envelope.over.join(', ')}`));
      envFrontierName = ef.name;
    }
  }
  sections.push({
    id: 'frontiers', title: 'Frontiers',
    intro: 'The interpolated width ratio rho50 at which each method reaches 50% success (boundary.csv), against the problem size. ' +
      '<code>lm</code> started in the nice region is the expressivity frontier; every first-order method is a trainability frontier. ' +
      'Open triangles: no crossing inside the measured range (drawn at its edge).',
    figures: [
      ...figure(frontier.name, 'frontier', 'Points and lines: boundary.csv rho50; bands: rho50Low..rho50High.'),
      ...(envFrontierName ? figure(envFrontierName, 'frontier', 'The same from envelope-boundary.csv.') : []),
    ],
    empty: 'No boundary rows yet.',
  });

  // Heatmaps, per method.
  const heatFigures: ReportFigure[] = [];
  for (const t of tables) {
    const h = heatmapData(t, boundary);
    await draw(h.name, h, heatmapSpec(h));
    heatFigures.push(...figure(h.name, 'heatmap', `${t.method}: phase-${t.method}.csv drawn, with the rho50 boundary of boundary.csv.`));
  }
  if (envelope) {
    for (const t of envelope.tables) {
      const h = heatmapData(t, envelope.boundary, { envelope: { over: envelope.over, cells: envelope.cells } });
      await draw(h.name, h, heatmapSpec(h));
      heatFigures.push(...figure(h.name, 'heatmap', `${t.method} at its best setting per cell: envelope-phase-${t.method}.csv, the winner named in each cell (envelope.csv).`));
    }
  }
  sections.push({
    id: 'heatmaps', title: 'Phase heatmaps',
    intro: 'One heatmap per method (one panel per row group): rows rho (or m), columns (n, d), colour the success rate, k/R in each cell; ' +
      'dashed lines at rho = 1 (counting bound) and rho = 2 (Theorem 1), the orange line the interpolated 50% boundary.',
    figures: heatFigures, empty: 'No runs yet.',
  });

  // Training curves.
  const cc = curveCells(tables);
  const curves = curvesData(cc, readTraces(input.fd, input.sc, cc));
  if (curves.runs.length) await draw(curves.name, curves, curvesSpec(curves));
  sections.push({
    id: 'curves', title: 'Training curves',
    intro: 'For each method, the largest (n, d), the rows just below and just above rho = 2, and the row group (setting) with the highest ' +
      'success rate over those two cells. Each line is one trial\'s bounded loss trace (log-spaced, stored with the record, not in runs.csv).',
    figures: figure(curves.name, 'curves', `Panels: ${curves.panels.map((p) => p.panel).join('; ')}.`),
    empty: cc.length ? 'These runs have no loss traces (records written before traces were kept have none).' : 'No runs near rho = 2 yet.',
  });

  // The nice region.
  const nice = niceRegionData(cells, groupKeys);
  if (nice.sigma.length || nice.distance.length) await draw(nice.name, nice, niceRegionSpec(nice));
  sections.push({
    id: 'nice-region', title: 'The nice region',
    intro: 'Whether the iterates stay where the Jacobian has full row rank (METHOD.md section 3): sigma_min(J) at the first and the last iterate, and the distance ' +
      'travelled ||W - W0||_F against the ball radius pgd uses.',
    figures: figure(nice.name, 'nice-region', `Methods: ${nice.methods.join(', ')}; summary.csv sigmaMinJStart, sigmaMinJEnd, medianDistW0, medianRadiusUsed.`),
    empty: cells.some((c) => NICE_METHODS.includes(c.method)) ? 'No certificate or distance values in these runs.' : 'No pgd or mirror-gd runs in this sweep.',
  });

  // Test accuracy.
  const acc = testAccuracyData(cells, groupKeys);
  if (acc.points.length) await draw(acc.name, acc, testAccuracySpec(acc));
  sections.push({
    id: 'test-accuracy', title: 'Test accuracy',
    intro: 'Median test accuracy against rho, per method, where the data has a test split.',
    figures: figure(acc.name, 'test-accuracy', 'summary.csv medianTestAccuracy.'), empty: 'No run has a test split.',
  });

  const now = ctx.now ?? new Date();
  const cpu = cpus();
  const machine = `${hostname()} (${process.platform} ${process.arch}, ${cpu.length} x ${cpu[0]?.model.trim() ?? 'unknown CPU'}, node ${process.version})`;
  const libraries = await chartLibraryVersions();
  const html = reportHtml({
    specName: ctx.spec?.name ?? null, spec: ctx.spec ?? null, state: ctx.state ?? 'static', totalRuns: ctx.totalRuns ?? null,
    refreshSeconds: ctx.refreshSeconds ?? null,
    sessionStartedAt: ctx.sessionStartedAt ? new Date(ctx.sessionStartedAt).toISOString() : null,
    facts: input.facts,
    epsilon: distinct(cells.flatMap((c) => c.epsilon)), data: distinct(cells.flatMap((c) => c.data)),
    iterations: distinct(cells.flatMap((c) => c.iterations)), seconds: distinct(cells.flatMap((c) => c.seconds)),
    notInSpec: input.sc.notInSpec, tornLine: input.sc.tornLine, bestOver: envelope?.over ?? null,
    writtenAt: now.toISOString(),
    machine,
    libraries,
    files: [...input.tableFiles, ...charts.map((c) => `${c}.svg`), MANIFEST_JSON],
  }, sections, chartData);
  write(REPORT_FILE, html);
  // The header's facts as data, for a results folder committed without its journal.
  const f = input.facts;
  write(MANIFEST_JSON, `${JSON.stringify({
    spec: ctx.spec?.name ?? null, description: ctx.spec?.description ?? null, state: ctx.state ?? 'static',
    runs: f.runs, totalRuns: ctx.totalRuns ?? null, successes: f.successes, byStatus: f.byStatus,
    firstStart: f.firstStart, lastFinish: f.lastFinish, runSeconds: f.runSeconds,
    hosts: f.hosts, engines: f.engines, versions: f.versions,
    writtenAt: now.toISOString(), writtenOn: machine, chartLibraries: libraries,
  }, null, 2)}\n`);
  return { charts, warnings, chartData };
}
