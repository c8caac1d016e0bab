// The journal: results/<name>/runs.jsonl, one complete JSON record per finished run.
//
// Crash safety rests on two rules: every record is written by one write() call of its whole
// line (so a crash leaves at most a torn last line), and the file is fsynced at least every
// second and on close. On open, a torn tail is cut away so that appends start on a fresh line.
import {
  readFileSync, existsSync, openSync, closeSync, writeSync, fsyncSync, fstatSync, readSync,
  ftruncateSync, renameSync, appendFileSync,
} from 'node:fs';
import type { RunStatus } from '../core/types.js';
import type { JournalRecord } from './types.js';

export interface JournalRead {
  records: JournalRecord[];
  /** A last line that was cut off by a crash (not valid JSON, no trailing newline); ignored. */
  tornLine: string | null;
}

/**
 * Reads every complete record. A torn last line (a crash mid-append) is reported and skipped; a
 * malformed line anywhere else is a real corruption and throws with its line number.
 */
export function readJournal(file: string): JournalRead {
  if (!existsSync(file)) return { records: [], tornLine: null };
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n');
  const records: JournalRecord[] = [];
  let tornLine: string | null = null;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    const isLast = i === lines.length - 1; // no trailing newline after it
    try {
      records.push(JSON.parse(line) as JournalRecord);
    } catch {
      if (isLast) { tornLine = line; continue; }
      throw new Error(`${file}:${i + 1}: journal line is not valid JSON (the file is corrupted beyond a torn last line)`);
    }
  }
  return { records, tornLine };
}

// ---- the index: what resume needs (id -> status), without parsing whole records ----

/** One journal line as resume sees it. */
export interface JournalIndexEntry {
  status: RunStatus;
  success: boolean;
  /** Byte offset and length of the line (without its newline) in the file. */
  offset: number;
  length: number;
}

export interface JournalIndex {
  /** id -> entry of its last line (ids appear once in a journal this writer produced). */
  entries: Map<string, JournalIndexEntry>;
  /** Lines read (complete records). */
  lines: number;
  /** Ids that appeared on more than one line (the last wins). */
  duplicates: number;
  tornLine: string | null;
}

const ID_PREFIX = Buffer.from('{"id":"');
const STATUS_KEY = Buffer.from('"result":{"status":"');
// Inside result, after status; a string value cannot contain it unescaped.
const SUCCESS_TRUE = Buffer.from('"success":true');
const QUOTE = 0x22;
const NEWLINE = 0x0a;

/**
 * Streams the journal in chunks and extracts id and status per line. Lines this module wrote
 * start with `{"id":"` and hold `"result":{"status":"` (see `recordLine`), which is read without
 * JSON.parse; any other line is parsed in full. Handles journals far larger than a JS string.
 * Same torn-line and corruption rules as `readJournal`.
 */
