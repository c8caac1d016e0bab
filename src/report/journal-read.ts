// Reading results/<name>/runs.jsonl for the tables: pass 1, a scan into a few numbers per record.
//
// The journal of a big sweep is larger than a JavaScript string can be (10^6 runs are about 2 GB),
// so it is read in chunks, twice: the first pass keeps a few numbers per record (enough for every
// table but runs.csv) plus the byte range of its line; the second reads the live lines again, in
// table order, to write runs.csv row by row (src/report/runs-table.ts). Which lines are records is
// the journal's own check (src/sweep/record.ts, the same for run, aggregate and merge): blank lines
// are skipped, a torn last line (no newline, not a record) is ignored, and any other damaged line
// is a refusal (DataError) naming it, once the whole file is read, so no table is written from a
// journal with holes. The last record of an id wins (the live records).
//
// Which records count: with a `grid` (the results folder's current spec, see src/sweep/snapshot.ts)
// only records whose id is in it, each with the cell (axis values) and trial the grid gives that id,
// so the tables are those of a fresh run of the current spec however the journal was filled; the
// other records stay in runs.jsonl and are only counted (notInSpec). Without a grid (a folder from
// before spec snapshots) every record counts, with the cell and trial it stored.
import { fstatSync, readSync } from 'node:fs';
import type { JournalRecord, AxisValue, GridView } from '../sweep/types.js';
import { checkLine, DamageReport } from '../sweep/record.js';
import { intern, num, scalar, stableJson, yieldToEventLoop } from './shared.js';

export const JOURNAL_FILE = 'runs.jsonl';

export interface CellInfo { cell: Record<string, AxisValue>; n: number; d: number; m: number }

export interface Scan {
  /** Records read, in file order. */
  count: number;
  /** Indices of the live records (the last of each id), in file order. */
  live: number[];
  ids: string[];
  offset: number[];
  length: number[];
  cellIdx: number[];
  trial: number[];
  success: boolean[];
  status: string[];
  relLoss: number[];
  iters: number[];
  secs: number[];
  s0: number[];
  s1: number[];
  eps: number[];
  itBudget: number[];
  secBudget: number[];
  dataIdx: number[];
  cells: CellInfo[];
  dataTexts: string[];
  tornLine: boolean;
  /** Distinct ids not in the grid (left out), or null without a grid. */
  notInSpec: number | null;
  /** The journal state the scan read: its first `bytes` bytes, holding `lines` records (all of them, in the grid or not). */
  bytes: number;
  lines: number;
}

/**
 * Called for each record the scan counts, in file order (so its index is the number of earlier
 * calls), while the record is parsed: how runs.csv learns its columns without a third pass.
 */
export type RecordHook = (rec: JournalRecord, cfg: Record<string, unknown>, trial: number, cell: Record<string, AxisValue>) => void;

/**
 * Calls `onLine` for every line of the open file `fd` (up to its size now) with its byte offset and
 * length, and its bytes as buf[start..start + length).
 */
export async function forEachLine(fd: number, onLine: (text: string, offset: number, length: number, lineNo: number, unterminated: boolean, buf: Buffer, start: number) => void): Promise<number> {
  const size = fstatSync(fd).size;
  const chunk = Buffer.allocUnsafe(1 << 22);
  let carry = Buffer.alloc(0);
  let carryStart = 0; // file offset of carry[0]
  let pos = 0;
  let lineNo = 0;
  while (pos < size) {
    const nread = readSync(fd, chunk, 0, Math.min(chunk.length, size - pos), pos);
    if (nread <= 0) break;
    pos += nread;
    const buf = carry.length ? Buffer.concat([carry, chunk.subarray(0, nread)]) : chunk.subarray(0, nread);
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(0x0a, start);
      if (nl < 0) break;
      lineNo++;
      onLine(buf.toString('utf8', start, nl), carryStart + start, nl - start, lineNo, false, buf, start);
      start = nl + 1;
    }
    carry = Buffer.from(buf.subarray(start)); // a copy: the chunk is reused
    carryStart += start;
    await yieldToEventLoop(); // a sweep refreshing its tables mid-run keeps running meanwhile
  }
  if (carry.length) onLine(carry.toString('utf8'), carryStart, carry.length, lineNo + 1, true, carry, 0);
  return pos;
}

/** The resolved config of a record (result.resolved, or the record's config when a result lacks it). */
export function configOf(rec: JournalRecord): Record<string, unknown> {
  return (rec.result?.resolved ?? rec.config ?? {}) as unknown as Record<string, unknown>;
}

