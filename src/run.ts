// One run end to end: resolve the config, load the data, pick the engine, train.
// Shared by `narrowsweep train` and the sweep worker.
import { resolveConfig } from './core/config.js';
import { train } from './core/train.js';
import type { TrainHooks, TrainOutput } from './core/train.js';
import type { ResolvedConfig, RunConfig } from './core/types.js';
import type { LoadedDataset } from './data/input.js';
import { loadDataset } from './data/load.js';
import { selectEngine } from './engines/select.js';

export type RunHooks = Pick<TrainHooks, 'onProgress' | 'progressSeconds' | 'shouldStop'>;
export type RunOutput = TrainOutput & { dataset: LoadedDataset; resolved: ResolvedConfig };

/**
 * Throws ConfigError / DataError for bad input (before any training); numerical trouble is a
 * result status, never an exception.
 */
export async function executeRun(cfg: RunConfig, hooks: RunHooks = {}): Promise<RunOutput> {
  const resolved = resolveConfig(cfg);
  const dataset = loadDataset(resolved);
  const engine = await selectEngine(resolved.engine, resolved.dtype);
  const out = train(resolved, dataset, engine, hooks);
  return { ...out, dataset, resolved };
}
