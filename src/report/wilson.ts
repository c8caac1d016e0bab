// The Wilson score interval for a binomial proportion (METHOD.md section 6: each cell of the phase
// table carries k/R and a 95% Wilson interval). Unlike the normal approximation it stays inside
// [0, 1] and is informative at k = 0 and k = R, which is where most phase-table cells sit.

/** Two-sided 95% normal quantile, as used by statsmodels/scipy (norm.ppf(0.975) = 1.959963985). */
export const Z95 = 1.959964;

export interface Interval { low: number; high: number }

/**
 * Wilson interval for k successes out of R trials:
 *   center = (p + z^2 / 2R) / (1 + z^2 / R),
 *   half   = z / (1 + z^2 / R) * sqrt(p (1 - p) / R + z^2 / 4R^2),   p = k / R.
 * The ends are exactly 0 at k = 0 and 1 at k = R (no rounding residue). R = 0 gives [0, 1].
 */
export function wilson(k: number, R: number, z: number = Z95): Interval {
  if (!Number.isInteger(k) || !Number.isInteger(R) || k < 0 || R < 0 || k > R) {
    throw new RangeError(`wilson: expected integers 0 <= k <= R, got k = ${k}, R = ${R}`);
  }
  if (R === 0) return { low: 0, high: 1 };
  const p = k / R;
  const z2 = z * z;
  const denom = 1 + z2 / R;
  const center = (p + z2 / (2 * R)) / denom;
  const half = (z / denom) * Math.sqrt((p * (1 - p)) / R + z2 / (4 * R * R));
  return {
    low: k === 0 ? 0 : Math.max(0, center - half),
    high: k === R ? 1 : Math.min(1, center + half),
  };
}
