// The journal: results/<name>/runs.jsonl, one complete JSON record per finished run.
//
// Crash safety rests on two rules: every record is written by one write() call of its whole
// line (so a crash leaves at most a torn last line), and the file is fsynced at least every
// second and on close. On open, a torn tail is cut away so that appends start on a fresh line.
// A write that fails (a full disk) is cut away too, and reported naming the journal.
//
// Which lines are records is decided by src/sweep/record.ts for every reader: a torn last line
// (no newline, not a record) is dropped and its run redone; a damaged line anywhere else is a
// refusal (DataError) naming the line, until `narrowsweep repair` moves it aside (repairJournal).
import {
  readFileSync, existsSync, openSync, closeSync, fsyncSync, fstatSync, readSync,
  ftruncateSync, renameSync,
} from 'node:fs';
import type { RunStatus } from '../core/types.js';
import { removeQuietly, tmpName, withPath, writeFully } from '../files.js';
import type { JournalRecord } from './types.js';
import { checkLine, checkText, checksumState, DamageReport, recordLine, STATUSES } from './record.js';

export { recordLine };

export interface JournalRead {
  records: JournalRecord[];
  /** A last line that was cut off by a crash (no trailing newline, not a record); ignored. */
  tornLine: string | null;
}

/**
 * Reads every complete record (a small journal: the whole file as one string). A torn last line (a
 * crash mid-append) is reported and skipped; a damaged line anywhere else throws a DataError naming it.
 */
export function readJournal(file: string): JournalRead {
  if (!existsSync(file)) return { records: [], tornLine: null };
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n');
  const records: JournalRecord[] = [];
  const damage = new DamageReport(file);
  let tornLine: string | null = null;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    const isLast = i === lines.length - 1; // no trailing newline after it
    const c = checkText(line);
    if (c.rec !== null) records.push(c.rec);
    else if (isLast) tornLine = line;
    else damage.add(i + 1, c.problem);
  }
  if (damage.count > 0) throw damage.error();
  return { records, tornLine };
}

// ---- the index: what resume needs (id -> status), without parsing whole records ----

/** An index entry packed in one number (no object per record): 2 x status position + success. */
export type EntryCode = number;
export function entryStatus(code: EntryCode): RunStatus {
  return STATUSES[code >> 1] ?? 'error';
}
export function entrySuccess(code: EntryCode): boolean {
  return (code & 1) === 1;
}
function encodeEntry(status: string, success: boolean): EntryCode {
  const k = STATUSES.indexOf(status as RunStatus);
  return 2 * (k < 0 ? STATUSES.indexOf('error') : k) + (success ? 1 : 0);
}

/**
 * id -> EntryCode for up to millions of ids without a JS string or Map entry per id: ids of 20
 * lowercase hex digits (what the grid makes) are stored as two 40-bit numbers in an open-addressing
 * table over typed arrays; any other id goes to a plain Map. Values are small non-negative integers:
 * below 128 by default (one byte each), below 2^31 with `wide` (a grid position per id).
 */
export class IdTable {
  private static readonly HEX = 20;
  private hi = new Float64Array(1024);
  private lo = new Float64Array(1024);
  /** -1 empty, -2 deleted, else the entry code. */
  private codes: Int8Array | Int32Array;
  private used = 0; // slots not empty (live + deleted)
  private live = 0;
  private readonly other = new Map<string, EntryCode>();
  private readonly wide: boolean;

  constructor(opts: { wide?: boolean } = {}) {
    this.wide = opts.wide === true;
    this.codes = this.newCodes(1024);
  }

  private newCodes(n: number): Int8Array | Int32Array {
    return (this.wide ? new Int32Array(n) : new Int8Array(n)).fill(-1);
  }

  get size(): number {
    return this.live + this.other.size;
  }

  private static hexValue(c: number): number {
    if (c >= 48 && c <= 57) return c - 48; // 0-9
    if (c >= 97 && c <= 102) return c - 87; // a-f
    return -1;
  }

  /** Two 40-bit halves of a 20-hex-digit id (from bytes), or null if it is not one. */
  private static splitBytes(buf: Buffer, s: number, e: number): [number, number] | null {
    if (e - s !== IdTable.HEX) return null;
    let hi = 0;
    let lo = 0;
    for (let i = 0; i < 10; i++) {
      const a = IdTable.hexValue(buf[s + i]!);
      const b = IdTable.hexValue(buf[s + 10 + i]!);
      if (a < 0 || b < 0) return null;
      hi = hi * 16 + a;
      lo = lo * 16 + b;
    }
    return [hi, lo];
  }

