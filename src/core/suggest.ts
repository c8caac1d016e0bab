// "Did you mean ...?" for unknown fields, flags and names: the nearest valid option by edit distance.

/** Edit distance with adjacent transpositions counted as one edit (optimal string alignment), ignoring case. */
export function editDistance(a: string, b: string): number {
  a = a.toLowerCase(); b = b.toLowerCase();
  const rows = a.length + 1, cols = b.length + 1;
  const D = new Array<number>(rows * cols).fill(0);
  for (let i = 0; i < rows; i++) D[i * cols] = i;
  for (let j = 0; j < cols; j++) D[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(D[(i - 1) * cols + j]! + 1, D[i * cols + j - 1]! + 1, D[(i - 1) * cols + j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, D[(i - 2) * cols + j - 2]! + 1);
      D[i * cols + j] = best;
    }
  }
  return D[rows * cols - 1]!;
}

/**
 * The option nearest to `word`, or null when none is close: at most one edit per three characters
 * (at least one), so `trails` finds `trials` and `runtimeout` finds `runTimeout`, but `bogus` finds
 * nothing; failing that, an option the word abbreviates.
 */
export function nearest(word: string, options: readonly string[]): string | null {
  if (options.includes(word)) return null;
  let best: string | null = null, bestDistance = Infinity;
  for (const option of options) {
    const dist = editDistance(word, option);
    const allowed = Math.max(1, Math.floor(Math.max(word.length, option.length) / 3));
    if (dist <= allowed && dist < bestDistance) { best = option; bestDistance = dist; }
  }
  if (best !== null || word.length < 3) return best;
  // An abbreviation (`secs` for `seconds`): the one option with the same first letter that holds
  // the word's letters in order.
  const abbreviates = options.filter((o) => o.length > word.length && o[0]!.toLowerCase() === word[0]!.toLowerCase() && isSubsequence(word.toLowerCase(), o.toLowerCase()));
  return abbreviates.length === 1 ? abbreviates[0]! : null;
}

function isSubsequence(word: string, of: string): boolean {
  let i = 0;
  for (let j = 0; j < of.length && i < word.length; j++) if (of[j] === word[i]) i++;
  return i === word.length;
}

/** `; did you mean <option>?` for the nearest option, or '' when none is close. */
export function didYouMean(word: string, options: readonly string[]): string {
  const hit = nearest(word, options);
  return hit === null ? '' : `; did you mean ${hit}?`;
}

/**
 * A node:util parseArgs error with a suggestion for an unknown flag: `Unknown option '--lr-scal';
 * did you mean --lr-scale?` (in place of parseArgs' hint on positionals that start with '-').
 * `flags` are the option names without dashes.
 */
export function explainFlagError(message: string, flags: readonly string[]): string {
  const m = /^Unknown option '(-{1,2})([^'=]*)'/.exec(message);
  if (!m) return message;
  const hit = nearest(m[2]!, flags.filter((f) => f.length > 1));
  return hit === null ? message : `Unknown option '${m[1]}${m[2]}'; did you mean --${hit}?`;
}
