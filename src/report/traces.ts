// The loss traces of the training-curve chart: `result.trace` of the live records of a few cells,
// read back from the journal by the byte ranges of the scan (the scan keeps no traces; they are
// about 200 points a record). A record without a trace (written before traces were recorded) has
// an empty one.
import { readSync } from 'node:fs';
import type { AxisValue } from '../sweep/types.js';
import type { CurveCell, RunTrace } from './chart-data.js';
import type { Scan } from './journal-read.js';
import type { CellStats } from './summary-table.js';

/** Traces of at most this many trials per cell are drawn. */
export const MAX_TRACES_PER_CELL = 20;
/** A longer trace (not expected: the core keeps about 200 points) is thinned to this many points. */
const MAX_POINTS = 400;

function traceOf(x: unknown): Array<[number, number]> {
  if (!Array.isArray(x)) return [];
  const out: Array<[number, number]> = [];
  for (const p of x) {
    if (Array.isArray(p) && typeof p[0] === 'number' && typeof p[1] === 'number') out.push([p[0], p[1]]);
  }
  if (out.length <= MAX_POINTS) return out;
  const step = (out.length - 1) / (MAX_POINTS - 1);
  return Array.from({ length: MAX_POINTS }, (_, k) => out[Math.round(k * step)]!);
}

/** The traces of the live records of each cell, by trial (then id), from the journal open as `fd`. */
export function readTraces(fd: number, sc: Scan, cells: CurveCell[]): Map<CellStats, RunTrace[]> {
  const out = new Map<CellStats, RunTrace[]>();
  if (fd < 0 || cells.length === 0) return out;
  const wanted = new Map<Record<string, AxisValue>, CellStats>(cells.map((c) => [c.cell.cell, c.cell]));
  const members = new Map<CellStats, number[]>();
  for (const i of sc.live) {
    const stats = wanted.get(sc.cells[sc.cellIdx[i]!]!.cell);
    if (stats) members.set(stats, [...(members.get(stats) ?? []), i]);
  }
  let buf = Buffer.allocUnsafe(1 << 16);
  for (const [stats, idx] of members) {
    idx.sort((a, b) => sc.trial[a]! - sc.trial[b]! || (sc.ids[a]! < sc.ids[b]! ? -1 : sc.ids[a]! > sc.ids[b]! ? 1 : 0));
    const runs: RunTrace[] = [];
    for (const i of idx.slice(0, MAX_TRACES_PER_CELL)) {
      const len = sc.length[i]!;
      if (buf.length < len) buf = Buffer.allocUnsafe(len * 2);
      readSync(fd, buf, 0, len, sc.offset[i]!);
      const rec = JSON.parse(buf.toString('utf8', 0, len)) as { result?: { trace?: unknown } };
      runs.push({ id: sc.ids[i]!, trial: sc.trial[i]!, trace: traceOf(rec.result?.trace) });
    }
    out.set(stats, runs);
  }
  return out;
}