  private static splitText(id: string): [number, number] | null {
    if (id.length !== IdTable.HEX) return null;
    let hi = 0;
    let lo = 0;
    for (let i = 0; i < 10; i++) {
      const a = IdTable.hexValue(id.charCodeAt(i));
      const b = IdTable.hexValue(id.charCodeAt(10 + i));
      if (a < 0 || b < 0) return null;
      hi = hi * 16 + a;
      lo = lo * 16 + b;
    }
    return [hi, lo];
  }

  /** Slot of (hi, lo), or the first free slot of its probe sequence (codes[slot] < 0). */
  private slot(hi: number, lo: number): number {
    const mask = this.codes.length - 1;
    let i = ((lo % 0x40000000) ^ (hi % 0x40000000)) & mask; // ids are hashes: low bits are uniform
    let firstDeleted = -1;
    for (;;) {
      const c = this.codes[i]!;
      if (c === -1) return firstDeleted >= 0 ? firstDeleted : i;
      if (c === -2) { if (firstDeleted < 0) firstDeleted = i; } else if (this.hi[i] === hi && this.lo[i] === lo) return i;
      i = (i + 1) & mask;
    }
  }

  private find(hi: number, lo: number): number {
    const mask = this.codes.length - 1;
    let i = ((lo % 0x40000000) ^ (hi % 0x40000000)) & mask;
    for (;;) {
      const c = this.codes[i]!;
      if (c === -1) return -1;
      if (c !== -2 && this.hi[i] === hi && this.lo[i] === lo) return i;
      i = (i + 1) & mask;
    }
  }

  private grow(): void {
    const { hi, lo, codes } = this;
    const cap = codes.length * 2;
    this.hi = new Float64Array(cap);
    this.lo = new Float64Array(cap);
    this.codes = this.newCodes(cap);
    this.used = 0;
    this.live = 0;
    for (let i = 0; i < codes.length; i++) if (codes[i]! >= 0) this.put(hi[i]!, lo[i]!, codes[i]!);
  }

  private check(code: EntryCode): void {
    if (!(code >= 0 && code <= (this.wide ? 0x7fffffff : 0x7f) && Number.isInteger(code))) {
      throw new RangeError(`IdTable: value ${code} out of range (0 to ${this.wide ? 0x7fffffff : 0x7f})`);
    }
  }

  /** Returns true when the id was not there before. */
  private put(hi: number, lo: number, code: EntryCode): boolean {
    this.check(code);
    if ((this.used + 1) * 2 > this.codes.length) this.grow();
    const i = this.slot(hi, lo);
    const c = this.codes[i]!;
    const fresh = c < 0;
    if (c === -1) this.used++;
    if (fresh) this.live++;
    this.hi[i] = hi;
    this.lo[i] = lo;
    this.codes[i] = code;
    return fresh;
  }

  /** Sets the code of the id in buf[s..e); returns true when the id was not there before. */
  setBytes(buf: Buffer, s: number, e: number, code: EntryCode): boolean {
    const h = IdTable.splitBytes(buf, s, e);
    if (h) return this.put(h[0], h[1], code);
    return this.set(buf.toString('utf8', s, e), code);
  }

  /** Sets the code of an id; returns true when the id was not there before. */
  set(id: string, code: EntryCode): boolean {
    const h = IdTable.splitText(id);
    if (h) return this.put(h[0], h[1], code);
    this.check(code);
    const fresh = !this.other.has(id);
    this.other.set(id, code);
    return fresh;
  }

  get(id: string): EntryCode | undefined {
    const h = IdTable.splitText(id);
    if (!h) return this.other.get(id);
    const i = this.find(h[0], h[1]);
    return i < 0 ? undefined : this.codes[i]!;
  }

  has(id: string): boolean {
    return this.get(id) !== undefined;
  }

  delete(id: string): boolean {
    const h = IdTable.splitText(id);
    if (!h) return this.other.delete(id);
    const i = this.find(h[0], h[1]);
    if (i < 0) return false;
    this.codes[i] = -2;
    this.live--;
    return true;
  }

