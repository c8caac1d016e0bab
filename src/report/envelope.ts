// envelope.csv: every method at its own best settings (`--best-over lr,outputScale`), so that a
// comparison of methods is one of tuned methods.
//
// The best-over names are axes of the spec. A name `x` stands for the axis `x` and for the
// per-method axis `<method>.x` of each method (`lr` is `sgd.lr` for sgd runs and `pgd.lr` for pgd
// runs); a name with a dot (`pgd.lr`) stands for that axis only. A method without any of the axes
// keeps its cells as they are (one setting each).
//
// An envelope cell is a method's cell with the best-over axes removed; its settings are the cells
// that differ only in those axes. The winner is, in this order: the highest rate k/R; then the
// highest Wilson lower bound (at equal rate: more trials); then the lowest medianRelLoss (missing
// last); then the first setting in table order (axis values ascending, numbers by value). So ties
// are broken the same way on every machine and the same records give the same bytes.
//
// Columns: the remaining axes (method, n, d, rho, m, ...), `best.<name>` per best-over name (the
// winner's value; empty for a method without that axis), `bestSetting` (the same as one text,
// `lr=0.3 outputScale=10`), `settingsTried` (settings compared), `tiedSettings` (other settings
// with the same rate as the winner), then the winner's rhoActual, trials, successes, rate,
// wilsonLow, wilsonHigh and medianRelLoss.
//
// The winner's k/R is optimistic: it is the maximum over settings of noisy rates, and its Wilson
// interval does not account for that selection. The phase tables of the envelope
// (envelope-phase-<method>.csv, built from the winners by phaseTable) and envelope-boundary.csv
// are built from these cells.
import type { AxisValue } from '../sweep/types.js';
import { csvText, sig6 } from './csv.js';
import type { Cell } from './csv.js';
import type { CellStats } from './summary-table.js';
import { compareCells, fmt, orderKeys, stableJson } from './shared.js';
import { wilson } from './wilson.js';

export const ENVELOPE_FILE = 'envelope.csv';

/** Axes that place a cell in a phase table; they cannot be optimised over. */
const POSITION = new Set(['method', 'n', 'd', 'rho', 'm']);

export interface EnvelopeCell {
  method: string;
  /** The cell without the best-over axes. */
  cell: Record<string, AxisValue>;
  winner: CellStats;
  /** The winner's value of each best-over name (null when the method has no such axis). */
  setting: Record<string, AxisValue>;
  settingsTried: number;
  tiedSettings: number;
}

export class BestOverError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BestOverError';
  }
}

/** Splits and checks `lr,outputScale` (no empty names, no position axes, no repeats). */
export function parseBestOver(text: string): string[] {
  const names = text.split(',').map((s) => s.trim());
  if (names.some((s) => s === '')) throw new BestOverError(`--best-over: expected axis names separated by commas, got ${JSON.stringify(text)}`);
  for (const n of names) {
    if (POSITION.has(n)) throw new BestOverError(`--best-over: ${n} places a cell in the phase table and cannot be optimised over`);
  }
  if (new Set(names).size !== names.length) throw new BestOverError(`--best-over: a name is given twice in ${JSON.stringify(text)}`);
  return names;
}

/** The axis of a cell that best-over name `name` stands for, or null. */
function keyOf(name: string, cell: Record<string, AxisValue>): string | null {
  if (name in cell) return name;
  const own = `${String(cell.method)}.${name}`;
  return !name.includes('.') && own in cell ? own : null;
}

/** Throws when a name matches no axis of any cell (with the axes there are). */
export function checkBestOver(names: string[], cells: CellStats[]): void {
  if (cells.length === 0) return;
  const axes = orderKeys(cells.flatMap((c) => Object.keys(c.cell)).filter((k) => !POSITION.has(k)));
  for (const n of names) {
    if (!cells.some((c) => keyOf(n, c.cell) !== null)) {
      throw new BestOverError(`--best-over: no axis ${n} in these runs (axes that can be optimised over: ${axes.join(', ') || 'none'})`);
    }
  }
}

