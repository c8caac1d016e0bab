// Engine selection, outside the core: the core receives an Engine and never loads one itself.
// (Filled in by the engine changes; the reference engine is always available.)
import type { Dtype, Engine, EngineName } from '../core/types.js';
import { referenceEngine } from '../core/reference.js';

export async function selectEngine(name: 'auto' | EngineName, dtype: Dtype): Promise<Engine> {
  if (name === 'auto' || name === 'ts') {
    if (dtype === 'float64') return referenceEngine;
  }
  throw new Error(`engine ${name} (${dtype}) is not available yet`);
}
