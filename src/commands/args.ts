// Flag parsing shared by the commands.

/**
 * `--flag -1` becomes `--flag=-1` for the string options in `options`, so that node's parseArgs
 * takes a negative number as the flag's value (and the command's own check names the flag and what
 * it expects) instead of stopping on "argument is ambiguous".
 */
export function attachNegativeNumbers(argv: string[], options: Record<string, { type: 'string' | 'boolean' }>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = argv[i + 1];
    const name = a.startsWith('--') && !a.includes('=') ? a.slice(2) : null;
    if (name !== null && options[name]?.type === 'string' && next !== undefined && /^-(\d|\.\d|inf|Infinity|NaN)/i.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}
