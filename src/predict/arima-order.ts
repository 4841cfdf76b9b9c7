// Order selection for the arima predictor, in the manner of pmdarima.auto_arima's defaults
// (non-seasonal, stepwise Hyndman-Khandakar search by AIC, d from repeated KPSS tests at 5%,
// max p = max q = 5, p + q <= 5). The `arima` package (an emscripten build of ctsa) neither
// exposes a fitted model's log-likelihood nor the order its own auto mode picks, and needs >= 20
// points for that mode, so the search is ours and fits each candidate through the package. The
// AIC is the conditional Gaussian approximation n·ln(σ²) + 2k, with σ² the package's one-step
// forecast error variance; pmdarima uses the exact likelihood, so close calls between two orders
// can go the other way.
import { nativeArima, setSeries, type NativeArimaModel } from './arima-native.js';

export interface ArimaOrder {
  p: number;
  d: number;
  q: number;
}

export interface FittedForecast {
  forecast: number;
  /** One-step innovation variance. */
  sigma2: number;
}

const MAX_P = 5;
const MAX_Q = 5;
const MAX_ORDER = 5;
const MAX_D = 2;
/** KPSS level-stationarity critical value at alpha = 0.05 (Kwiatkowski et al. 1992, table 1). */
const KPSS_CRITICAL_5PCT = 0.463;

/** Fewest points the package accepts for a fixed (p,d,q) fit (its own guard). */
export function minPointsFor(order: ArimaOrder): number {
  return order.d + Math.max(order.p + order.q, 10);
}

export function kpssStatistic(y: readonly number[]): number {
  const n = y.length;
  const mean = y.reduce((a, b) => a + b, 0) / n;
  const e = y.map((v) => v - mean);
  let partial = 0;
  let sumS2 = 0;
  for (const v of e) {
    partial += v;
    sumS2 += partial * partial;
  }
  // Newey-West long-run variance with pmdarima's short lag rule trunc(3·sqrt(n)/13).
  const lags = Math.trunc((3 * Math.sqrt(n)) / 13);
  let lrv = e.reduce((a, v) => a + v * v, 0) / n;
  for (let l = 1; l <= lags; l++) {
    let acc = 0;
    for (let t = l; t < n; t++) acc += e[t] * e[t - l];
    lrv += (2 * (1 - l / (lags + 1)) * acc) / n;
  }
  if (!(lrv > 0)) return 0;
  return sumS2 / (n * n * lrv);
}

export function difference(y: readonly number[], d: number): number[] {
  let out = y.slice();
  for (let k = 0; k < d; k++) out = out.slice(1).map((v, i) => v - out[i]);
  return out;
}

function isConstant(y: readonly number[]): boolean {
  return y.every((v) => v === y[0]);
}

/** Differencing order: difference while KPSS rejects level stationarity (as pmdarima.ndiffs). */
export function selectDifferencing(y: readonly number[]): number {
  let d = 0;
  let series = y.slice();
  while (d < MAX_D && series.length > 3 && !isConstant(series) && kpssStatistic(series) > KPSS_CRITICAL_5PCT) {
    series = difference(series, 1);
    d++;
  }
  return d;
}

/**
 * (0,d,0) in closed form: the package returns garbage for p = q = 0 with d > 0. With d = 0 the
 * model is the mean; with d >= 1 a random walk on the (d-1)-times differenced series with drift,
 * as pmdarima includes an intercept when d < 2.
 */
function fitWhiteNoise(y: readonly number[], d: number): FittedForecast {
  const diffs = difference(y, d);
  const n = diffs.length;
  const useMean = d < 2;
  const mean = useMean ? diffs.reduce((a, b) => a + b, 0) / n : 0;
  const sigma2 = diffs.reduce((a, v) => a + (v - mean) ** 2, 0) / Math.max(1, n);
  // Undo the differencing: next diff = mean, integrated back through the last values.
  let next = mean;
  for (let level = d; level >= 1; level--) {
    const series = difference(y, level - 1);
    next += series[series.length - 1];
  }
  return { forecast: next, sigma2 };
}

function stats(y: readonly number[]): { min: number; max: number; variance: number } {
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (const v of y) {
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
  }
  const mean = sum / y.length;
  const variance = y.reduce((a, v) => a + (v - mean) ** 2, 0) / y.length;
  return { min, max, variance };
}

/** Throws when a forecast is unusable: non-finite, or far outside the window's range. */
function checkForecast(y: readonly number[], order: ArimaOrder, forecast: number, variance: number): void {
  const name = `ARIMA(${order.p},${order.d},${order.q})`;
  if (!Number.isFinite(forecast) || !(variance >= 0)) throw new Error(`non-finite ${name} fit`);
  // A diverged optimisation shows as a one-step variance far beyond the data's own spread, or a
  // forecast far outside the data's range; either way the fit is not usable.
  const { min, max, variance: spread } = stats(y);
  const range = Math.max(max - min, 1e-9);
  if (variance > 100 * Math.max(spread, 1e-12) || forecast < min - 2 * range || forecast > max + 2 * range) {
    throw new Error(`diverged ${name} fit`);
  }
}

