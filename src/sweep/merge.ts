// Merging results folders of one sweep (its shards, run on several machines) into one folder: the
// journals are concatenated with each id kept once (the first record of it wins), and the spec
// snapshot is carried over. The inputs are only read. The merged journal is written to a temporary
// file, fsynced and renamed into place, so a crash leaves the old journal or the new one.
import { closeSync, createReadStream, existsSync, fsyncSync, openSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { ConfigError } from '../core/errors.js';
import { JOURNAL_FILE } from './coordinator.js';
import { canonicalJson } from './grid.js';
import { IdTable } from './journal.js';
import { readSpecSnapshot, SPEC_FILE, writeSpecSnapshot } from './snapshot.js';
import type { Spec } from './spec.js';

export interface MergeOutcome {
  spec: Spec;
  /** Records in the merged journal. */
  records: number;
  /** Per input folder: records taken from it (the output folder's own journal first when it had one). */
  taken: Array<{ dir: string; records: number }>;
  /** Records skipped because their id was already taken. */
  duplicates: number;
  /** Folders whose journal ended in a torn line (a crash mid-write), which was skipped. */
  torn: string[];
}

const ID_AT_START = /^\{"id":"([^"\\]+)"/;

function specOf(dir: string): Spec {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new ConfigError(dir, 'is not a folder');
  if (!existsSync(join(dir, JOURNAL_FILE))) throw new ConfigError(dir, `has no ${JOURNAL_FILE} (not a results folder)`);
  const snap = readSpecSnapshot(dir);
  if (snap.kind === 'none') throw new ConfigError(dir, `has no ${SPEC_FILE}; run the sweep into it with this version first, so its spec is known`);
  if (snap.kind === 'other-core') {
    throw new ConfigError(dir, `its ${SPEC_FILE} was written by another core version (${String(snap.coreSemantics)}); its runs cannot be merged with this one's`);
  }
  return snap.spec;
}

/** Streams the lines of `file` to `onLine`, telling it which line is the last one. */
async function eachLine(file: string, onLine: (line: string, lineNo: number, isLast: boolean) => void): Promise<void> {
  const rl = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  let prev: string | null = null;
  let lineNo = 0;
  for await (const line of rl) {
    if (prev !== null) onLine(prev, lineNo, false);
    prev = line;
    lineNo++;
  }
  if (prev !== null) onLine(prev, lineNo, true);
}

/**
 * Merges the journals of `inputs` (and of `outDir` itself, if it has one) into `outDir`. Every folder
 * must hold a run of the same spec (its spec.json). Throws a ConfigError naming the folder otherwise.
 */
export async function mergeResults(outDir: string, inputs: string[]): Promise<MergeOutcome> {
  if (inputs.length === 0) throw new ConfigError('merge', 'give at least one results folder to merge');
  const out = resolve(outDir);
  const seenDirs = new Set<string>();
  for (const dir of inputs) {
    const abs = resolve(dir);
    if (abs === out) throw new ConfigError(dir, 'is the output folder; the output folder\'s own journal is merged in anyway');
    if (seenDirs.has(abs)) throw new ConfigError(dir, 'is given twice');
    seenDirs.add(abs);
  }
  const specs = inputs.map((dir) => ({ dir, spec: specOf(dir) }));
  const first = specs[0]!;
  const text = canonicalJson(first.spec);
  for (const { dir, spec } of specs.slice(1)) {
    if (canonicalJson(spec) !== text) {
      throw new ConfigError(dir, `its ${SPEC_FILE} differs from that of ${first.dir}: only runs of the same spec (the shards of one sweep) can be merged`);
    }
  }
  const own = existsSync(join(outDir, JOURNAL_FILE));
  if (own && existsSync(join(outDir, SPEC_FILE)) && canonicalJson(specOf(outDir)) !== text) {
    throw new ConfigError(outDir, `already holds the results of another spec (its ${SPEC_FILE} differs); choose another output folder`);
  }

  const journal = join(outDir, JOURNAL_FILE);
  const tmp = `${journal}.merge-${process.pid}.tmp`;
  const fd = openSync(tmp, 'w');
  const ids = new IdTable();
  const outcome: MergeOutcome = { spec: first.spec, records: 0, taken: [], duplicates: 0, torn: [] };
  try {
    for (const dir of own ? [outDir, ...inputs] : inputs) {
      const file = join(dir, JOURNAL_FILE);
      let taken = 0;
      await eachLine(file, (line, lineNo, isLast) => {
        if (line.trim() === '') return;
        let id = ID_AT_START.exec(line)?.[1];
        if (id === undefined) {
          try {
            id = (JSON.parse(line) as { id?: unknown }).id as string;
          } catch {
            if (isLast) { outcome.torn.push(dir); return; }
            throw new ConfigError(file, `line ${lineNo} is not valid JSON (the journal is corrupted beyond a torn last line)`);
          }
          if (typeof id !== 'string') throw new ConfigError(file, `line ${lineNo} has no id`);
        } else if (isLast) {
          try { JSON.parse(line); } catch { outcome.torn.push(dir); return; }
        }
        if (!ids.set(id, 0)) { outcome.duplicates++; return; }
        writeSync(fd, `${line}\n`);
        taken++;
      });
      outcome.taken.push({ dir, records: taken });
      outcome.records += taken;
    }
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    unlinkSync(tmp); // nothing half-done is left behind
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, journal);
  writeSpecSnapshot(outDir, first.spec);
  return outcome;
}