  /** Every (id, code), hex ids first (in table order), then the others in insertion order. */
  *[Symbol.iterator](): IterableIterator<[string, EntryCode]> {
    for (let i = 0; i < this.codes.length; i++) {
      const c = this.codes[i]!;
      if (c >= 0) yield [this.hi[i]!.toString(16).padStart(10, '0') + this.lo[i]!.toString(16).padStart(10, '0'), c];
    }
    yield* this.other;
  }
}

export interface JournalIndex {
  /** id -> status and success of its last line (ids appear once in a journal this writer produced). */
  entries: IdTable;
  /** Lines read (complete records). */
  lines: number;
  /** Ids that appeared on more than one line (the last wins). */
  duplicates: number;
  tornLine: string | null;
}

const ID_PREFIX = Buffer.from('{"id":"');
const STATUS_KEY = Buffer.from('","result":{"status":"'); // right after the id's closing quote
const SUCCESS_KEY = Buffer.from(',"success":'); // right after the status's closing quote
const TRUE = Buffer.from('true');
const QUOTE = 0x22;
const NEWLINE = 0x0a;
const CHUNK = 8 << 20;

/** Whether buf[at..] starts with key (byte loop: cheaper than a native call for these short keys). */
function startsWith(buf: Buffer, at: number, end: number, key: Buffer): boolean {
  if (at + key.length > end) return false;
  for (let i = 0; i < key.length; i++) if (buf[at + i] !== key[i]) return false;
  return true;
}

/** Position of the first quote in buf[from..end), or -1. */
function quoteAt(buf: Buffer, from: number, end: number): number {
  for (let i = from; i < end; i++) if (buf[i] === QUOTE) return i;
  return -1;
}

/**
 * Calls `onLine(buf, start, end, isLast, lineNo)` for every line of the file (without its
 * newline), reading in chunks, so files far larger than a JS string work. `isLast` marks a last
 * line without a trailing newline (a torn line or a record whose newline was lost).
 */
export function scanLines(fd: number, onLine: (buf: Buffer, s: number, e: number, isLast: boolean, lineNo: number) => void): void {
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
      onLine(buf, start, nl, false, ++lineNo);
      start = nl + 1;
    }
    if (got === 0) {
      if (start < end) onLine(buf, start, end, true, ++lineNo);
      return;
    }
    buf.copy(buf, 0, start, end);
    base += start;
    carry = end - start;
  }
}

/** Id, status and success of one record line. */
interface ParsedLine {
  /** The id as text, or null when it is given by position (idStart..idEnd in the buffer). */
  id: string | null;
  idStart: number;
  idEnd: number;
  status: string;
  success: boolean;
}

/**
 * Id, status and success of one line: read at fixed places for a line `recordLine` wrote whose
 * checksum matches (`{"id":"…","result":{"status":"…","success":…`), else from the line checked
 * in full (src/sweep/record.ts). Returns null for a blank line, 'torn' for a last line (no newline)
 * that is not a record, and the problem for a damaged line elsewhere.
 */
function parseLine(buf: Buffer, s: number, e: number, isLast: boolean): ParsedLine | null | 'torn' | { problem: string } {
  if (checksumState(buf, s, e) === 'ok' && startsWith(buf, s, e, ID_PREFIX)) {
    const idEnd = quoteAt(buf, s + ID_PREFIX.length, e);
    if (idEnd !== -1 && startsWith(buf, idEnd, e, STATUS_KEY)) {
      const st = idEnd + STATUS_KEY.length;
      const stEnd = quoteAt(buf, st, e);
      if (stEnd !== -1 && startsWith(buf, stEnd + 1, e, SUCCESS_KEY)) {
        const status = buf.toString('latin1', st, stEnd);
        if ((STATUSES as readonly string[]).includes(status)) {
          return { id: null, idStart: s + ID_PREFIX.length, idEnd, status, success: startsWith(buf, stEnd + 1 + SUCCESS_KEY.length, e, TRUE) };
        }
      }
    }
  }
  let blank = true;
  for (let i = s; i < e && blank; i++) blank = buf[i] === 0x20 || buf[i] === 0x09 || buf[i] === 0x0d;
  if (blank) return null;
  const c = checkLine(buf, s, e);
  if (c.rec === null) return isLast ? 'torn' : { problem: c.problem };
  return { id: c.rec.id, idStart: 0, idEnd: 0, status: c.rec.result.status, success: c.rec.result.success };
}