export function readJournalIndex(file: string): JournalIndex {
  const entries = new Map<string, JournalIndexEntry>();
  const out: JournalIndex = { entries, lines: 0, duplicates: 0, tornLine: null };
  if (!existsSync(file)) return out;
  const fd = openSync(file, 'r');
  try {
    const CHUNK = 8 << 20;
    let buf = Buffer.allocUnsafe(CHUNK);
    let carry = 0; // bytes of an unfinished line at the start of buf
    let base = 0; // file offset of buf[0]
    let lineNo = 0;
    for (;;) {
      if (carry === buf.length) { // a line longer than the buffer: grow it
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, 0, carry);
        buf = bigger;
      }
      const got = readSync(fd, buf, carry, buf.length - carry, base + carry);
      const end = carry + got;
      let start = 0;
      for (;;) {
        const nl = buf.indexOf(NEWLINE, start);
        if (nl === -1 || nl >= end) break;
        lineNo++;
        indexLine(buf, start, nl, base + start, lineNo, false, file, out);
        start = nl + 1;
      }
      if (got === 0) {
        if (start < end) { // last line without newline: valid record or torn
          lineNo++;
          indexLine(buf, start, end, base + start, lineNo, true, file, out);
        }
        break;
      }
      buf.copy(buf, 0, start, end);
      base += start;
      carry = end - start;
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

function indexLine(buf: Buffer, s: number, e: number, offset: number, lineNo: number, isLast: boolean,
  file: string, out: JournalIndex): void {
  let id: string | null = null;
  let status: string | null = null;
  let success = false;
  const complete = !isLast; // a line followed by a newline was written whole
  if (complete && e - s > ID_PREFIX.length && buf.compare(ID_PREFIX, 0, ID_PREFIX.length, s, s + ID_PREFIX.length) === 0) {
    const idEnd = buf.indexOf(QUOTE, s + ID_PREFIX.length);
    const k = buf.indexOf(STATUS_KEY, s);
    if (idEnd !== -1 && idEnd < e && k !== -1 && k < e) {
      const st = k + STATUS_KEY.length;
      const stEnd = buf.indexOf(QUOTE, st);
      if (stEnd !== -1 && stEnd < e) {
        id = buf.toString('utf8', s + ID_PREFIX.length, idEnd);
        status = buf.toString('latin1', st, stEnd);
        const ok = buf.indexOf(SUCCESS_TRUE, stEnd);
        success = ok !== -1 && ok < e;
      }
    }
  }
  if (id === null) {
    const text = buf.toString('utf8', s, e);
    if (text.trim() === '') return;
    try {
      const rec = JSON.parse(text) as JournalRecord;
      id = rec.id;
      status = rec.result.status;
      success = rec.result.success === true;
    } catch {
      if (isLast) { out.tornLine = text; return; }
      throw new Error(`${file}:${lineNo}: journal line is not valid JSON (the file is corrupted beyond a torn last line)`);
    }
  }
  out.lines++;
  if (out.entries.has(id)) out.duplicates++;
  out.entries.set(id, { status: status as RunStatus, success, offset, length: e - s });
}

// ---- the writer ----

/**
 * The line of one record. Key order is fixed (id first, result.status first inside result) so
 * that `readJournalIndex` can find both without parsing the line.
 */
export function recordLine(rec: JournalRecord): string {
  const { id, result, ...rest } = rec;
  const { status, ...resultRest } = result;
  return JSON.stringify({ id, ...rest, result: { status, ...resultRest } }) + '\n';
}

export interface OpenedJournal {
  writer: JournalWriter;
  /** The torn last line that was cut away (null if the file ended cleanly). */
  repairedTornLine: string | null;
}

/** Appends records to runs.jsonl: one write per line, fsync at least every `syncMs` and on close. */
export class JournalWriter {
  private fd: number | null;
  private dirty = false;
  private readonly timer: NodeJS.Timeout;
  readonly file: string;

  private constructor(file: string, fd: number, syncMs: number) {
    this.file = file;
    this.fd = fd;
    this.timer = setInterval(() => this.flush(), syncMs);
    this.timer.unref();
  }

  /** Opens (creating if needed) and repairs a torn tail, so appends start on a fresh line. */
  static open(file: string, syncMs = 1000): OpenedJournal {
    const fd = openSync(file, 'a+');
    let repairedTornLine: string | null = null;
    try {
      const size = fstatSync(fd).size;
      if (size > 0) {
        const tail = lastLine(fd, size);
        if (tail.text !== '') {
          let valid = false;
          try { JSON.parse(tail.text); valid = true; } catch { /* torn */ }
          if (valid) {
            writeSync(fd, '\n'); // a complete record whose newline was lost
          } else {
            ftruncateSync(fd, tail.start);
            repairedTornLine = tail.text;
          }
          fsyncSync(fd);
        }
      }
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    return { writer: new JournalWriter(file, fd, syncMs), repairedTornLine };
  }

  /** Appends one record as one line, in a single write call. */
  append(rec: JournalRecord): void {
    if (this.fd === null) throw new Error(`journal ${this.file} is closed`);
    const bytes = Buffer.from(recordLine(rec), 'utf8');
    let off = 0;
    // writeSync on a regular file writes everything in one call; the loop only guards the
    // theoretical short write (which would then be the torn line a later open cuts away).
    while (off < bytes.length) off += writeSync(this.fd, bytes, off, bytes.length - off);
    this.dirty = true;
  }

  flush(): void {
    if (this.fd === null || !this.dirty) return;
    fsyncSync(this.fd);
    this.dirty = false;
  }

  close(): void {
    clearInterval(this.timer);
    if (this.fd === null) return;
    this.flush();
    closeSync(this.fd);
    this.fd = null;
  }
}

/** The text after the last newline, and its byte offset (reads backwards in chunks). */
function lastLine(fd: number, size: number): { start: number; text: string } {
  const CHUNK = 64 << 10;
  const parts: Buffer[] = [];
  let pos = size;
  while (pos > 0) {
    const len = Math.min(CHUNK, pos);
    const b = Buffer.allocUnsafe(len);
    readSync(fd, b, 0, len, pos - len);
    const nl = b.lastIndexOf(NEWLINE);
    if (nl !== -1) {
      parts.unshift(b.subarray(nl + 1));
      const start = pos - len + nl + 1;
      return { start, text: Buffer.concat(parts).toString('utf8') };
    }
    parts.unshift(b);
    pos -= len;
  }
  return { start: 0, text: Buffer.concat(parts).toString('utf8') };
}

/**
 * Removes the lines of `ids` from the journal (for --retry-failed, so that an id keeps one
 * record): the removed lines are appended to `archive` first, then the journal is rewritten to a
 * temporary file, fsynced and renamed over the original. A crash at any point leaves either the
 * old or the new journal, never a mix.
 */
export function removeRecords(file: string, index: JournalIndex, ids: ReadonlySet<string>, archive: string): number {
  if (ids.size === 0) return 0;
  const drop = new Set<number>(); // offsets of lines to drop
  for (const id of ids) {
    const e = index.entries.get(id);
    if (e) drop.add(e.offset);
  }
  const src = openSync(file, 'r');
  const tmp = `${file}.tmp`;
  const dst = openSync(tmp, 'w');
  const archived: Buffer[] = [];
  try {
    // Copy line by line (same chunked scan as the index), skipping dropped offsets.
    let buf = Buffer.allocUnsafe(8 << 20);
    let carry = 0;
    let base = 0;
    for (;;) {
      if (carry === buf.length) {
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, 0, carry);
        buf = bigger;
      }
      const got = readSync(src, buf, carry, buf.length - carry, base + carry);
      const end = carry + got;
      let start = 0;
      for (;;) {
        const nl = buf.indexOf(NEWLINE, start);
        if (nl === -1 || nl >= end) break;
        const line = buf.subarray(start, nl + 1);
        if (drop.has(base + start)) archived.push(Buffer.from(line));
        else writeSync(dst, line);
        start = nl + 1;
      }
      if (got === 0) break; // a torn tail (no newline) is dropped with the rewrite
      buf.copy(buf, 0, start, end);
      base += start;
      carry = end - start;
    }
    fsyncSync(dst);
  } finally {
    closeSync(src);
    closeSync(dst);
  }
  if (archived.length > 0) {
    appendFileSync(archive, Buffer.concat(archived));
    const afd = openSync(archive, 'r+');
    fsyncSync(afd);
    closeSync(afd);
  }
  renameSync(tmp, file);
  return archived.length;
}
