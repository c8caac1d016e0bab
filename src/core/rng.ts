// Seeded randomness. sfc32 (a small fast chaotic generator, 128-bit state, passes PractRand)
// gives 32-bit words; doubles take 53 bits from two words; normals come from the Marsaglia polar
// method. Only exactly rounded arithmetic and Math.log/Math.sqrt are used, so a stream is
// bit-identical on every thread and machine running the same Node major version.

/** 128-bit string hash (cyrb128): seeds a stream from a canonical description. */
export function hash128(text: string): [number, number, number, number] {
  let h1 = 1779033703, h2 = 3144134277, h3 = 1013904242, h4 = 2773480762;
  for (let i = 0; i < text.length; i++) {
    const k = text.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4; h2 ^= h1; h3 ^= h1; h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}

export class Rng {
  private a: number; private b: number; private c: number; private d: number;
  private spare: number | null = null;

  /** A stream named by `key`, e.g. `data|seed=3|gaussian|n=200|d=10`. */
  constructor(key: string) {
    [this.a, this.b, this.c, this.d] = hash128(key);
    for (let i = 0; i < 15; i++) this.u32(); // mix the seed in
  }

  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.u32() >>> 5, lo = this.u32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Integer uniform in [0, k). */
  int(k: number): number {
    return Math.floor(this.uniform() * k);
  }

  /** Standard normal (Marsaglia polar). */
  normal(): number {
    if (this.spare !== null) { const s = this.spare; this.spare = null; return s; }
    for (;;) {
      const u = 2 * this.uniform() - 1, v = 2 * this.uniform() - 1;
      const s = u * u + v * v;
      if (s > 0 && s < 1) {
        const f = Math.sqrt(-2 * Math.log(s) / s);
        this.spare = v * f;
        return u * f;
      }
    }
  }

  /** Fills `out` with N(0, sd^2) draws. */
  fillNormal(out: Float64Array, sd = 1): Float64Array {
    for (let i = 0; i < out.length; i++) out[i] = sd * this.normal();
    return out;
  }

  /** In-place Fisher-Yates shuffle of the first `len` entries. */
  shuffle(a: Int32Array | number[], len = a.length): void {
    for (let i = len - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i]!; a[i] = a[j]!; a[j] = t;
    }
  }
}
