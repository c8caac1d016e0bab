// How a dataset's rows and labels were made from the raw data, so that a saved model can be applied
// to the user's own raw inputs (the `input` and `labels` fields of `train --save-model`).
import type { Dataset } from '../core/types.js';

/**
 * The input transform: a raw sample `raw` (one line of the csv file, or the 784 pixel values in
 * [0, 1] of an mnist image) becomes the network input x = (raw[featureColumns] - mean) / scale,
 * per feature. Without standardisation mean is 0 and scale 1. `scale` is the divisor actually used:
 * the training rows' population standard deviation, or 1 for a constant column (only centred).
 */
export interface InputTransform {
  source: 'gaussian' | 'sphere' | 'mnist' | 'csv';
  /** csv: the file as given. */
  path?: string;
  /** csv: whether the file's first line is a header (to skip). */
  header?: boolean;
  /** 0-based columns of the raw sample that are the features, in order (mnist: the pixels 0..783). */
  featureColumns: number[];
  /** csv: the 0-based label column. */
  labelColumn?: number;
  standardized: boolean;
  mean: number[];
  scale: number[];
}

/**
 * What the labels y mean. `values`: y is the label as given (csv: the label column; synthetic: the
 * drawn labels). `classes`: y = +1 for class `+1`, -1 for class `-1`, so a prediction F maps back
 * to a class by its sign (F > 0: `+1`).
 */
export type LabelMap =
  | { kind: 'values'; column?: number }
  | { kind: 'classes'; '+1': number | string; '-1': number | string }
  | { kind: 'random'; note: string };

export type LoadedDataset = Dataset & { input: InputTransform; labels: LabelMap };

/** The scale actually divided by for each column, from the sd that `standardize` returns (0 for a constant column). */
export function divisors(sd: Float64Array): number[] {
  return Array.from(sd, (s) => (s > 0 ? s : 1));
}

/** The identity transform over d features. */
export function identityInput(source: InputTransform['source'], d: number): InputTransform {
  return {
    source, featureColumns: Array.from({ length: d }, (_, k) => k), standardized: false,
    mean: new Array<number>(d).fill(0), scale: new Array<number>(d).fill(1),
  };
}
