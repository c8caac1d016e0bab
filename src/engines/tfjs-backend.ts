// TensorFlow.js runtime for the tfjs engine: picks the fastest backend that loads here, once per
// process (tfjs keeps its backend in global state, so every problem shares the same choice).
// Order: @tensorflow/tfjs-node (libtensorflow, optional dependency), then @tensorflow/tfjs with the
// wasm backend, then the plain 'cpu' backend of @tensorflow/tfjs. NARROWSWEEP_TFJS_BACKEND=node|wasm|cpu
// forces one (and it is an error if that one does not load).
import { createRequire } from 'node:module';
import { ConfigError } from '../core/errors.js';
import path from 'node:path';

export type Tf = typeof import('@tensorflow/tfjs');
export type TfjsBackend = 'tfjs-node' | 'wasm' | 'cpu';

export interface TfjsRuntime {
  /** The tfjs namespace whose engine holds the chosen backend (tfjs-node brings its own). */
  readonly tf: Tf;
  readonly backend: TfjsBackend;
  /** What actually runs, and why the faster backends did not, e.g. "tfjs-backend-wasm 4.22.0 (simd, 1 thread; tfjs-node: not installed)". */
  readonly detail: string;
}

let runtime: Promise<TfjsRuntime> | null = null;

/** The process-wide tfjs runtime, initialised on first call. */
export function initTfjs(): Promise<TfjsRuntime> {
  runtime ??= init();
  return runtime;
}

function reason(e: unknown): string {
  if (e !== null && typeof e === 'object') {
    const code = (e as { code?: unknown }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') return 'not installed';
    const message = (e as { message?: unknown }).message;
    if (typeof message === 'string') return message.split('\n')[0] ?? message;
  }
  return String(e);
}

async function init(): Promise<TfjsRuntime> {
  const skipped: string[] = [];
  const forced = process.env.NARROWSWEEP_TFJS_BACKEND ?? '';
  if (forced !== '' && !['node', 'wasm', 'cpu'].includes(forced)) {
    throw new ConfigError('NARROWSWEEP_TFJS_BACKEND', `expected node, wasm or cpu, got "${forced}"`);
  }
  const want = (b: string): boolean => forced === '' || forced === b;
  const fail = (b: string): never => { throw new Error(`tfjs backend ${b} was asked for (NARROWSWEEP_TFJS_BACKEND) but did not load: ${skipped.join('; ')}`); };

  // The specifier is a variable so that TypeScript does not require the optional package's types.
  const nodePackage: string = '@tensorflow/tfjs-node';
  if (want('node')) try {
    const mod = (await import(nodePackage)) as { default?: unknown };
    const tf = (mod.default ?? mod) as Tf;
    if (!(await tf.setBackend('tensorflow'))) throw new Error("backend 'tensorflow' did not initialise");
    await tf.ready();
    return { tf, backend: 'tfjs-node', detail: `tfjs-node ${tf.version.tfjs ?? ''}`.trim() };
  } catch (e) {
    skipped.push(`tfjs-node: ${reason(e)}`);
    if (forced === 'node') fail('node');
  } else skipped.push('tfjs-node: not asked for');

  const tf: Tf = await import('@tensorflow/tfjs');
  if (want('wasm')) try {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    // In Node the emscripten loader reads the .wasm binaries from disk: give it their folder.
    const require = createRequire(import.meta.url);
    const dir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
    wasm.setWasmPaths(dir + path.sep);
    if (!(await tf.setBackend('wasm'))) throw new Error("backend 'wasm' did not initialise");
    await tf.ready();
    const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT') ? 'simd' : 'no simd';
    const threads = wasm.getThreadsCount();
    const note = `${simd}, ${threads} thread${threads === 1 ? '' : 's'}`;
    return {
      tf, backend: 'wasm',
      detail: `tfjs-backend-wasm ${wasm.version_wasm} (${note}; ${skipped.join('; ')})`,
    };
  } catch (e) {
    skipped.push(`tfjs-backend-wasm: ${reason(e)}`);
    if (forced === 'wasm') fail('wasm');
  } else skipped.push('tfjs-backend-wasm: not asked for');

  if (!(await tf.setBackend('cpu'))) throw new Error(`no tfjs backend initialised (${skipped.join('; ')})`);
  await tf.ready();
  return { tf, backend: 'cpu', detail: `tfjs cpu ${tf.version.tfjs} (${skipped.join('; ')})` };
}
