// Activations and their exact derivatives (METHOD.md section 1).
// `gelu` is the tanh form 0.5 z (1 + tanh(c (z + 0.044715 z^3))), c = sqrt(2/pi), with its exact
// derivative; every engine implements this same formula.
import type { Activation } from './types.js';

export const GELU_C = Math.sqrt(2 / Math.PI);
export const GELU_A = 0.044715;

/** s(z) */
export function act(a: Activation, z: number): number {
  switch (a) {
    case 'tanh': return Math.tanh(z);
    case 'sigmoid': return 1 / (1 + Math.exp(-z));
    case 'softplus': return Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z)));
    case 'swish': return z / (1 + Math.exp(-z));
    case 'gelu': return 0.5 * z * (1 + Math.tanh(GELU_C * (z + GELU_A * z * z * z)));
    case 'sin': return Math.sin(z);
    case 'relu': return z > 0 ? z : 0;
  }
}

/** s'(z) */
export function dact(a: Activation, z: number): number {
  switch (a) {
    case 'tanh': { const t = Math.tanh(z); return 1 - t * t; }
    case 'sigmoid': { const s = 1 / (1 + Math.exp(-z)); return s * (1 - s); }
    case 'softplus': return 1 / (1 + Math.exp(-z));
    case 'swish': { const s = 1 / (1 + Math.exp(-z)); return s + z * s * (1 - s); }
    case 'gelu': {
      const u = GELU_C * (z + GELU_A * z * z * z);
      const t = Math.tanh(u);
      return 0.5 * (1 + t) + 0.5 * z * (1 - t * t) * GELU_C * (1 + 3 * GELU_A * z * z);
    }
    case 'sin': return Math.cos(z);
    case 'relu': return z > 0 ? 1 : 0;
  }
}

/** Whether the activation is smooth, i.e. inside the theory of METHOD.md. */
export function isSmooth(a: Activation): boolean {
  return a !== 'relu';
}
