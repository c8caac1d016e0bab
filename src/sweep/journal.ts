// The journal: results/<name>/runs.jsonl, one complete JSON record per finished run.
import { readFileSync, existsSync } from 'node:fs';
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
