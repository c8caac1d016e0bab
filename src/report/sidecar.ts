// tables.json, the sidecar: the success rule, epsilon values, data, budget, Wilson z, the number of
// runs, `notInSpec` (journal ids left out because they are not in the current spec; null without a
// grid), and for each phase table its method, row axis, row-group keys, columns, fixed axes and
// marks; with --best-over also `envelope` (the axes optimised over, the tie rule and the envelope's
// phase tables). It holds no time stamps, so it is deterministic.
import { JOURNAL_FILE } from './journal-read.js';
import type { Scan } from './journal-read.js';
import { phaseFileName } from './phase-table.js';
import type { PhaseTable } from './phase-table.js';
import type { CellStats } from './summary-table.js';
import { Z95 } from './wilson.js';

/** The text of tables.json, with its final newline. */
export function sidecarJson(sc: Scan, cells: CellStats[], tables: PhaseTable[], envelope: { over: string[]; tables: PhaseTable[] } | null = null): string {
  const all = (f: (c: CellStats) => Array<number | string>) => [...new Set(cells.flatMap(f))].sort(
    (a, b) => (typeof a === 'number' && typeof b === 'number' ? a - b : String(a) < String(b) ? -1 : 1));
  const sidecar = {
    // the text of a written file: kept as it is (the column docs are now in each table's module)
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
    phaseTables: phaseTablesJson(tables, ''),
    ...(envelope ? {
      envelope: {
        file: 'envelope.csv',
        bestOver: envelope.over,
        ties: 'highest rate, then highest Wilson lower bound, then lowest medianRelLoss, then the first setting in table order',
        phaseTables: phaseTablesJson(envelope.tables, 'envelope-'),
        boundary: 'envelope-boundary.csv',
      },
    } : {}),
  };
  return `${JSON.stringify(sidecar, null, 2)}\n`;
}

function phaseTablesJson(tables: PhaseTable[], prefix: string): Record<string, unknown> {
  return Object.fromEntries(tables.map((t) => [`${prefix}${phaseFileName(t.method, 'csv')}`, {
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
  }]));
}
