// Synthetic journal records for tests that need a journal without running a sweep.
import type { ResolvedConfig, RunResult } from '../../src/core/types.js';
import type { JournalRecord } from '../../src/sweep/types.js';

/** Record `i`: method sgd, n 20, d 4, m = 1 + i % 6, trial floor(i / 6); a full result as the core writes it. */
export function syntheticRecord(i: number): JournalRecord {
  const m = 1 + (i % 6);
  const trial = Math.floor(i / 6);
  const success = (i * 7) % 3 === 0;
  const relLoss = success ? 1e-6 * (1 + (i % 5)) : 0.01 * (1 + (i % 5));
  const resolved = {
    method: 'sgd', n: 20, d: 4, m, seed: trial, activation: 'tanh', data: { source: 'gaussian', labels: 'gaussian' },
    init: 'lecun', optimizer: 'sgd', constraint: 'none', trainOutput: true, projection: 'global', radius: 'auto', kappa: 2,
    lr: 0.05, lrScale: 1, batch: 16, momentum: 0, beta1: 0.9, beta2: 0.999, adamEps: 1e-8, lmDamping: 1e-3, lmFactor: 4,
    outputScale: 1, iterations: 5000, seconds: 60, epsilon: 1e-4, logEvery: 0, certificateMaxN: 1000, dtype: 'float64', engine: 'auto',
  } as unknown as ResolvedConfig;
  const result: RunResult = {
    status: 'ok', message: null, success, epsilon: 1e-4, relLoss, bestRelLoss: relLoss, loss: relLoss / 2,
    iterations: 100 + i, iterationBudget: 5000, secondsBudget: 60, seconds: 0.01 * (i + 1),
    milestones: [{ threshold: 1e-2, iteration: 10, seconds: 0.001 }, { threshold: 1e-4, iteration: success ? 50 : null, seconds: success ? 0.005 : null }],
    lrUsed: 0.05, lambdaMax: null, radiusUsed: null, sigmaMinJStart: 1e-3, sigmaMinJEnd: 2e-3, distW0: 1, constraintActive: null,
    kktResidual: 1e-3, gradNorm: 1e-3, testLoss: null, testRelLoss: null, testAccuracy: null,
    engine: 'ts', engineDetail: 'typescript reference (float64)', dtype: 'float64', resolved, curve: [], trace: [],
  };
  return {
    id: `rec${String(i).padStart(6, '0')}`, trial, cell: { method: 'sgd', n: 20, d: 4, m },
    config: { method: 'sgd', n: 20, d: 4, m, seed: trial, lr: 0.05, batch: 16 }, result,
    startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:00:01.000Z', wallSeconds: 1, host: 'test',
    versions: { narrowsweep: '0.1.0', node: 'v20', core: 2 },
  };
}

/** Records 0..count-1 as journal text, one JSON line each (the form an older version wrote). */
export function syntheticJournal(count: number, from = 0): string {
  let s = '';
  for (let i = from; i < from + count; i++) s += `${JSON.stringify(syntheticRecord(i))}\n`;
  return s;
}
