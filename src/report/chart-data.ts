// The data of every chart, derived from the computed tables only (the phase tables, boundary rows,
// cell statistics and envelope), so a chart and its table agree by construction. The chart specs
// (src/report/chart-specs.ts) draw these rows as they are; report.html carries them as JSON too.
//
// Positions in a heatmap: the rows of a panel are its widths in ascending order, row i covering
// [i, i + 1] on the y axis (rho increases upwards), column j covering [j, j + 1] on the x axis. A
// rho value (a mark at rho = 1 or 2, the interpolated boundary rho50) is placed by linear
// interpolation between the row centres of the column (rho = m d / n in m tables), so a line at
// rho = 1 passes through the centre of the rho = 1 row; values outside the measured rows are not drawn.
import type { AxisValue } from '../sweep/types.js';
import type { BoundaryRow } from './boundary-table.js';
import type { EnvelopeCell } from './envelope.js';
import { settingText } from './envelope.js';
import type { PhaseTable } from './phase-table.js';
import { fixedText } from './phase-table.js';
import type { CellStats } from './summary-table.js';
import { fmt, listText, stableJson } from './shared.js';

export interface HeatmapCell {
  row: number;
  col: number;
  width: number;
  column: string;
  successes: number;
  trials: number;
  rate: number;
  label: string;
  /** Envelope heatmaps: the winning setting. */
  setting?: string;
}

export interface HeatmapPanel {
  group: Record<string, AxisValue>;
  /** `outputScale = 10`, or null for a table without row groups. */
  title: string | null;
  /** Row labels, bottom (row 0) to top. */
  rows: string[];
  cells: HeatmapCell[];
  /** Positions without a finished run yet. */
  empty: Array<{ row: number; col: number; width: number; column: string }>;
  /** The lines rho = 1 and rho = 2, one segment per column where the column's rows reach them. */
  marks: Array<{ col: number; y: number; rho: 1 | 2; label: string }>;
  /** The interpolated 50% boundary (boundary.csv rho50) per column; `segment` joins adjacent columns. */
  boundary: Array<{ col: number; y: number; rho50: number; segment: number }>;
}

export interface HeatmapData {
  kind: 'heatmap';
  /** File stem: phase-<method> or envelope-phase-<method>. */
  name: string;
  method: string;
  envelope: boolean;
  width: 'rho' | 'm';
  columns: string[];
  title: string;
  subtitle: string[];
  panels: HeatmapPanel[];
}

const MARK_LABEL: Record<1 | 2, string> = { 1: 'rho = 1 (counting bound)', 2: 'rho = 2 (Theorem 1)' };

/** Linear interpolation of `rho` over the points (rho_i, y_i) sorted by rho; null outside them. */
function place(rho: number, pts: Array<{ rho: number; y: number }>): number | null {
  if (pts.length === 0 || rho < pts[0]!.rho || rho > pts[pts.length - 1]!.rho) return null;
  for (let i = 0; i < pts.length; i++) {
    const p = pts[i]!;
    if (p.rho === rho) return p.y;
    const q = pts[i + 1];
    if (q && rho < q.rho) return p.y + ((rho - p.rho) / (q.rho - p.rho)) * (q.y - p.y);
  }
  return null;
}

/** An axis value for a label: object values (canonical JSON text in a cell) as `(k=v, k=v)`. */
function valueLabel(v: AxisValue): string {
  if (typeof v === 'string' && v.startsWith('{')) {
    try {
      const o = JSON.parse(v) as Record<string, unknown>;
      return `(${Object.entries(o).map(([k, x]) => `${k}=${typeof x === 'string' ? x : JSON.stringify(x)}`).join(', ')})`;
    } catch { /* not JSON: as it is */ }
  }
  return fmt(v);
}

/**
 * `k=v k=v` for a row group (`sep` between key and value), per-method axes without their method
 * prefix (`pgd.lr` -> `lr`), object values such as a data spec as `(k=v, ...)`.
 */
export function groupText(method: string, group: Record<string, AxisValue>, sep = '='): string {
  return Object.entries(group).map(([k, v]) => `${k.startsWith(`${method}.`) ? k.slice(method.length + 1) : k}${sep}${valueLabel(v)}`).join(' ');
}

/** A method with its row group, as a chart's series name. */
export function seriesName(method: string, group: Record<string, AxisValue>): string {
  const g = groupText(method, group);
  return g ? `${method} ${g}` : method;
}

