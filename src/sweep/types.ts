// Records shared by the grid, the coordinator, the journal and the aggregator.
import type { RunConfig, RunResult } from '../core/types.js';

/** Value of one grid axis in a configuration. */
export type AxisValue = string | number | boolean | null;

/** One configuration of a sweep, as the grid yields it. */
export interface GridEntry {
  /** Stable id: hash of the canonical config plus CORE_SEMANTICS_VERSION. */
  id: string;
  /** Position in the grid's scheduling order (trial-major: all cells at trial 0 first). */
  index: number;
  trial: number;
  /** The cell this run belongs to: the values of every axis except the trial/seed. */
  cell: Record<string, AxisValue>;
  /** The full run configuration handed to the worker. */
  config: RunConfig;
}

/** One line of results/<name>/runs.jsonl: a finished run. */
export interface JournalRecord {
  id: string;
  trial: number;
  cell: Record<string, AxisValue>;
  config: RunConfig;
  result: RunResult;
  startedAt: string;
  finishedAt: string;
  /** Wall seconds the coordinator measured around the run (queueing excluded). */
  wallSeconds: number;
  host: string;
  versions: { narrowsweep: string; node: string; core: number };
}

/**
 * The configurations of a results folder's current spec, as the tables see them (built in
 * src/sweep/snapshot.ts; the report layer takes it as given and never expands a grid itself).
 */
export interface GridView {
  /** Position of a run id in the grid (its GridEntry.index), or -1 when the id is not in the grid. */
  indexOf(id: string): number;
  /**
   * The cells of one trial in grid order: the configuration at position i belongs to the cell
   * cells[i % cells.length] and has trial floor(i / cells.length).
   */
  readonly cells: ReadonlyArray<Record<string, AxisValue>>;
}
