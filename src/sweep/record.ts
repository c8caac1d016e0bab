// One line of the journal (runs.jsonl) and the check that decides whether a line is a record. Every
// reader (run's index, aggregate, merge, repair, the writer's torn-tail repair) uses this one check,
// so a journal is accepted or refused the same way by every command.
//
// Line format: `{"id":"…","result":{"status":"…","success":…,…},…,"crc32":"xxxxxxxx"}`: id, status
// and success first (the index reads them at fixed places), and last the CRC-32 (zlib's, as 8 hex
// digits) of the line's UTF-8 bytes before `,"crc32":"`. The checksum lets the index, which does not
// parse whole records, still notice a line that was damaged after it was written, including damage
// that leaves valid JSON (a changed key or digit). Lines without the field (written by earlier
// versions, or by hand) are checked by their shape instead (shapeProblem).
import { crc32 as zlibCrc32 } from 'node:zlib';
import { dirname, join } from 'node:path';
import { DataError } from '../core/errors.js';
import type { RunStatus } from '../core/types.js';
import type { JournalRecord } from './types.js';

export const STATUSES: readonly RunStatus[] = ['ok', 'diverged', 'timeout', 'error', 'oom'];
/** Where `narrowsweep repair` moves damaged lines (next to the journal). */
export const DAMAGED_FILE = 'runs.damaged.jsonl';

const CRC_KEY = Buffer.from(',"crc32":"');
/** `,"crc32":"` + 8 hex digits + `"}` */
const CRC_SUFFIX = CRC_KEY.length + 8 + 2;

