// CSV writing shared by the tables: RFC 4180 quoting, deterministic number text, atomic files.
import { renameSync, writeFileSync, unlinkSync } from 'node:fs';

export type Cell = string | number | boolean | null | undefined;

/**
 * One field. null/undefined -> empty; numbers in JavaScript's shortest round-trip form (inf, -inf
 * and nan for the non-finite ones, which pandas reads as floats); booleans as true/false; text is
 * quoted when it holds a comma, a quote, CR or LF, or starts or ends with a space (quotes doubled).
 */
export function csvField(x: Cell): string {
  if (x === null || x === undefined) return '';
  if (typeof x === 'number') {
    if (Number.isNaN(x)) return 'nan';
    if (x === Infinity) return 'inf';
    if (x === -Infinity) return '-inf';
    return x === 0 ? '0' : String(x);
  }
  if (typeof x === 'boolean') return x ? 'true' : 'false';
  return /[",\r\n]|^\s|\s$/.test(x) ? `"${x.replace(/"/g, '""')}"` : x;
}

/** Header row plus rows, `\n` line ends, a final newline. */
export function csvText(header: string[], rows: Cell[][]): string {
  const lines = [header.map(csvField).join(',')];
  for (const r of rows) lines.push(r.map(csvField).join(','));
  return `${lines.join('\n')}\n`;
}

/** A statistic rounded to 6 significant digits (fixed formatting across runs and platforms). */
export function sig6(x: number | null): number | null {
  if (x === null || !Number.isFinite(x)) return x;
  return Number(x.toPrecision(6));
}

/**
 * Writes `text` to `file` atomically: a temporary file in the same folder, then rename, so a
 * reader (or a refresh interrupted mid-way) never sees half a table.
 */
export function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, file);
  } catch (e) {
    try { unlinkSync(tmp); } catch { /* already gone */ }
    throw e;
  }
}
