// Shards: one sweep spread over several machines. Shard K of N (1 <= K <= N) runs the grid entries
// whose grid position is K - 1 modulo N, so the shards are disjoint, together they are the whole
// grid, and each one is itself trial-major (an "anytime" share of every cell). Each machine runs
// its shard into its own results folder; `narrowsweep merge` joins the folders into one.
import { ConfigError } from '../core/errors.js';

export interface Shard {
  /** 0-based: shard K of N has index K - 1. */
  readonly index: number;
  readonly count: number;
}

/** Parses `K/N` (1-based K, as in `--shard 2/4`); the error names `flag`. */
export function parseShard(text: string, flag = '--shard'): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  const k = m ? Number(m[1]) : NaN, n = m ? Number(m[2]) : NaN;
  if (!m || !Number.isSafeInteger(k) || !Number.isSafeInteger(n) || n < 1 || k < 1 || k > n) {
    throw new ConfigError(flag, `expected K/N with 1 <= K <= N (e.g. 2/4: the second of four shards), got "${text}"`);
  }
  return { index: k - 1, count: n };
}

/** Whether grid position `index` belongs to `shard` (every position does without a shard). */
export function inShard(index: number, shard: Shard | null | undefined): boolean {
  return shard === null || shard === undefined || index % shard.count === shard.index;
}

export function shardText(shard: Shard): string {
  return `${shard.index + 1}/${shard.count}`;
}