// zlib.crc32 is Node >= 20.15; a table-driven fallback for older Node 20.
let crcTable: Int32Array | null = null;
function crc32(bytes: Uint8Array): number {
  if (typeof zlibCrc32 === 'function') return zlibCrc32(bytes);
  if (crcTable === null) {
    crcTable = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c;
    }
  }
  let c = -1;
  for (let i = 0; i < bytes.length; i++) c = crcTable[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

function hex8(x: number): string {
  return x.toString(16).padStart(8, '0');
}

/**
 * The line of one record, with its newline. Key order is fixed so that the index reads id, status
 * and success at known places: `{"id":"…","result":{"status":"…","success":…` then the rest of the
 * result and of the record, then the checksum.
 */
export function recordLine(rec: JournalRecord): string {
  const { id, result, ...rest } = rec;
  delete (rest as { crc32?: unknown }).crc32; // a record read back from a journal: a new checksum below
  const { status, success, ...resultRest } = result;
  const head = JSON.stringify({ id, result: { status, success, ...resultRest }, ...rest }).slice(0, -1);
  return `${head}${CRC_KEY.toString()}${hex8(crc32(Buffer.from(head, 'utf8')))}"}\n`;
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/**
 * The checksum of buf[s..e) (one line without its newline): 'ok' when it ends with a checksum that
 * matches, 'bad' when it ends with one that does not, 'none' when it has none at its end.
 */
export function checksumState(buf: Uint8Array, s: number, e: number): 'ok' | 'bad' | 'none' {
  if (e - s < CRC_SUFFIX + 2 || buf[e - 1] !== 0x7d || buf[e - 2] !== 0x22) return 'none';
  const k = e - CRC_SUFFIX;
  for (let i = 0; i < CRC_KEY.length; i++) if (buf[k + i] !== CRC_KEY[i]) return 'none';
  let want = 0;
  for (let i = 0; i < 8; i++) {
    const h = hexDigit(buf[k + CRC_KEY.length + i]!);
    if (h < 0) return 'bad';
    want = want * 16 + h;
  }
  return crc32(buf.subarray(s, k)) === want ? 'ok' : 'bad';
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

const RESULT_NUMBERS = ['epsilon', 'iterations', 'iterationBudget', 'secondsBudget', 'seconds'] as const;
const RESULT_NUMBERS_OR_NULL = ['relLoss', 'sigmaMinJStart', 'sigmaMinJEnd'] as const;

/**
 * Why a parsed line is not a journal record, or null when it has a record's shape: the fields
 * every record holds (id, trial, cell, config with method, n, d, m, result with status, success
 * and the numbers the tables read, start and end time, host, versions) with the right types.
 */
export function shapeProblem(x: unknown): string | null {
  if (!isObject(x)) return `it is ${x === null ? 'null' : Array.isArray(x) ? 'a list' : `a ${typeof x}`}, not a record`;
  if (typeof x.id !== 'string' || x.id === '') return 'it has no "id" (not a record)';
  if (typeof x.trial !== 'number' || !Number.isInteger(x.trial) || x.trial < 0) return '"trial" is not a non-negative integer';
  if (!isObject(x.cell)) return '"cell" is missing or not an object';
  const c = x.config;
  if (!isObject(c)) return '"config" is missing or not an object';
  if (typeof c.method !== 'string') return '"config.method" is missing';
  for (const k of ['n', 'd', 'm'] as const) if (typeof c[k] !== 'number') return `"config.${k}" is missing or not a number`;
  const r = x.result;
  if (!isObject(r)) return '"result" is missing or not an object';
  if (!(STATUSES as readonly unknown[]).includes(r.status)) return `"result.status" is not one of ${STATUSES.join(', ')}`;
  if (typeof r.success !== 'boolean') return '"result.success" is not true or false';
  for (const k of RESULT_NUMBERS) if (typeof r[k] !== 'number') return `"result.${k}" is missing or not a number`;
  for (const k of RESULT_NUMBERS_OR_NULL) if (r[k] !== null && typeof r[k] !== 'number') return `"result.${k}" is missing or not a number`;
  if (!Array.isArray(r.milestones)) return '"result.milestones" is missing or not a list';
  if (r.resolved !== undefined && !isObject(r.resolved)) return '"result.resolved" is not an object';
  for (const k of ['startedAt', 'finishedAt', 'host'] as const) if (typeof x[k] !== 'string') return `"${k}" is missing or not text`;
  if (typeof x.wallSeconds !== 'number') return '"wallSeconds" is missing or not a number';
  if (!isObject(x.versions)) return '"versions" is missing or not an object';
  return null;
}

export type LineCheck = { rec: JournalRecord; problem: null } | { rec: null; problem: string };

/**
 * Checks one line, buf[s..e) without its newline (not blank): its checksum when it has one, then
 * JSON and the record's shape. `text` is the line decoded, when the caller has it.
 */
export function checkLine(buf: Uint8Array, s: number, e: number, text?: string): LineCheck {
  const sum = checksumState(buf, s, e);
  if (sum === 'bad') return { rec: null, problem: 'its checksum does not match (the line changed after it was written)' };
  let x: unknown;
  try {
    x = JSON.parse(text ?? Buffer.from(buf.buffer, buf.byteOffset + s, e - s).toString('utf8'));
  } catch {
    return { rec: null, problem: 'it is not valid JSON' };
  }
  if (sum === 'none' && isObject(x) && 'crc32' in x) return { rec: null, problem: 'its checksum field is damaged' };
  const problem = shapeProblem(x);
  return problem === null ? { rec: x as JournalRecord, problem: null } : { rec: null, problem };
}

/** checkLine for a line given as text. */
export function checkText(text: string): LineCheck {
  const buf = Buffer.from(text, 'utf8');
  return checkLine(buf, 0, buf.length, text);
}

/** Collects the damaged lines of one journal while it is read; `error()` is the refusal naming them. */
export class DamageReport {
  readonly lines: Array<{ lineNo: number; problem: string }> = [];
  constructor(readonly file: string) {}

  add(lineNo: number, problem: string): void {
    this.lines.push({ lineNo, problem });
  }

  get count(): number {
    return this.lines.length;
  }

  /** The refusal: the file, the first damaged lines and what to do. */
  error(): DataError {
    const first = this.lines[0]!;
    const more = this.lines.length > 1
      ? ` (${this.lines.length} damaged lines: ${this.lines.slice(0, 5).map((l) => l.lineNo).join(', ')}${this.lines.length > 5 ? ', ...' : ''})`
      : '';
    const dir = dirname(this.file);
    return new DataError(`${this.file}:${first.lineNo}: damaged journal line: ${first.problem}${more}. ` +
      `\`narrowsweep repair ${dir}\` moves damaged lines into ${join(dir, DAMAGED_FILE)}; their runs are then run again`);
  }
}
