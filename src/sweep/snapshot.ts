// The spec a results folder is run with (`spec.json`), and the index of its grid that the tables
// are made from.
//
// The journal keeps every record, also those of an earlier spec under the same name; the tables
// show the folder's CURRENT spec only. So `run` writes the validated spec it runs into the folder
// (atomically, before the first run), and every aggregation (during and after a run, and
// `narrowsweep aggregate`) expands that grid: a record counts when its id is in the grid, and it
// takes its cell (the axis values) and trial from the grid rather than from what it stored, which
// an older spec may have labelled differently (an axis added or a seed list changed).
import { existsSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { CORE_SEMANTICS_VERSION } from '../core/version.js';
import { writeFileAtomic } from '../files.js';
import type { AxisValue, GridEntry, GridView } from './types.js';
import type { Spec } from './spec.js';
import { canonicalJson, iterateGrid } from './grid.js';
import { IdTable } from './journal.js';

export const SPEC_FILE = 'spec.json';
const FORMAT = 'narrowsweep spec snapshot';
const VERSION = 1;

/**
 * id -> grid position over a whole grid, no string per id: 20 bytes per hash slot at a load factor
 * of at most 1/2 (so 40 bytes or more per configuration), plus one cell object per cell of trial 0.
 */
export class GridIndex implements GridView {
  /** The cells of trial 0, in grid order (entry index i is cell i % cells.length). */
  readonly cells: Array<Record<string, AxisValue>> = [];
  private readonly ids = new IdTable({ wide: true });

  /** Adds the entries of iterateGrid in order (GridEntry.index < 2^31). */
  add(entry: GridEntry): void {
    if (entry.trial === 0) this.cells.push(entry.cell);
    this.ids.set(entry.id, entry.index);
  }

  indexOf(id: string): number {
    return this.ids.get(id) ?? -1;
  }

  /** Configurations indexed. */
  get size(): number {
    return this.ids.size;
  }

  static of(spec: Spec): GridIndex {
    const g = new GridIndex();
    for (const e of iterateGrid(spec)) g.add(e);
    return g;
  }
}

/**
 * Writes `<dir>/spec.json` atomically (tmp file written in full, fsync, rename). Returns false, after removing an
 * older snapshot, when the spec does not survive a JSON round trip (then the tables count every
 * record, as for a folder without a snapshot).
 */
export function writeSpecSnapshot(dir: string, spec: Spec): boolean {
  const file = join(dir, SPEC_FILE);
  const text = `${JSON.stringify({ format: FORMAT, version: VERSION, coreSemantics: CORE_SEMANTICS_VERSION, spec }, null, 2)}\n`;
  let same = false;
  try {
    same = canonicalJson((JSON.parse(text) as { spec: unknown }).spec) === canonicalJson(spec);
  } catch { /* a value JSON cannot hold */ }
  if (!same) {
    try { unlinkSync(file); } catch { /* none */ }
    return false;
  }
  writeFileAtomic(file, text);
  return true;
}

export type SnapshotRead =
  | { kind: 'none' }
  | { kind: 'spec'; spec: Spec }
  /** Written by a core with other semantics: its ids cannot be recomputed here. */
  | { kind: 'other-core'; coreSemantics: unknown };

/** Thrown for a spec.json that is not a snapshot this program wrote. */
export class SnapshotError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SnapshotError';
  }
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function checkFactors(x: unknown, what: string): void {
  if (!Array.isArray(x)) throw new SnapshotError(`${what}: expected a list`);
  for (const f of x) {
    if (!isObject(f) || !Array.isArray(f.names) || !Array.isArray(f.tuples) || !Array.isArray(f.paths) ||
      !f.tuples.every((t) => Array.isArray(t) && t.length === (f.names as unknown[]).length)) {
      throw new SnapshotError(`${what}: expected factors { names, tuples, paths, method, field }`);
    }
  }
}

/** Reads `<dir>/spec.json` (the spec was validated when it was written; only its shape is checked). */
export function readSpecSnapshot(dir: string): SnapshotRead {
  const file = join(dir, SPEC_FILE);
  if (!existsSync(file)) return { kind: 'none' };
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new SnapshotError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(doc) || doc.format !== FORMAT || doc.version !== VERSION || !isObject(doc.spec)) {
    throw new SnapshotError(`${file}: not a ${FORMAT} of version ${VERSION}`);
  }
  if (doc.coreSemantics !== CORE_SEMANTICS_VERSION) return { kind: 'other-core', coreSemantics: doc.coreSemantics };
  const s = doc.spec;
  try {
    if (typeof s.name !== 'string') throw new SnapshotError('name: expected text');
    checkFactors(s.factors, 'factors');
    checkFactors(s.methodFactors, 'methodFactors');
    if (!(s.factors as Array<{ names: string[] }>).some((f) => f.names.includes('method'))) throw new SnapshotError('factors: no method axis');
    if (s.width !== 'rho' && s.width !== 'm') throw new SnapshotError('width: expected rho or m');
    if (!Array.isArray(s.seeds) || s.seeds.length === 0 || !s.seeds.every((x) => Number.isInteger(x) && (x as number) >= 0)) {
      throw new SnapshotError('seeds: expected a non-empty list of non-negative integers');
    }
    for (const k of ['data', 'defaults', 'methods', 'settingPaths'] as const) {
      if (!isObject(s[k])) throw new SnapshotError(`${k}: expected a mapping`);
    }
  } catch (e) {
    throw new SnapshotError(`${file}: spec.${(e as Error).message}`);
  }
  return { kind: 'spec', spec: s as unknown as Spec };
}