/** The heatmap of one phase table (one panel per row group), with the boundary rows of that table. */
export function heatmapData(t: PhaseTable, boundary: BoundaryRow[], opts: { envelope?: { over: string[]; cells: EnvelopeCell[] } } = {}): HeatmapData {
  const env = opts.envelope;
  const settingOf = new Map(env ? env.cells.map((e) => [stableJson(e.cell), settingText(e)]) : []);
  const boundaryAt = new Map(boundary.filter((b) => b.method === t.method).map((b) => [`${b.n};${b.d};${stableJson(b.group)}`, b]));
  const groups = new Map<string, { group: AxisValue[]; rows: PhaseTable['rows'] }>();
  for (const r of t.rows) {
    const key = stableJson(r.group);
    const g = groups.get(key);
    if (g) g.rows.push(r); else groups.set(key, { group: r.group, rows: [r] });
  }
  const panels: HeatmapPanel[] = [];
  for (const { group, rows } of groups.values()) {
    const groupObj = Object.fromEntries(t.groupKeys.map((k, i) => [k, group[i] ?? null]));
    const sorted = [...rows].sort((a, b) => a.width - b.width);
    const panel: HeatmapPanel = {
      group: groupObj, title: t.groupKeys.length ? groupText(t.method, groupObj, ' = ') : null,
      rows: sorted.map((r) => String(r.width)), cells: [], empty: [], marks: [], boundary: [],
    };
    sorted.forEach((r, i) => {
      r.cells.forEach((c, j) => {
        const column = t.columns[j]!.label;
        if (c === null || c.trials === 0) { panel.empty.push({ row: i, col: j, width: r.width, column }); return; }
        const setting = env ? settingOf.get(stableJson(c.cell)) : undefined;
        panel.cells.push({
          row: i, col: j, width: r.width, column, successes: c.successes, trials: c.trials, rate: c.successes / c.trials,
          label: `${c.successes}/${c.trials}`, ...(setting !== undefined ? { setting } : {}),
        });
      });
    });
    let segment = 0;
    let previous = -2;
    t.columns.forEach((col, j) => {
      const pts = sorted.map((r, i) => ({ rho: t.width === 'rho' ? r.width : (r.width * col.d) / col.n, y: i + 0.5 }));
      for (const rho of [1, 2] as const) {
        const y = place(rho, pts);
        if (y !== null) panel.marks.push({ col: j, y, rho, label: MARK_LABEL[rho] });
      }
      const b = boundaryAt.get(`${col.n};${col.d};${stableJson(groupObj)}`);
      const y = b && b.rho50 !== null ? place(b.rho50, pts) : null;
      if (b && b.rho50 !== null && y !== null) {
        if (previous !== j - 1) segment++;
        panel.boundary.push({ col: j, y, rho50: b.rho50, segment });
        previous = j;
      }
    });
    panels.push(panel);
  }
  const fixed = fixedText(t.fixed);
  return {
    kind: 'heatmap', name: `${env ? 'envelope-' : ''}phase-${t.method.replace(/[^A-Za-z0-9._-]/g, '_')}`, method: t.method, envelope: !!env,
    width: t.width, columns: t.columns.map((c) => c.label),
    title: env ? `${t.method} at its best setting over ${env.over.join(', ')}: successes k/R` : `${t.method}: successes k/R`,
    subtitle: [
      `success: relLoss <= ${listText(t.epsilon)}; budget ${listText(t.iterations)} iterations, ${listText(t.seconds, ' s')} per run`,
      `data: ${t.data.join(' | ')}${fixed ? `; fixed: ${fixed}` : ''}`,
      ...(t.width === 'rho' ? [] : ['rows: m (rho = m d / n differs per column)']),
    ],
    panels,
  };
}

// ---- frontiers ----

export interface FrontierPoint {
  method: string;
  series: string;
  /** The line a point belongs to (its series, plus the other of n, d when that varies). */
  line: string;
  n: number;
  d: number;
  x: number;
  /** boundary.csv rho50, rho50Low, rho50High (null: empty there). */
  rho50: number | null;
  rho50Low: number | null;
  rho50High: number | null;
  /** Where the point is drawn: rho50, or the edge of the measured range when rho50 is empty. */
  y: number;
  /** The band drawn: rho50Low..rho50High, an open end at the edge of the measured range. */
  bandLow: number;
  bandHigh: number;
  /** crossing: rho50 interpolated; at-or-below: rate >= 0.5 at every rho (drawn at the lowest); above: rate < 0.5 everywhere (drawn at the highest). */
  kind: 'crossing' | 'at-or-below' | 'above';
}

export interface FrontierData {
  kind: 'frontier';
  name: string;
  envelope: boolean;
  xField: 'n' | 'd';
  points: FrontierPoint[];
}