/**
 * Streams the journal and maps every id to its status and success, without parsing whole
 * records (a checksum per line stands in for the parse). Same torn-line and damage rules as
 * `readJournal`: damaged lines throw one DataError naming them, after the whole file is read.
 */
export function readJournalIndex(file: string): JournalIndex {
  const entries = new IdTable();
  const out: JournalIndex = { entries, lines: 0, duplicates: 0, tornLine: null };
  if (!existsSync(file)) return out;
  const fd = openSync(file, 'r');
  const damage = new DamageReport(file);
  try {
    scanLines(fd, (buf, s, e, isLast, lineNo) => {
      const r = parseLine(buf, s, e, isLast);
      if (r === null) return;
      if (r === 'torn') { out.tornLine = buf.toString('utf8', s, e); return; }
      if ('problem' in r) { damage.add(lineNo, r.problem); return; }
      out.lines++;
      const code = encodeEntry(r.status, r.success);
      const fresh = r.id === null ? entries.setBytes(buf, r.idStart, r.idEnd, code) : entries.set(r.id, code);
      if (!fresh) out.duplicates++;
    });
  } finally {
    closeSync(fd);
  }
  if (damage.count > 0) throw damage.error();
  return out;
}

/**
 * Rewrites the journal without the lines `pick` moves aside or drops. The kept lines go to a
 * temporary file, which is fsynced; the lines moved aside are appended to `side` and fsynced; then the
 * temporary file is renamed over the journal. A crash at any point leaves the old journal or the new one (and at
 * worst a line twice in `side`), never a mix. `check`, after the scan, may throw to keep the old
 * journal. Returns the number of lines moved aside.
 */
function moveLinesAside(
  file: string, side: string,
  pick: (buf: Buffer, s: number, e: number, isLast: boolean, lineNo: number) => 'keep' | 'move' | 'drop',
  check: () => void = () => {},
): number {
  const src = openSync(file, 'r');
  const tmp = tmpName(file);
  const moved: Buffer[] = [];
  try {
    const dst = openSync(tmp, 'w');
    try {
      scanLines(src, (buf, s, e, isLast, lineNo) => {
        const what = pick(buf, s, e, isLast, lineNo);
        if (what === 'drop') return;
        const line = Buffer.concat([buf.subarray(s, e), Buffer.from('\n')]); // a last line gets its newline
        if (what === 'move') moved.push(line);
        else writeFully(dst, line, file);
      });
      check();
      fsyncSync(dst);
    } finally {
      closeSync(dst);
    }
    if (moved.length > 0) {
      const afd = openSync(side, 'a');
      try {
        writeFully(afd, Buffer.concat(moved), side);
        fsyncSync(afd);
      } finally {
        closeSync(afd);
      }
    }
    renameSync(tmp, file);
  } catch (e) {
    removeQuietly(tmp);
    throw withPath(e, file);
  } finally {
    closeSync(src);
  }
  return moved.length;
}

/**
 * Removes the lines of `ids` from the journal (for --retry-failed, so that an id keeps one
 * record), moving them to `archive` (moveLinesAside). A torn tail is dropped with the rewrite; a
 * damaged line refuses the whole rewrite.
 */
export function removeRecords(file: string, ids: ReadonlySet<string>, archive: string): number {
  if (ids.size === 0) return 0;
  const damage = new DamageReport(file);
  return moveLinesAside(file, archive, (buf, s, e, isLast, lineNo) => {
    const r = parseLine(buf, s, e, isLast);
    if (r === null || r === 'torn') return 'drop';
    if ('problem' in r) { damage.add(lineNo, r.problem); return 'keep'; }
    return ids.has(r.id ?? buf.toString('utf8', r.idStart, r.idEnd)) ? 'move' : 'keep';
  }, () => { if (damage.count > 0) throw damage.error(); });
}

export interface RepairOutcome {
  /** Damaged lines moved into the damaged file, with their line numbers and problems. */
  moved: Array<{ lineNo: number; problem: string }>;
  /** A torn last line (no newline, not a record) that was moved too. */
  torn: boolean;
}

/**
 * `narrowsweep repair`: moves every line of the journal that is not a record (src/sweep/record.ts),
 * a torn last line included, to the end of `damagedFile`, and keeps the others in their order. The
 * damaged lines are appended and fsynced first, then the journal is rewritten to a temporary file,
 * fsynced and renamed over the original, so a crash leaves the old journal or the new one (and at
 * worst a line twice in the damaged file). A journal without damage is left untouched.
 */
