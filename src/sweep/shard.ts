// Shards: one sweep spread over several machines. The grid's trial-major order is permuted within
// each trial by rotating the cells one place per trial (position t C + ((c + t) mod C) for cell c
// of C at trial t), and shard K of N (1 <= K <= N) takes the permuted positions that are K - 1
// modulo N. So the shards are disjoint, together they are the whole grid, their sizes differ by at
// most one, and, because of the rotation, a cell's trials go to different shards: with at least N
// trials every shard sees every cell (a plain index mod N would give each shard a fixed subset of
// the cells whenever N and C share a factor, e.g. one method per shard, and very unequal work).
// Each machine runs its shard into its own results folder; `narrowsweep merge` joins the folders.
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

/**
 * Whether the grid entry at trial-major position `index` (trial = floor(index / cells)) belongs to
 * `shard`; every entry does without a shard. `cells` is the number of cells of the grid.
 */
export function inShard(index: number, cells: number, shard: Shard | null | undefined): boolean {
  if (shard === null || shard === undefined) return true;
  const t = Math.floor(index / cells), c = index - t * cells;
  return (t * cells + ((c + t) % cells)) % shard.count === shard.index;
}

export function shardText(shard: Shard): string {
  return `${shard.index + 1}/${shard.count}`;
}