/** The frontier chart's points: one per boundary row. */
export function frontierData(rows: BoundaryRow[], opts: { envelope?: boolean } = {}): FrontierData {
  const ns = new Set(rows.map((r) => r.n)), ds = new Set(rows.map((r) => r.d));
  const xField: 'n' | 'd' = ns.size >= ds.size ? 'n' : 'd';
  // when points at one x differ in the other dimension (not just n and d growing together): one line per value
  const others = new Map<number, Set<number>>();
  for (const r of rows) {
    const [x, o] = xField === 'n' ? [r.n, r.d] : [r.d, r.n];
    others.set(x, (others.get(x) ?? new Set()).add(o));
  }
  const otherVaries = [...others.values()].some((s) => s.size > 1);
  const points = rows.map((r): FrontierPoint => {
    const series = seriesName(r.method, r.group);
    const kind = r.rho50 !== null ? 'crossing' : r.lastBelow === null ? 'at-or-below' : 'above';
    return {
      method: r.method, series, line: otherVaries ? `${series} (${xField === 'n' ? `d=${r.d}` : `n=${r.n}`})` : series,
      n: r.n, d: r.d, x: xField === 'n' ? r.n : r.d, rho50: r.rho50, rho50Low: r.rho50Low, rho50High: r.rho50High,
      y: r.rho50 ?? (kind === 'at-or-below' ? r.rhoMin : r.rhoMax),
      bandLow: r.rho50Low ?? r.rhoMin, bandHigh: r.rho50High ?? r.rhoMax, kind,
    };
  });
  return { kind: 'frontier', name: `${opts.envelope ? 'envelope-' : ''}frontier`, envelope: !!opts.envelope, xField, points };
}

// ---- per-cell medians against rho: the nice region and the test accuracy ----

/** The x of a cell in the per-cell charts: rho as given, else m d / n. */
function rhoOf(c: CellStats): number {
  return typeof c.cell.rho === 'number' ? c.cell.rho : (c.m * c.d) / c.n;
}

function groupOf(c: CellStats, groupKeys: Map<string, string[]>): Record<string, AxisValue> {
  return Object.fromEntries((groupKeys.get(c.method) ?? []).map((k) => [k, c.cell[k] ?? null]));
}

export interface NiceRegionData {
  kind: 'nice-region';
  name: 'nice-region';
  methods: string[];
  /** Median sigma_min(J) at the first and the last iterate (summary.csv sigmaMinJStart, sigmaMinJEnd); values <= 0 are left out (log axis). */
  sigma: Array<{ column: string; series: string; method: string; rho: number; which: 'start' | 'end'; sigmaMinJ: number }>;
  /** Median ||W - W0||_F (medianDistW0) and the ball's radius (medianRadiusUsed, pgd only). */
  distance: Array<{ column: string; series: string; method: string; rho: number; what: 'distW0' | 'radius'; value: number }>;
}

export const NICE_METHODS = ['pgd', 'mirror-gd'];

export function niceRegionData(cells: CellStats[], groupKeys: Map<string, string[]>): NiceRegionData {
  const data: NiceRegionData = { kind: 'nice-region', name: 'nice-region', methods: [], sigma: [], distance: [] };
  const methods = new Set<string>();
  for (const c of cells) {
    if (!NICE_METHODS.includes(c.method)) continue;
    methods.add(c.method);
    const base = { column: `n=${c.n};d=${c.d}`, series: seriesName(c.method, groupOf(c, groupKeys)), method: c.method, rho: rhoOf(c) };
    if (c.sigmaMinJStart !== null && c.sigmaMinJStart > 0) data.sigma.push({ ...base, which: 'start', sigmaMinJ: c.sigmaMinJStart });
    if (c.sigmaMinJEnd !== null && c.sigmaMinJEnd > 0) data.sigma.push({ ...base, which: 'end', sigmaMinJ: c.sigmaMinJEnd });
    if (c.medianDistW0 !== null && c.medianDistW0 > 0) data.distance.push({ ...base, what: 'distW0', value: c.medianDistW0 });
    if (c.medianRadiusUsed !== null && c.medianRadiusUsed > 0) data.distance.push({ ...base, what: 'radius', value: c.medianRadiusUsed });
  }
  data.methods = NICE_METHODS.filter((m) => methods.has(m));
  return data;
}

export interface TestAccuracyData {
  kind: 'test-accuracy';
  name: 'test-accuracy';
  points: Array<{ column: string; series: string; method: string; rho: number; testAccuracy: number; trials: number }>;
}

/** summary.csv medianTestAccuracy against rho, for every cell that has one. */
export function testAccuracyData(cells: CellStats[], groupKeys: Map<string, string[]>): TestAccuracyData {
  const points: TestAccuracyData['points'] = [];
  for (const c of cells) {
    if (c.medianTestAccuracy === null) continue;
    points.push({
      column: `n=${c.n};d=${c.d}`, series: seriesName(c.method, groupOf(c, groupKeys)), method: c.method, rho: rhoOf(c),
      testAccuracy: c.medianTestAccuracy, trials: c.trials,
    });
  }
  return { kind: 'test-accuracy', name: 'test-accuracy', points };
}