export function repairJournal(file: string, damagedFile: string): RepairOutcome {
  const out: RepairOutcome = { moved: [], torn: false };
  if (!existsSync(file)) return out;
  // Pass 1: find the damage; nothing is written when there is none.
  const src = openSync(file, 'r');
  try {
    scanLines(src, (buf, s, e, isLast, lineNo) => {
      const r = parseLine(buf, s, e, isLast);
      if (r === null) return;
      if (r === 'torn') { out.torn = true; out.moved.push({ lineNo, problem: 'a torn last line (no newline; not a record)' }); }
      else if ('problem' in r) out.moved.push({ lineNo, problem: r.problem });
    });
  } finally {
    closeSync(src);
  }
  if (out.moved.length === 0) return out;
  const damagedAt = new Set(out.moved.map((x) => x.lineNo));
  moveLinesAside(file, damagedFile, (_buf, s, e, _isLast, lineNo) => (damagedAt.has(lineNo) ? 'move' : e > s ? 'keep' : 'drop'));
  return out;
}

// ---- the writer ----

export interface OpenedJournal {
  writer: JournalWriter;
  /** The torn last line that was cut away (null if the file ended cleanly). */
  repairedTornLine: string | null;
}

/**
 * Appends records to runs.jsonl: one write per line, fsync at least every `syncMs` and on close.
 * A failed write (a full disk) is cut away again and thrown, naming the journal; a failed
 * periodic fsync is thrown by the next append or by close.
 */
export class JournalWriter {
  private fd: number | null;
  private dirty = false;
  private size: number;
  private failure: unknown = null;
  private readonly timer: NodeJS.Timeout;
  readonly file: string;

  private constructor(file: string, fd: number, syncMs: number) {
    this.file = file;
    this.fd = fd;
    this.size = fstatSync(fd).size;
    this.timer = setInterval(() => {
      try { this.flush(); } catch (e) { this.failure ??= e; }
    }, syncMs);
    this.timer.unref();
  }

  /**
   * Opens (creating if needed) and repairs a torn tail, so appends start on a fresh line: a last
   * line without its newline is kept (newline added) when it is a record, else cut away.
   */
  static open(file: string, syncMs = 1000): OpenedJournal {
    let fd: number;
    try {
      fd = openSync(file, 'a+');
    } catch (e) {
      throw withPath(e, file);
    }
    let repairedTornLine: string | null = null;
    try {
      const size = fstatSync(fd).size;
      if (size > 0) {
        const tail = lastLine(fd, size);
        if (tail.text !== '') {
          if (tail.text.trim() !== '' && checkText(tail.text).rec !== null) {
            writeFully(fd, '\n', file); // a complete record whose newline was lost
          } else {
            ftruncateSync(fd, tail.start);
            repairedTornLine = tail.text;
          }
          fsyncSync(fd);
        }
      }
    } catch (err) {
      closeSync(fd);
      throw withPath(err, file);
    }
    return { writer: new JournalWriter(file, fd, syncMs), repairedTornLine };
  }

  /** Appends one record as one line, in a single write call (a short write is completed or undone). */
  append(rec: JournalRecord): void {
    if (this.fd === null) throw new Error(`journal ${this.file} is closed`);
    if (this.failure !== null) throw withPath(this.failure, this.file);
    const bytes = Buffer.from(recordLine(rec), 'utf8');
    try {
      writeFully(this.fd, bytes, this.file);
    } catch (e) {
      // Cut a partly written line away, so the journal stays a sequence of whole records.
      try { ftruncateSync(this.fd, this.size); } catch { /* then it is a torn tail, cut away on the next open */ }
      throw e;
    }
    this.size += bytes.length;
    this.dirty = true;
  }

  flush(): void {
    if (this.fd === null || !this.dirty) return;
    try {
      fsyncSync(this.fd);
    } catch (e) {
      throw withPath(e, this.file);
    }
    this.dirty = false;
  }

  close(): void {
    clearInterval(this.timer);
    if (this.fd === null) return;
    const fd = this.fd;
    this.fd = null;
    try {
      if (this.dirty) fsyncSync(fd);
    } catch (e) {
      throw withPath(e, this.file);
    } finally {
      closeSync(fd);
    }
    if (this.failure !== null) throw withPath(this.failure, this.file);
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
