// boundary.csv: the empirical 50% boundary per method, row-group axes and (n, d): rho50 is the
// linear interpolation, in rho (m d / n in m tables), between the LAST rho whose rate is below 0.5
// and the next rho (rate >= 0.5). With a non-monotone rate this is the last upward crossing (the
// width above which every measured rate is >= 50%), and `monotone` is false with the lower rho
// values that reached 50% named in `note`. rho50 is empty, with a note, when the rate never
// reaches 0.5 or is >= 0.5 everywhere. m50 = rho50 n / d. It is read off the phase tables, so it
// depends on the success outcomes only.
import type { AxisValue } from '../sweep/types.js';
import { csvText, sig6 } from './csv.js';
import type { Cell } from './csv.js';
import type { PhaseTable } from './phase-table.js';
import { orderKeys, stableJson } from './shared.js';

/** boundary.csv of the phase tables (one column per row-group key of any of them). */
export function boundaryCsv(tables: PhaseTable[]): string {
  const groupUnion = orderKeys(tables.flatMap((t) => t.groupKeys));
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
  return csvText(header, rows);
}