// ---- training curves ----

/** One representative cell of a method: the largest (n, d), the rows just below and above rho = 2. */
export interface CurveCell {
  method: string;
  panel: string;
  side: 'below' | 'above';
  rho: number;
  cell: CellStats;
}

/**
 * The representative cells of each phase table: the last column (largest n, then d); the rows with
 * the largest rho < 2 and the smallest rho > 2 that have runs there (rho = m d / n in m tables); of
 * the row groups (settings), the one with the highest success rate over those two cells (then the
 * first in table order).
 */
export function curveCells(tables: PhaseTable[]): CurveCell[] {
  const out: CurveCell[] = [];
  for (const t of tables) {
    const j = t.columns.length - 1;
    const col = t.columns[j];
    if (!col) continue;
    const groups = new Map<string, PhaseTable['rows']>();
    for (const r of t.rows) {
      const key = stableJson(r.group);
      groups.set(key, [...(groups.get(key) ?? []), r]);
    }
    let best: { below: { rho: number; cell: CellStats } | null; above: { rho: number; cell: CellStats } | null; rate: number; group: AxisValue[] } | null = null;
    for (const rows of groups.values()) {
      let below: { rho: number; cell: CellStats } | null = null;
      let above: { rho: number; cell: CellStats } | null = null;
      for (const r of rows) {
        const c = r.cells[j];
        if (!c || c.trials === 0) continue;
        const rho = t.width === 'rho' ? r.width : (r.width * col.d) / col.n;
        if (rho < 2 && (below === null || rho > below.rho)) below = { rho, cell: c };
        if (rho > 2 && (above === null || rho < above.rho)) above = { rho, cell: c };
      }
      if (!below && !above) continue;
      const picked = [below, above].filter((x) => x !== null);
      const rate = picked.reduce((s, x) => s + x.cell.successes, 0) / picked.reduce((s, x) => s + x.cell.trials, 0);
      if (best === null || rate > best.rate) best = { below, above, rate, group: rows[0]!.group };
    }
    if (!best) continue;
    const g = groupText(t.method, Object.fromEntries(t.groupKeys.map((k, i) => [k, best.group[i] ?? null])));
    const rhos = [best.below, best.above].filter((x) => x !== null).map((x) => String(Number(x.rho.toPrecision(6))));
    const panel = `${t.method} (n=${col.n}, d=${col.d}${g ? `, ${g}` : ''}): rho ${rhos.join(' and ')}`;
    if (best.below) out.push({ method: t.method, panel, side: 'below', rho: best.below.rho, cell: best.below.cell });
    if (best.above) out.push({ method: t.method, panel, side: 'above', rho: best.above.rho, cell: best.above.cell });
  }
  return out;
}

export interface CurvesData {
  kind: 'curves';
  name: 'curves';
  panels: Array<{ method: string; panel: string; epsilon: number | null; cells: Array<{ side: 'below' | 'above'; rho: number; runs: number; withTrace: number }> }>;
  /** One entry per drawn run: its trace points [iteration, relLoss] (positive relLoss only: log axis). */
  runs: Array<{ panel: string; run: string; side: 'below 2' | 'above 2'; rho: number; epsilon: number | null; trace: Array<[number, number]> }>;
}

/** A run's trace as read from its record: `result.trace` (missing in older records: empty). */
export interface RunTrace { id: string; trial: number; trace: Array<[number, number]> }

export function curvesData(cells: CurveCell[], traces: Map<CellStats, RunTrace[]>): CurvesData {
  const data: CurvesData = { kind: 'curves', name: 'curves', panels: [], runs: [] };
  for (const c of cells) {
    const runs = traces.get(c.cell) ?? [];
    const epsilon = c.cell.epsilon.length === 1 ? c.cell.epsilon[0]! : null;
    let p = data.panels.find((x) => x.panel === c.panel);
    if (!p) { p = { method: c.method, panel: c.panel, epsilon, cells: [] }; data.panels.push(p); }
    p.cells.push({ side: c.side, rho: c.rho, runs: runs.length, withTrace: runs.filter((r) => r.trace.length > 0).length });
    const side = c.side === 'below' ? 'below 2' : 'above 2';
    for (const r of runs) {
      // log axes: iteration >= 0 (drawn at iteration + 1) and relLoss > 0
      const trace = r.trace.filter(([it, rel]) => it >= 0 && rel > 0 && Number.isFinite(rel));
      if (trace.length) data.runs.push({ panel: c.panel, run: r.id, side, rho: c.rho, epsilon, trace });
    }
  }
  return data;
}
