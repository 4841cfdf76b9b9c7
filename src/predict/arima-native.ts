// The `arima` package's wasm build, instantiated with its console output silenced. The package's
// default export prints the C library's diagnostics ("non-stationary AR part", optimizer notes)
// straight to stdout, which would corrupt JSON output of the CLI; emscripten takes `print` /
// `printErr` at instantiation, so the module is built here from the package's own parts (by
// absolute path, since its exports map only exposes the prebuilt default).
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export interface NativeArimaModel {
  train(ts: number[]): NativeArimaModel;
  predict(length: number): [number[], number[]];
  destroy(): void;
}

export interface NativeArimaOptions {
  p: number;
  d: number;
  q: number;
  /** ctsa estimation: 0 exact ML, 1 CSS then ML, 2 CSS. */
  method?: number;
  /** ctsa optimizer: 0 Nelder-Mead, ..., 5 BFGS, 6 L-BFGS (the package default). */
  optimizer?: number;
  verbose?: boolean;
}

export type NativeArima = new (options: NativeArimaOptions) => NativeArimaModel;

const require = createRequire(import.meta.url);
const packageDir = dirname(require.resolve('arima'));
const instantiate = require(join(packageDir, 'wasm', 'native-sync.js')) as (opts: object) => unknown;
const wasmBinary = require(join(packageDir, 'wrapper', 'native.bin.js')) as unknown;
const wrap = require(join(packageDir, 'load.js')) as (module: unknown) => NativeArima;

const silent = () => {};
export const ARIMA: NativeArima = wrap(instantiate({ wasmBinary, print: silent, printErr: silent }));