/** The record's cell, with method, n, d, m filled in from the config when missing. */
export function cellOf(rec: JournalRecord, cfg: Record<string, unknown>): Record<string, AxisValue> {
  const cell: Record<string, AxisValue> = { ...(rec.cell ?? {}) };
  if (cell.method === undefined) cell.method = cfg.method as string;
  for (const k of ['n', 'd', 'm'] as const) if (cell[k] === undefined) cell[k] = cfg[k] as number;
  return cell;
}

function describeData(data: unknown): string {
  if (!data || typeof data !== 'object') return 'unknown';
  const o = data as Record<string, unknown>;
  const rest = Object.keys(o).filter((k) => k !== 'source' && o[k] !== undefined).sort().map((k) => `${k} ${scalar(o[k])}`);
  return `${String(o.source)}${rest.length ? ` (${rest.join(', ')})` : ''}`;
}

/**
 * Pass 1 over the journal open as `fd` (-1: no journal; `file` names it in messages). With a grid,
 * records not in it are skipped (and counted), the others take their cell and trial from it.
 */
export async function scanJournal(fd: number, file: string, grid: GridView | null, onRecord: RecordHook): Promise<Scan> {
  const sc: Scan = {
    count: 0, live: [], ids: [], offset: [], length: [], cellIdx: [], trial: [], success: [], status: [], relLoss: [],
    iters: [], secs: [], s0: [], s1: [], eps: [], itBudget: [], secBudget: [], dataIdx: [], cells: [],
    dataTexts: [], tornLine: false, notInSpec: grid === null ? null : 0, bytes: 0, lines: 0,
  };
  const outside = new Set<string>();
  const perTrial = grid?.cells.length ?? 0;
  const lastOf = new Map<string, number>();
  const cellIndex = new Map<string, number>();
  const dataIndex = new Map<string, number>();
  const damage = new DamageReport(file);
  if (fd >= 0) sc.bytes = await forEachLine(fd, (text, offset, length, lineNo, unterminated, buf, start) => {
    if (text.trim() === '') return;
    const checked = checkLine(buf, start, start + length, text);
    if (checked.rec === null) {
      if (unterminated) sc.tornLine = true;
      else damage.add(lineNo, checked.problem);
      return;
    }
    if (damage.count > 0) return; // refused below: no need to tabulate the rest
    sc.lines++;
    const rec = checked.rec;
    const cfg = configOf(rec);
    let cell: Record<string, AxisValue>;
    let cellKey: string;
    let trial = rec.trial;
    if (grid !== null) {
      const at = grid.indexOf(rec.id);
      if (at < 0) { outside.add(rec.id); return; }
      const pos = at % perTrial;
      cell = grid.cells[pos]!;
      cellKey = String(pos);
      trial = Math.floor(at / perTrial);
    } else {
      cell = cellOf(rec, cfg);
      cellKey = stableJson(cell);
    }
    const i = sc.count++;
    const res = (rec.result ?? {}) as unknown as Record<string, unknown>;
    sc.ids.push(rec.id);
    lastOf.set(rec.id, i);
    sc.offset.push(offset);
    sc.length.push(length);
    sc.cellIdx.push(intern(cellIndex, sc.cells, cellKey, () => ({ cell, n: cfg.n as number, d: cfg.d as number, m: cfg.m as number })));
    sc.trial.push(trial);
    sc.success.push(rec.result?.success === true);
    sc.status.push(rec.result?.status ?? 'error');
    sc.relLoss.push(num(res.relLoss));
    sc.iters.push(num(res.iterations));
    sc.secs.push(num(res.seconds));
    sc.s0.push(num(res.sigmaMinJStart));
    sc.s1.push(num(res.sigmaMinJEnd));
    sc.eps.push(num(res.epsilon ?? cfg.epsilon));
    sc.itBudget.push(num(res.iterationBudget ?? cfg.iterations));
    sc.secBudget.push(num(res.secondsBudget ?? cfg.seconds));
    const dataText = describeData(cfg.data);
    sc.dataIdx.push(intern(dataIndex, sc.dataTexts, dataText, () => dataText));
    onRecord(rec, cfg, trial, cell);
  });
  if (damage.count > 0) throw damage.error();
  for (let i = 0; i < sc.count; i++) if (lastOf.get(sc.ids[i]!) === i) sc.live.push(i);
  if (grid !== null) sc.notInSpec = outside.size;
  return sc;
}
