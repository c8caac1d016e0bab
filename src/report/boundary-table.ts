// boundary.csv: the empirical 50% boundary per method, row-group axes and (n, d): rho50 is the
// linear interpolation, in rho (m d / n in m tables), between the LAST rho whose rate is below 0.5
// and the next rho (rate >= 0.5). With a non-monotone rate this is the last upward crossing (the
// width above which every measured rate is >= 50%), and `monotone` is false with the lower rho
// values that reached 50% named in `note`. rho50 is empty, with a note, when the rate never
// reaches 0.5 or is >= 0.5 everywhere. m50 = rho50 n / d.
//
// rho50Low and rho50High are the same crossing for the upper and the lower end of each cell's
// Wilson 95% interval (wilsonHigh crosses 0.5 first, at rho50Low; wilsonLow last, at rho50High),
// so rho50Low <= rho50 <= rho50High: the band of widths where the 50% boundary can lie given the
// trials. An end is empty when its curve never crosses inside the measured range (then the band
// is open on that side). It is read off the phase tables, so it depends on the success outcomes only.
//
// The rows (BoundaryRow) are also the data of the frontier chart (src/report/chart-data.ts).
import type { AxisValue } from '../sweep/types.js';
import { csvText, sig6 } from './csv.js';
import type { Cell } from './csv.js';
import type { PhaseTable } from './phase-table.js';
import { orderKeys, stableJson } from './shared.js';
import { wilson } from './wilson.js';

export interface BoundaryRow {
  method: string;
  /** The row group's values, by the table's groupKeys. */
  group: Record<string, AxisValue>;
  n: number;
  d: number;
  rho50: number | null;
  m50: number | null;
  rho50Low: number | null;
  rho50High: number | null;
  lastBelow: { rho: number; rate: number } | null;
  firstAbove: { rho: number; rate: number } | null;
  monotone: boolean;
  note: string;
  /** The measured rho range of this (method, group, column). */
  rhoMin: number;
  rhoMax: number;
}

interface Crossing { at: number | null; L: number }

/** The last upward crossing of 0.5 by the piecewise-linear curve through `pts` (sorted by rho). */
function lastCrossing(pts: Array<{ rho: number; v: number }>): Crossing {
  let L = -1;
  for (let i = 0; i < pts.length; i++) if (pts[i]!.v < 0.5) L = i;
  if (L < 0 || L === pts.length - 1) return { at: null, L };
  const below = pts[L]!, above = pts[L + 1]!;
  return { at: below.rho + ((0.5 - below.v) / (above.v - below.v)) * (above.rho - below.rho), L };
}

/** The boundary rows of the phase tables, in table order (method, row group, column). */
export function boundaryRows(tables: PhaseTable[]): BoundaryRow[] {
  const rows: BoundaryRow[] = [];
  for (const t of tables) {
    // the distinct row groups, in table order
    const groups = new Map<string, AxisValue[]>();
    for (const r of t.rows) groups.set(stableJson(r.group), r.group);
    for (const group of groups.values()) {
      const key = stableJson(group);
      for (const [ci, col] of t.columns.entries()) {
        const pts: Array<{ rho: number; rate: number; low: number; high: number }> = [];
        for (const r of t.rows) {
          if (stableJson(r.group) !== key) continue;
          const c = r.cells[ci];
          if (!c || c.trials === 0) continue;
          const w = wilson(c.successes, c.trials);
          pts.push({ rho: t.width === 'rho' ? r.width : (r.width * col.d) / col.n, rate: c.successes / c.trials, low: w.low, high: w.high });
        }
        if (pts.length === 0) continue;
        pts.sort((a, b) => a.rho - b.rho);
        const mid = lastCrossing(pts.map((p) => ({ rho: p.rho, v: p.rate })));
        const L = mid.L;
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
          if (!monotone) note = `non-monotone: rate >= 0.5 also at rho = ${early.map((p) => sig6(p.rho)).join(' ')}; this is the last upward crossing`;
        }
        const rho50 = mid.at;
        rows.push({
          method: t.method, group: Object.fromEntries(t.groupKeys.map((k, i) => [k, group[i] ?? null])), n: col.n, d: col.d,
          rho50, m50: rho50 === null ? null : (rho50 * col.n) / col.d,
          rho50Low: lastCrossing(pts.map((p) => ({ rho: p.rho, v: p.high }))).at,
          rho50High: lastCrossing(pts.map((p) => ({ rho: p.rho, v: p.low }))).at,
          lastBelow: below && { rho: below.rho, rate: below.rate }, firstAbove: above && { rho: above.rho, rate: above.rate },
          monotone, note, rhoMin: pts[0]!.rho, rhoMax: pts[pts.length - 1]!.rho,
        });
      }
    }
  }
  return rows;
}

/** The row-group columns of boundary.csv: the union of the tables' row-group keys. */
export function boundaryGroupKeys(tables: PhaseTable[]): string[] {
  return orderKeys(tables.flatMap((t) => t.groupKeys));
}

/** boundary.csv of the phase tables (one column per row-group key of any of them). */
export function boundaryCsv(tables: PhaseTable[], rows: BoundaryRow[] = boundaryRows(tables)): string {
  const groupUnion = boundaryGroupKeys(tables);
  const header = [
    'method', ...groupUnion, 'n', 'd', 'rho50', 'm50', 'rho50Low', 'rho50High', 'lastBelowRho', 'lastBelowRate',
    'firstAboveRho', 'firstAboveRate', 'monotone', 'note',
  ];
  const out: Cell[][] = rows.map((b) => [
    b.method, ...groupUnion.map((k) => (k in b.group ? b.group[k] ?? null : null)), b.n, b.d, sig6(b.rho50), sig6(b.m50),
    sig6(b.rho50Low), sig6(b.rho50High),
    b.lastBelow ? sig6(b.lastBelow.rho) : null, b.lastBelow ? sig6(b.lastBelow.rate) : null,
    b.firstAbove ? sig6(b.firstAbove.rho) : null, b.firstAbove ? sig6(b.firstAbove.rate) : null, b.monotone, b.note || null,
  ]);
  return csvText(header, out);
}
