// Merging results folders of one sweep (its shards, run on several machines) into one folder.
// Every id is kept once. Within the folders, taken in order (the output folder's own journal first),
// a later record of an id replaces an earlier one, as within one journal, except that a failed
// record (error, timeout, oom) never replaces a finished one (ok, diverged). So merging again after
// a shard was resumed with --retry-failed takes its new results. The inputs are only read; every
// line is checked before anything is written (src/sweep/record.ts: a damaged line is refused, naming
// it, as run and aggregate refuse it); the merged journal goes to a temporary file, written in full,
// fsynced and renamed into place, so a crash or a full disk leaves the old journal or the new one.
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, existsSync, fsyncSync, openSync, renameSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { RunStatus } from '../core/types.js';
import { ConfigError } from '../core/errors.js';
import { removeQuietly, tmpName, withPath, writeFully } from '../files.js';
import { JOURNAL_FILE, RETRYABLE } from './coordinator.js';
import { iterateGrid } from './grid.js';
import { LOCK_FILE } from './lock.js';
import { readSpecSnapshot, SnapshotError, SPEC_FILE, writeSpecSnapshot } from './snapshot.js';
import { checkText, DamageReport } from './record.js';
import type { Spec } from './spec.js';

export interface MergeOutcome {
  spec: Spec;
  /** Records in the merged journal. */
  records: number;
  /** Per folder read (the output folder's own journal first when it had one): records kept from it. */
  taken: Array<{ dir: string; records: number }>;
  /** Records not kept because another record of their id was (see the file comment). */
  superseded: number;
  /** Configurations of the spec, and how many of them the merged journal holds. */
  gridTotal: number;
  covered: number;
  /** Folders whose journal ended in a torn line (a crash mid-write), which was skipped. */
  torn: string[];
  /** Input folders with a lock file: a coordinator may still be running there. */
  locked: string[];
}

function specOf(dir: string): Spec {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new ConfigError(dir, 'is not a folder');
  if (!existsSync(join(dir, JOURNAL_FILE))) throw new ConfigError(dir, `has no ${JOURNAL_FILE} (not a results folder)`);
  let snap;
  try {
    snap = readSpecSnapshot(dir);
  } catch (e) {
    if (e instanceof SnapshotError) throw new ConfigError(dir, e.message);
    throw e;
  }
  if (snap.kind === 'none') throw new ConfigError(dir, `has no ${SPEC_FILE}, so its spec is unknown; run the sweep into it with this version first`);
  if (snap.kind === 'other-core') {
    throw new ConfigError(dir, `its ${SPEC_FILE} was written by another core version (${String(snap.coreSemantics)}); its runs cannot be merged with this one's`);
  }
  return snap.spec;
}

/** What decides a spec's runs: the sequence of its run ids (not its file name or description). */
function gridDigest(spec: Spec): { digest: string; total: number; ids: Set<string> } {
  const h = createHash('sha256');
  const ids = new Set<string>();
  for (const e of iterateGrid(spec)) { h.update(e.id); ids.add(e.id); }
  return { digest: h.digest('hex'), total: ids.size, ids };
}

/** Streams the lines of `file` (at most `limit`) to `onLine`, telling it which line is the last one. */
async function eachLine(file: string, limit: number, onLine: (line: string, lineNo: number, isLast: boolean) => void): Promise<void> {
  const rl = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  let prev: string | null = null;
  let lineNo = 0;
  for await (const line of rl) {
    if (prev !== null) onLine(prev, lineNo, false);
    if (lineNo >= limit) { prev = null; break; }
    prev = line;
    lineNo++;
  }
  rl.close();
  if (prev !== null) onLine(prev, lineNo, true);
}

const ID_AT_START = /^\{"id":"((?:[^"\\]|\\.)*)"/;

