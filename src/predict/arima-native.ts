// The `arima` package's wasm build, instantiated with its console output silenced. The package's
// default export prints the C library's diagnostics ("non-stationary AR part", optimizer notes)
// straight to stdout, which would corrupt JSON output of the CLI; emscripten takes `print` /
// `printErr` at instantiation, so the module is built here from the package's own parts (by
// absolute path, since its exports map only exposes the prebuilt default).
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export interface NativeArimaModel {
  /**
   * The series `predict` filters, as the bytes of a Float64Array. `train` sets it; replacing it by
   * another series of the same length makes `predict` apply the fitted coefficients to that series
   * (ctsa's predict takes the series as an argument), which is how a model is updated with new
   * points without re-estimating it.
   */
  ts: Uint8Array;
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
const silent = () => {};
let arima: NativeArima | undefined;

/**
 * The wasm ARIMA constructor, instantiated on first use: a daemon running the constant or Kalman
 * predictor never pays for the module (about 12 MB of RSS).
 */
export function nativeArima(): NativeArima {
  if (!arima) {
    const packageDir = dirname(require.resolve('arima'));
    const instantiate = require(join(packageDir, 'wasm', 'native-sync.js')) as (opts: object) => unknown;
    const wasmBinary = require(join(packageDir, 'wrapper', 'native.bin.js')) as unknown;
    const wrap = require(join(packageDir, 'load.js')) as (module: unknown) => NativeArima;
    arima = wrap(instantiate({ wasmBinary, print: silent, printErr: silent }));
  }
  return arima;
}

/** Point `model` at a new series of the length it was fitted on (see NativeArimaModel.ts). */
export function setSeries(model: NativeArimaModel, series: readonly number[]): void {
  model.ts = new Uint8Array(Float64Array.from(series).buffer);
}
