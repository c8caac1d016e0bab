#!/usr/bin/env node
// narrowsweep: parses the subcommand and hands over to its module. No logic of its own.
import { didYouMean } from './core/suggest.js';
import { describeEnvironmentError, isEnvironmentError } from './files.js';

const COMMANDS: Record<string, { summary: string; load: () => Promise<{ main(argv: string[]): Promise<number> }> }> = {
  train: { summary: 'train one configuration and print the result JSON', load: () => import('./commands/train.js') },
  plan: { summary: 'validate a sweep spec and show its size and estimated CPU time', load: () => import('./commands/plan.js') },
  run: { summary: 'run (or resume) a sweep spec with a pool of workers', load: () => import('./commands/run.js') },
  aggregate: { summary: 'write the CSV tables (and the charts) of a results folder', load: () => import('./commands/aggregate.js') },
  report: { summary: 'write report.html and the charts (standalone .svg) of a results folder', load: () => import('./commands/report.js') },
  merge: { summary: 'join the results folders of one sweep\'s shards (run --shard K/N) into one', load: () => import('./commands/merge.js') },
  repair: { summary: 'move the damaged lines of a results folder\'s journal aside (run, aggregate, merge refuse them)', load: () => import('./commands/repair.js') },
  worker: { summary: 'take run jobs from a work queue (run --queue) and train them', load: () => import('./commands/worker.js') },
  status: { summary: 'show a work queue\'s jobs and connected workers', load: () => import('./commands/status.js') },
  doctor: { summary: 'show the compute engine, CPU features and a quick step benchmark', load: () => import('./commands/doctor.js') },
};

function usage(): string {
  const lines = ['usage: narrowsweep <command> [options]   (narrowsweep <command> --help for its options)', ''];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(10)} ${c.summary}`);
  return lines.join('\n');
}

// `narrowsweep ... | head`: a closed pipe ends the output quietly, not with a stack trace. A sweep
// (`run`) keeps going without output instead: exiting would drop its running runs and leave the lock;
// so does a queue `worker` (its running jobs would wait for stall detection).
const keepGoing = process.argv[2] === 'run' || process.argv[2] === 'worker';
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    if (!keepGoing) process.exit(process.exitCode ?? 0);
    stream.write = (() => true) as typeof stream.write;
  });
}

async function main(): Promise<void> {
  const [cmd, ...rest] = process.argv.slice(2);
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    console.log(usage());
    process.exitCode = cmd === undefined ? 2 : 0;
    return;
  }
  const entry = COMMANDS[cmd];
  if (!entry) {
    console.error(`narrowsweep: unknown command "${cmd}"${didYouMean(cmd, Object.keys(COMMANDS))}\n\n${usage()}`);
    process.exitCode = 2;
    return;
  }
  const mod = await entry.load();
  process.exitCode = await mod.main(rest);
}

main().catch((err: unknown) => {
  // Named errors (ConfigError, DataError) are the user's input, and file-system errors such as a
  // full disk or a read-only folder the user's environment: one line, exit 2.
  const e = err as { name?: string; message?: string };
  if (e && (e.name === 'ConfigError' || e.name === 'DataError')) {
    console.error(`narrowsweep: ${e.message}`);
    process.exitCode = 2;
  } else if (isEnvironmentError(err)) {
    console.error(`narrowsweep: ${describeEnvironmentError(err)}`);
    process.exitCode = 2;
  } else {
    console.error(`narrowsweep: internal error: ${e?.message ?? String(err)}`);
    if (process.env.NARROWSWEEP_DEBUG) console.error(err);
    process.exitCode = 1;
  }
});
