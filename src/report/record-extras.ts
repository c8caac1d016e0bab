// What the charts and the report's header need from each record beyond the scan's numbers
// (src/report/journal-read.ts): the nice-region distances, the test accuracy, and the facts of the
// header (times, host, engine, versions). Collected by the scan's record hook in file order, so
// index i is the scan's record i; only the live records are read back.
import type { JournalRecord } from '../sweep/types.js';
import type { Scan } from './journal-read.js';
import { finite, intern, num } from './shared.js';

export class RecordExtras {
  readonly distW0: number[] = [];
  readonly radiusUsed: number[] = [];
  readonly testAccuracy: number[] = [];
  readonly startedAt: number[] = [];
  readonly finishedAt: number[] = [];
  readonly wallSeconds: number[] = [];
  readonly hostIdx: number[] = [];
  readonly engineIdx: number[] = [];
  readonly versionIdx: number[] = [];
  readonly hosts: string[] = [];
  readonly engines: string[] = [];
  readonly versions: string[] = [];
  private readonly hostMap = new Map<string, number>();
  private readonly engineMap = new Map<string, number>();
  private readonly versionMap = new Map<string, number>();

  add(rec: JournalRecord): void {
    const res = (rec.result ?? {}) as unknown as Record<string, unknown>;
    this.distW0.push(num(res.distW0));
    this.radiusUsed.push(num(res.radiusUsed));
    this.testAccuracy.push(num(res.testAccuracy));
    this.startedAt.push(typeof rec.startedAt === 'string' ? Date.parse(rec.startedAt) : NaN);
    this.finishedAt.push(typeof rec.finishedAt === 'string' ? Date.parse(rec.finishedAt) : NaN);
    this.wallSeconds.push(num(rec.wallSeconds));
    const host = typeof rec.host === 'string' ? rec.host : 'unknown';
    this.hostIdx.push(intern(this.hostMap, this.hosts, host, () => host));
    const engine = [res.engineDetail ?? res.engine ?? 'unknown', res.dtype].filter((x) => x !== undefined && x !== null).map(String).join(', ');
    this.engineIdx.push(intern(this.engineMap, this.engines, engine, () => engine));
    const v = rec.versions;
    const version = v ? `narrowsweep ${String(v.narrowsweep)}, core semantics ${String(v.core)}, node ${String(v.node)}` : 'unknown';
    this.versionIdx.push(intern(this.versionMap, this.versions, version, () => version));
  }
}

/** Counts of `names[idx[i]]` over the live records, most frequent first (then by name). */
function countBy(sc: Scan, idx: number[], names: string[]): Array<{ name: string; runs: number }> {
  const counts = new Array<number>(names.length).fill(0);
  for (const i of sc.live) counts[idx[i]!]!++;
  return names.map((name, k) => ({ name, runs: counts[k]! })).filter((x) => x.runs > 0)
    .sort((a, b) => b.runs - a.runs || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The facts of the report's header, over the live records. */
export interface RunFacts {
  runs: number;
  successes: number;
  byStatus: Record<string, number>;
  hosts: Array<{ name: string; runs: number }>;
  engines: Array<{ name: string; runs: number }>;
  versions: Array<{ name: string; runs: number }>;
  /** Earliest start and latest finish (ISO text), null without times. */
  firstStart: string | null;
  lastFinish: string | null;
  /** Sum of the runs' wall seconds (what the runs took, not the sweep's elapsed time). */
  runSeconds: number;
}

export function runFacts(sc: Scan, x: RecordExtras): RunFacts {
  const byStatus: Record<string, number> = {};
  let successes = 0, runSeconds = 0, first = Infinity, last = -Infinity;
  for (const i of sc.live) {
    byStatus[sc.status[i]!] = (byStatus[sc.status[i]!] ?? 0) + 1;
    if (sc.success[i]) successes++;
    if (finite(x.wallSeconds[i])) runSeconds += x.wallSeconds[i]!;
    if (finite(x.startedAt[i]) && x.startedAt[i]! < first) first = x.startedAt[i]!;
    if (finite(x.finishedAt[i]) && x.finishedAt[i]! > last) last = x.finishedAt[i]!;
  }
  return {
    runs: sc.live.length, successes, byStatus,
    hosts: countBy(sc, x.hostIdx, x.hosts), engines: countBy(sc, x.engineIdx, x.engines), versions: countBy(sc, x.versionIdx, x.versions),
    firstStart: Number.isFinite(first) ? new Date(first).toISOString() : null,
    lastFinish: Number.isFinite(last) ? new Date(last).toISOString() : null,
    runSeconds,
  };
}
