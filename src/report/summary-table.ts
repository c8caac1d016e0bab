// summary.csv: one row per cell (method x every axis of the grid), columns: the cell's axes, then
// rhoActual, epsilon (unless it is an axis), trials, successes, rate, wilsonLow, wilsonHigh (Wilson
// 95%, z = 1.959964), the counts of non-ok statuses (diverged, timeout, error, oom), and medians
// over the cell's runs: medianRelLoss, medianItersToSuccess and medianSecondsToSuccess (successful
// runs only; empty if none), sigmaMinJStart and sigmaMinJEnd (median sigma_min(J) at the first and
// last iterate), medianDistW0 and medianRadiusUsed (||W - W0||_F at the end and the ball's radius,
// METHOD.md 3; the radius is empty without a ball) and medianTestAccuracy (empty without a test
// split). The seconds medians are wall-clock measurements, which differ between two executions of
// a sweep.
//
// The cell statistics (CellStats) are also what the phase tables, boundary.csv and tables.json are
// built from.
import type { AxisValue } from '../sweep/types.js';
import { csvText, sig6 } from './csv.js';
import type { Cell } from './csv.js';
import type { Scan } from './journal-read.js';
import type { RecordExtras } from './record-extras.js';
import { finite, median } from './shared.js';
import { wilson } from './wilson.js';

export interface CellStats {
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
  medianDistW0: number | null;
  medianRadiusUsed: number | null;
  medianTestAccuracy: number | null;
}

/** The statistics of every cell with a live record, in the scan's order of first appearance. */
export function cellStats(sc: Scan, x: RecordExtras): CellStats[] {
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
      medianDistW0: median(g.map((i) => x.distW0[i]!).filter(finite)),
      medianRadiusUsed: median(g.map((i) => x.radiusUsed[i]!).filter(finite)),
      medianTestAccuracy: median(g.map((i) => x.testAccuracy[i]!).filter(finite)),
    });
  }
  return out;
}

const NON_OK = ['diverged', 'timeout', 'error', 'oom'];

/** summary.csv of `cells` (already in table order), with the axes `keys` as its first columns. */
export function summaryCsv(cells: CellStats[], keys: string[]): string {
  const epsAxis = keys.includes('epsilon');
  const header = [
    // epsilon is written once: as an axis when the grid varies it, else after rhoActual
    ...keys, 'rhoActual', ...(epsAxis ? [] : ['epsilon']), 'trials', 'successes', 'rate', 'wilsonLow', 'wilsonHigh', ...NON_OK,
    'medianRelLoss', 'medianItersToSuccess', 'medianSecondsToSuccess', 'sigmaMinJStart', 'sigmaMinJEnd',
    'medianDistW0', 'medianRadiusUsed', 'medianTestAccuracy',
  ];
  const rows: Cell[][] = cells.map((c) => {
    const w = wilson(c.successes, c.trials);
    return [
      ...keys.map((k) => c.cell[k] ?? null), (c.m * c.d) / c.n,
      ...(epsAxis ? [] : [c.epsilon.length === 1 ? c.epsilon[0]! : c.epsilon.join(' ')]),
      c.trials, c.successes, sig6(c.successes / c.trials), sig6(w.low), sig6(w.high),
      ...NON_OK.map((s) => c.statuses[s] ?? 0),
      sig6(c.medianRelLoss), sig6(c.medianItersToSuccess), sig6(c.medianSecondsToSuccess), sig6(c.sigmaMinJStart), sig6(c.sigmaMinJEnd),
      sig6(c.medianDistW0), sig6(c.medianRadiusUsed), sig6(c.medianTestAccuracy),
    ];
  });
  return csvText(header, rows);
}
