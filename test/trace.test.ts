// The bounded loss trace of every run (result.trace): log-spaced, at most about TRACE_POINTS points
// whatever the budget, from iteration 0 to the last iteration, each point the relLoss of that
// iterate (checked against the per-iteration curve of logEvery = 1).
import test from 'ava';
import { resolveConfig } from '../src/core/config.js';
import { syntheticDataset } from '../src/core/data.js';
import { referenceEngine } from '../src/core/reference.js';
import { nextTracePoint, TRACE_POINTS, train } from '../src/core/train.js';
import type { RunConfig } from '../src/core/types.js';

function run(over: Partial<RunConfig>): ReturnType<typeof train>['result'] {
  const cfg = resolveConfig({ method: 'gd', n: 40, d: 4, m: 12, seed: 1, epsilon: 0, logEvery: 1, ...over } as RunConfig);
  return train(cfg, syntheticDataset(cfg), referenceEngine).result;
}

test('the trace is bounded, log-spaced, from iteration 0 to the last, and each point is the loss of that iterate', (t) => {
  for (const iterations of [1, 7, 300, 20000]) {
    const r = run({ iterations });
    const tr = r.trace;
    t.true(tr.length <= TRACE_POINTS + 2, `${iterations} iterations: ${tr.length} points`);
    t.is(tr[0]![0], 0);
    t.is(tr[tr.length - 1]![0], r.iterations);
    for (let k = 1; k < tr.length; k++) t.true(tr[k]![0] > tr[k - 1]![0], 'iterations increase');
    const curve = new Map(r.curve.map(([it, rel]) => [it, rel]));
    for (const [it, rel] of tr.slice(0, -1)) t.is(rel, Number(curve.get(it)!.toPrecision(4)), `iteration ${it}`);
    t.is(tr[tr.length - 1]![1], Number(r.relLoss!.toPrecision(4)), 'the last point is the final relLoss');
    if (iterations >= 300) {
      // dense early, sparse late: the first 10 iterations are all there, the gaps grow
      t.deepEqual(tr.slice(0, 10).map((p) => p[0]), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      t.true(tr[tr.length - 1]![0] - tr[tr.length - 2]![0] > 10 * (tr[11]![0] - tr[10]![0]));
    }
  }
});

test('an early stop ends the trace at the stopping iteration; sgd traces its per-epoch evaluations', (t) => {
  const early = run({ iterations: 100000, epsilon: 0.5 });
  t.true(early.iterations < 100000);
  t.is(early.trace[early.trace.length - 1]![0], early.iterations);
  const sgd = run({ method: 'sgd', batch: 8, iterations: 400, logEvery: 0 });
  // n = 40, batch 8: the full loss is evaluated every 5 iterations
  for (const [it] of sgd.trace.slice(0, -1)) t.is(it % 5, 0, `sgd point at ${it}`);
});

test('nextTracePoint is strictly after the current iteration and spreads TRACE_POINTS slots over the budget', (t) => {
  let it = 0, count = 1;
  while (it < 1e6) { const next = nextTracePoint(it, 1e6); t.true(next > it); it = next; count++; }
  t.true(count <= TRACE_POINTS + 2, `${count} points over 1e6 iterations`);
  t.true(count >= TRACE_POINTS / 2);
});