/** Winner order: higher rate, higher Wilson low, lower medianRelLoss, then table order. */
function better(keys: string[]): (a: CellStats, b: CellStats) => number {
  return (a, b) => {
    const ra = a.successes / a.trials, rb = b.successes / b.trials;
    if (ra !== rb) return rb - ra;
    const la = wilson(a.successes, a.trials).low, lb = wilson(b.successes, b.trials).low;
    if (la !== lb) return lb - la;
    const ma = a.medianRelLoss ?? Infinity, mb = b.medianRelLoss ?? Infinity;
    if (ma !== mb) return ma < mb ? -1 : 1;
    return compareCells(keys, a.cell, b.cell);
  };
}

/** The envelope of `cells` (in table order, sorted by `keys`) over the best-over `names`. */
export function envelope(cells: CellStats[], names: string[], keys: string[]): EnvelopeCell[] {
  const groups = new Map<string, { cell: Record<string, AxisValue>; members: CellStats[]; matched: Array<string | null> }>();
  for (const c of cells) {
    const matched = names.map((n) => keyOf(n, c.cell));
    const rest: Record<string, AxisValue> = {};
    for (const [k, v] of Object.entries(c.cell)) if (!matched.includes(k)) rest[k] = v;
    const key = stableJson(rest);
    const g = groups.get(key);
    if (g) g.members.push(c); else groups.set(key, { cell: rest, members: [c], matched });
  }
  const order = better(keys);
  const out: EnvelopeCell[] = [];
  for (const g of groups.values()) {
    const ranked = [...g.members].sort(order);
    const winner = ranked[0]!;
    const rate = winner.successes / winner.trials;
    out.push({
      method: winner.method, cell: g.cell, winner,
      setting: Object.fromEntries(names.map((n, i) => [n, g.matched[i] === null ? null : winner.cell[g.matched[i]!] ?? null])),
      settingsTried: ranked.length,
      tiedSettings: ranked.slice(1).filter((c) => c.successes / c.trials === rate).length,
    });
  }
  out.sort((a, b) => compareCells(keys, a.cell, b.cell));
  return out;
}

/** The winner's setting as text, `lr=0.3 outputScale=10` (names without an axis left out). */
export function settingText(e: EnvelopeCell): string {
  return Object.entries(e.setting).filter(([, v]) => v !== null).map(([k, v]) => `${k}=${fmt(v)}`).join(' ');
}

/** The envelope cells as the cells of phase tables: the winner's statistics at the reduced cell. */
export function envelopeCells(env: EnvelopeCell[]): CellStats[] {
  return env.map((e) => ({ ...e.winner, cell: e.cell }));
}

/** envelope.csv (see the top of this file). */
export function envelopeCsv(env: EnvelopeCell[], names: string[]): string {
  const keys = orderKeys(env.flatMap((e) => Object.keys(e.cell)));
  const header = [
    ...keys, ...names.map((n) => `best.${n}`), 'bestSetting', 'settingsTried', 'tiedSettings',
    'rhoActual', 'trials', 'successes', 'rate', 'wilsonLow', 'wilsonHigh', 'medianRelLoss',
  ];
  const rows: Cell[][] = env.map((e) => {
    const w = wilson(e.winner.successes, e.winner.trials);
    return [
      ...keys.map((k) => e.cell[k] ?? null), ...names.map((n) => e.setting[n] ?? null), settingText(e) || null,
      e.settingsTried, e.tiedSettings, (e.winner.m * e.winner.d) / e.winner.n, e.winner.trials, e.winner.successes,
      sig6(e.winner.successes / e.winner.trials), sig6(w.low), sig6(w.high), sig6(e.winner.medianRelLoss),
    ];
  });
  return csvText(header, rows);
}
