// Named error kinds, so callers (CLI, sweep) can tell a bad input from a crash.

/** A configuration or spec field is wrong. `path` names the field, e.g. `grid.rho[2]` or `batch`. */
export class ConfigError extends Error {
  readonly path: string;
  constructor(path: string, message: string) {
    super(path ? `${path}: ${message}` : message);
    this.name = 'ConfigError';
    this.path = path;
  }
}

/** Input data is unusable. The message names the file, row and column where known. */
export class DataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataError';
  }
}
