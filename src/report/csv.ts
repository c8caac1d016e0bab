// CSV writing shared by the tables: RFC 4180 quoting, deterministic number text, atomic files.
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync } from 'node:fs';
import { removeQuietly, tmpName, withPath, writeFileAtomic, writeFully } from '../files.js';

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

/** One row with its `\n`. */
export function csvLine(row: Cell[]): string {
  return `${row.map(csvField).join(',')}\n`;
}

/** Header row plus rows, `\n` line ends, a final newline. */
export function csvText(header: string[], rows: Cell[][]): string {
  return csvLine(header) + rows.map(csvLine).join('');
}

/** A statistic rounded to 6 significant digits (fixed formatting across runs and platforms). */
export function sig6(x: number | null): number | null {
  if (x === null || !Number.isFinite(x)) return x;
  return Number(x.toPrecision(6));
}

/**
 * Writes `text` to `file` atomically: a temporary file in the same folder, written in full, then
 * rename, so a reader (or a refresh interrupted mid-way) never sees half a table. A write that
 * cannot complete (a full disk) throws an error naming `file`, and the old file stays.
 */
export function writeAtomic(file: string, text: string): void {
  writeFileAtomic(file, text);
}

/**
 * A file written in pieces and published atomically by `commit` (tmp file, then rename). Every
 * piece is written in full or the write throws (naming the file); `abort` removes the tmp file.
 */
export class AtomicFile {
  private readonly tmp: string;
  private fd: number;
  private pending: string[] = [];
  private pendingLength = 0;
  private readonly hash = createHash('sha256');

  constructor(private readonly file: string) {
    this.tmp = tmpName(file);
    try {
      this.fd = openSync(this.tmp, 'w');
    } catch (e) {
      throw withPath(e, file);
    }
  }

  write(text: string): void {
    this.hash.update(text);
    this.pending.push(text);
    this.pendingLength += text.length;
    if (this.pendingLength >= 1 << 20) this.flush();
  }

  private flush(): void {
    if (this.pending.length) writeFully(this.fd, this.pending.join(''), this.file);
    this.pending = [];
    this.pendingLength = 0;
  }

  commit(): void {
    this.flush();
    try {
      fsyncSync(this.fd);
      closeSync(this.fd);
      this.fd = -1;
      renameSync(this.tmp, this.file);
    } catch (e) {
      throw withPath(e, this.file);
    }
  }

  /** sha256 (hex) of everything written; call once, after commit. */
  digest(): string {
    return this.hash.digest('hex');
  }

  abort(): void {
    if (this.fd >= 0) { try { closeSync(this.fd); } catch { /* closed */ } this.fd = -1; }
    removeQuietly(this.tmp);
  }
}
