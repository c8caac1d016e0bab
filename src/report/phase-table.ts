// phase-<method>.csv: the phase table of one method. First line: a `#` comment with the success
// rule, the data, the budget and the axes held fixed (read it with pandas.read_csv(path,
// comment='#')). Header: the method's other varying axes (row-group keys, e.g. outputScale; one
// column each, before the width), then `rho` (or `m` when the spec gave m), `mark`, and one column
// per (n, d) named `n=100;d=10`. Each cell reads k/R: successes over finished runs (empty: no run
// yet). mark is `counting-bound` on the row rho = 1 and `theorem-1` on rho = 2 (METHOD.md 1); it is
// empty in m tables, where rho differs per column. It depends on the success outcomes only, so the
// same records give the same bytes.
//
// The same table is shown in the terminal (phaseText), summarised in tables.json, read by
// boundary.csv and drawn as the heatmap phase-<method>.svg (src/report/chart-data.ts, chart-specs.ts).
import type { AxisValue } from '../sweep/types.js';
import { csvText } from './csv.js';
import type { Cell } from './csv.js';
import type { CellStats } from './summary-table.js';
import { compareValues, fmt, listText, orderKeys, stableJson, uniqSorted } from './shared.js';

export interface PhaseTable {
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

/** Axes that identify a phase-table position; every other axis of a method's cells is a row-group key. */
const POSITION_KEYS = new Set(['method', 'n', 'd', 'rho', 'm']);

function markOf(width: 'rho' | 'm', value: number): string {
  if (width !== 'rho') return '';
  if (value === 1) return 'counting-bound';
  if (value === 2) return 'theorem-1';
  return '';
}

/** The phase table of `method` from its cells. */
export function phaseTable(method: string, cells: CellStats[]): PhaseTable {
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
  const fixedAxes = fixedText(fixed);
  const comment = [
    `# phase table of method ${method}: each cell is k/R = successes / finished runs`,
    `success: relLoss <= ${listText(epsilon)}`,
    `data: ${data.join(' | ')}`,
    `budget: ${listText(iterations)} iterations and ${listText(seconds, ' s')} per run`,
    width === 'rho'
      ? 'rows: rho = m d / n as given in the spec (m = ceil(rho n / d), rounded up to even for a mirrored init)'
      : 'rows: m (the spec gave m)',
    groupKeys.length ? `row groups: ${groupKeys.join(' ')}` : '',
    fixedAxes ? `fixed: ${fixedAxes}` : '',
    width === 'rho' ? 'marks: rho = 1 counting bound and rho = 2 Theorem 1 (METHOD.md 1)' : 'no marks (rho = m d / n differs per column)',
  ].filter((s) => s !== '').join('; ');
  return { method, width, groupKeys, fixed, columns, rows, epsilon, data, iterations, seconds, comment };
}

/** The axes held fixed as `k=v k=v` (empty when none); null as `null`, as a spec writes it (`batch: null`). */
export function fixedText(fixed: Record<string, AxisValue>): string {
  return Object.entries(fixed).map(([k, v]) => `${k}=${v === null ? 'null' : fmt(v)}`).join(' ');
}

/** The name of a method's phase-table file with extension `ext` (the method made safe as a file name). */
export function phaseFileName(method: string, ext: string): string {
  return `phase-${method.replace(/[^A-Za-z0-9._-]/g, '_')}.${ext}`;
}

/** phase-<method>.csv: the comment line, then the table. */
export function phaseCsv(t: PhaseTable): string {
  const header = [...t.groupKeys, t.width, 'mark', ...t.columns.map((c) => c.label)];
  const rows: Cell[][] = t.rows.map((r) => [
    ...r.group, r.width, r.mark, ...r.cells.map((c) => (c ? `${c.successes}/${c.trials}` : null)),
  ]);
  return `${t.comment.replace(/[\r\n]/g, ' ')}\n${csvText(header, rows)}`;
}

/** The phase table as aligned text for the terminal. */
export function phaseText(t: PhaseTable): string {
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
