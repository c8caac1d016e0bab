// One run end to end: resolve the config, load the data, pick the engine, train.
// Shared by `narrowsweep train` and the sweep worker. (Stub: filled in by the core change.)
import type { RunConfig, RunResult } from './core/types.js';

export interface RunHooks {
  /** Called about every `progressSeconds` seconds with the current iteration and relLoss. */
  onProgress?: (iteration: number, relLoss: number) => void;
  progressSeconds?: number;
  /** Checked between iterations; when it returns true the run stops with status `timeout`. */
  shouldStop?: () => boolean;
}

export interface RunOutput {
  result: RunResult;
  /** Final and initial parameters, row-major W (d x m). */
  model: { W: Float64Array; v: Float64Array; W0: Float64Array; v0: Float64Array };
}

export async function executeRun(_cfg: RunConfig, _hooks: RunHooks = {}): Promise<RunOutput> {
  throw new Error('executeRun: not implemented yet');
}