/**
 * Merges the journals of `inputs` (and of `outDir` itself, if it has one) into `outDir`. Every folder
 * must hold a run of the same spec (the same run ids, from its spec.json). Throws a ConfigError
 * naming the folder otherwise, and a DataError naming the lines for a damaged journal, before
 * writing anything.
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
  const first = { dir: inputs[0]!, spec: specOf(inputs[0]!) };
  const grid = gridDigest(first.spec);
  for (const dir of inputs.slice(1)) {
    if (gridDigest(specOf(dir)).digest !== grid.digest) {
      throw new ConfigError(dir, `its ${SPEC_FILE} differs from that of ${first.dir} (other configurations): only runs of the same spec (the shards of one sweep) can be merged`);
    }
  }
  const own = existsSync(join(outDir, JOURNAL_FILE));
  if (own) {
    if (!existsSync(join(outDir, SPEC_FILE))) {
      throw new ConfigError(outDir, `holds a ${JOURNAL_FILE} but no ${SPEC_FILE}, so its spec is unknown; merge into a new folder`);
    }
    if (gridDigest(specOf(outDir)).digest !== grid.digest) {
      throw new ConfigError(outDir, `already holds the results of another spec (its ${SPEC_FILE} differs); choose another output folder`);
    }
  }
  const sources = own ? [outDir, ...inputs] : inputs;
  const outcome: MergeOutcome = {
    spec: first.spec, records: 0, taken: [], superseded: 0, gridTotal: grid.total, covered: 0, torn: [],
    locked: inputs.filter((dir) => existsSync(join(dir, LOCK_FILE))),
  };

  // Pass 1: check every line, and choose the record kept for each id (source, line).
  const chosen = new Map<string, { source: number; line: number; failed: boolean }>();
  const lines: number[] = [];
  let records = 0;
  for (const [source, dir] of sources.entries()) {
    const file = join(dir, JOURNAL_FILE);
    const damage = new DamageReport(file);
    let count = 0;
    await eachLine(file, Infinity, (line, lineNo, isLast) => {
      count = lineNo;
      if (line.trim() === '') return;
      const checked = checkText(line);
      if (checked.rec === null) {
        if (isLast) { outcome.torn.push(dir); count = lineNo - 1; return; }
        damage.add(lineNo, checked.problem);
        return;
      }
      const rec = { id: checked.rec.id, status: checked.rec.result.status };
      records++;
      const failed = RETRYABLE.has(rec.status);
      const prev = chosen.get(rec.id);
      if (prev === undefined || !(failed && !prev.failed)) chosen.set(rec.id, { source, line: lineNo, failed });
    });
    if (damage.count > 0) throw damage.error();
    lines.push(count);
  }

  // Pass 2: write the chosen lines, in the order they were read.
  const journal = join(outDir, JOURNAL_FILE);
  const tmp = tmpName(journal);
  let fd: number;
  try {
    fd = openSync(tmp, 'w');
  } catch (e) {
    throw withPath(e, journal);
  }
  try {
    for (const [source, dir] of sources.entries()) {
      let taken = 0;
      await eachLine(join(dir, JOURNAL_FILE), lines[source]!, (line, lineNo) => {
        if (line.trim() === '') return;
        // pass 1 checked every line up to here; lines this program wrote start with their id
        const m = ID_AT_START.exec(line);
        const id = m ? (JSON.parse(`"${m[1]!}"`) as string) : (JSON.parse(line) as { id: string }).id;
        const c = chosen.get(id);
        if (c === undefined || c.source !== source || c.line !== lineNo) return;
        writeFully(fd, `${line}\n`, journal);
        taken++;
        if (grid.ids.has(id)) outcome.covered++;
      });
      outcome.taken.push({ dir, records: taken });
      outcome.records += taken;
    }
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, journal);
  } catch (e) {
    try { closeSync(fd); } catch { /* closed */ }
    removeQuietly(tmp); // nothing half-done is left behind
    throw withPath(e, journal);
  }
  outcome.superseded = records - outcome.records;
  writeSpecSnapshot(outDir, first.spec);
  return outcome;
}