/**
 * A fitted order. `forecast(window)` applies the fitted coefficients to a new window of the
 * fitted length without re-estimating them: pmdarima's `update` in spirit, at ~0.1 ms instead of
 * the 3-10 ms of a fit. The caller re-fits every so often. `dispose()` frees the wasm memory.
 */
export class ArimaFit {
  readonly length: number;
  private native: NativeArimaModel | undefined;

  private constructor(readonly order: ArimaOrder, length: number, native: NativeArimaModel | undefined, readonly sigma2: number, readonly firstForecast: number) {
    this.length = length;
    this.native = native;
  }

  /** Fit on `y`; throws when the package cannot fit or the fit diverged. */
  static fit(y: readonly number[], order: ArimaOrder): ArimaFit {
    if (order.p === 0 && order.q === 0) {
      const closed = fitWhiteNoise(y, order.d);
      return new ArimaFit(order, y.length, undefined, closed.sigma2, closed.forecast);
    }
    // Conditional sum of squares with BFGS. The package's default (exact ML with L-BFGS) diverges
    // on MA(2) terms of ordinary load series (forecast variance 1e5 on a series of variance 1e2,
    // forecasts off by 2x). CSS gives the same one-step forecasts as CSS-ML to within noise on
    // our test series and costs about half (2-4 ms instead of 5-11 ms for (2,0,2) on 128 points).
    const ARIMA = nativeArima();
    const model = new ARIMA({ p: order.p, d: order.d, q: order.q, method: 2, optimizer: 5, verbose: false });
    try {
      model.train(y.slice());
      const [pred, errors] = model.predict(1);
      // The second array is the forecast error variance (it grows ~h·σ² for a random walk), so
      // its first entry is the one-step innovation variance.
      const forecast = Number(pred[0]);
      const variance = Number(errors[0]);
      checkForecast(y, order, forecast, variance);
      return new ArimaFit(order, y.length, model, variance, forecast);
    } catch (err) {
      model.destroy();
      throw err;
    }
  }

  /** One-step forecast after `window` (exactly `length` points) with the fitted coefficients. */
  forecast(window: readonly number[]): number {
    if (window.length !== this.length) throw new Error(`ARIMA window of ${window.length} points, fitted on ${this.length}`);
    if (!this.native) return fitWhiteNoise(window, this.order.d).forecast;
    setSeries(this.native, window);
    const [pred, errors] = this.native.predict(1);
    const forecast = Number(pred[0]);
    checkForecast(window, this.order, forecast, Number(errors[0]));
    return forecast;
  }

  dispose(): void {
    this.native?.destroy();
    this.native = undefined;
  }
}

/** Fit a fixed order and forecast one step; throws when the package cannot fit. */
export function fitAndForecast(y: readonly number[], order: ArimaOrder): FittedForecast {
  const fit = ArimaFit.fit(y, order);
  fit.dispose();
  return { forecast: fit.firstForecast, sigma2: fit.sigma2 };
}

function aic(y: readonly number[], order: ArimaOrder): number {
  const fit = fitAndForecast(y, order);
  const n = y.length - order.d;
  const k = order.p + order.q + 1 + (order.d < 2 ? 1 : 0);
  // A perfect fit (sigma2 = 0) is the best possible; keep it finite so comparisons still work.
  return n * Math.log(Math.max(fit.sigma2, 1e-300)) + 2 * k;
}

/**
 * Stepwise search from the usual starting points, or from `from` (a re-selection: the current
 * order, then its neighbourhood); returns the best order and its AIC. Orders the package cannot
 * fit are skipped.
 */
export function selectOrder(y: readonly number[], from?: { p: number; q: number }): { order: ArimaOrder; aic: number } {
  const d = selectDifferencing(y);
  const tried = new Map<string, number>();
  const score = (p: number, q: number): number => {
    const key = `${p},${q}`;
    const known = tried.get(key);
    if (known !== undefined) return known;
    let value = Number.POSITIVE_INFINITY;
    const order = { p, d, q };
    if (p >= 0 && q >= 0 && p <= MAX_P && q <= MAX_Q && p + q <= MAX_ORDER && y.length >= minPointsFor(order)) {
      try {
        value = aic(y, order);
      } catch {
        value = Number.POSITIVE_INFINITY;
      }
    }
    tried.set(key, value);
    return value;
  };
  let best = { p: 0, q: 0 };
  let bestAic = Number.POSITIVE_INFINITY;
  const starts: ReadonlyArray<readonly [number, number]> = from ? [[from.p, from.q]] : [[2, 2], [0, 0], [1, 0], [0, 1]];
  for (const [p, q] of starts) {
    const a = score(p, q);
    if (a < bestAic) {
      bestAic = a;
      best = { p, q };
    }
  }
  // Hyndman-Khandakar neighbourhood: move p and/or q by one while the AIC improves.
  for (let improved = true; improved; ) {
    improved = false;
    const { p, q } = best;
    const neighbours = [[p - 1, q], [p + 1, q], [p, q - 1], [p, q + 1], [p - 1, q - 1], [p + 1, q + 1], [p - 1, q + 1], [p + 1, q - 1]];
    for (const [np, nq] of neighbours) {
      const a = score(np, nq);
      if (a < bestAic) {
        bestAic = a;
        best = { p: np, q: nq };
        improved = true;
      }
    }
  }
  return { order: { p: best.p, d, q: best.q }, aic: bestAic };
}
