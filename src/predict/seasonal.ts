// prophet stand-in: there is no Prophet for Node. Like the original, this keeps the last
// `prophet_window_size` points, needs >= 5 of them and refits on every forecast; the model is
// additive Holt-Winters when the window shows a season, else a damped Holt linear trend.
//
// Why this model: Prophet on the original's synthetic timestamps (one point per interval) is a
// piecewise-linear trend plus whatever seasonality the window can show. Holt-Winters is the
// classical model with the same parts, refits in microseconds on a bounded window, and on a clean
// periodic signal it is exact one season after the season is known. The season is detected from
// the autocorrelation of the window (see detectSeason: the window must hold it twice, so the
// default 50-point window finds seasons up to 25 intervals, not a diurnal cycle); smoothing
// weights come from a small grid, by one-step squared error over the window. Forecasts are
// clamped to >= 0 (Prophet's Gen C behaviour), so never negative.
import type { LoadPredictor } from './types.js';
import { IdleSkipIntake } from './intake.js';

const MIN_POINTS = 5;
const MIN_SEASON = 2;
const MIN_SEASON_ACF = 0.5;
const DAMPING = 0.9;
const ALPHAS = [0.1, 0.3, 0.5, 0.8, 1];
const BETAS = [0, 0.05, 0.2];
const GAMMAS = [0.05, 0.2, 0.5];

export interface SeasonalSettings {
  windowSize: number;
  log1p: boolean;
}

export class SeasonalPredictor implements LoadPredictor {
  readonly name = 'prophet';
  private readonly intake = new IdleSkipIntake();
  private readonly windowSize: number;
  private readonly log1p: boolean;
  private buffer: number[] = [];
  private last = 0;
  private dirty = true;
  private cached = 0;
  private season = 0;

  constructor(settings: SeasonalSettings) {
    this.windowSize = Math.max(1, settings.windowSize);
    this.log1p = settings.log1p;
  }

  observe(value: number): void {
    const v = this.intake.accept(value);
    if (v === undefined) return;
    this.last = Math.max(0, v);
    this.buffer.push(this.log1p ? Math.log1p(this.last) : this.last);
    if (this.buffer.length > this.windowSize) this.buffer.splice(0, this.buffer.length - this.windowSize);
    this.dirty = true;
  }

  predict(): number {
    if (this.dirty) {
      this.cached = this.forecast();
      this.dirty = false;
    }
    return this.cached;
  }

  resetIdleSkip(): void {
    this.intake.reset();
  }

  /** The season length used by the last forecast (0 = none), for logs and tests. */
  detectedSeason(): number {
    return this.season;
  }

  private forecast(): number {
    const y = this.buffer;
    if (y.length < MIN_POINTS) return this.last;
    this.season = detectSeason(y);
    const raw = this.season > 0 ? bestHoltWinters(y, this.season) : bestDampedHolt(y);
    const value = this.log1p ? Math.expm1(raw) : raw;
    return Number.isFinite(value) ? Math.max(0, value) : this.last;
  }
}

/**
 * Season length: among the lags the window holds at least twice whose autocorrelation is a local
 * peak >= MIN_SEASON_ACF, the shortest one within 10% of the strongest (multiples of the true
 * season correlate as well as the season itself). 0 when there is none.
 */
export function detectSeason(y: readonly number[]): number {
  const n = y.length;
  const mean = y.reduce((a, b) => a + b, 0) / n;
  const dev = y.map((v) => v - mean);
  const variance = dev.reduce((a, v) => a + v * v, 0) / n;
  if (!(variance > 0)) return 0;
  const peaks: { lag: number; acf: number }[] = [];
  for (let lag = MIN_SEASON; 2 * lag <= n; lag++) {
    const acf = acfAt(dev, lag, variance);
    // A local peak only: a trend makes every short lag correlate, which is not a season.
    if (acf >= MIN_SEASON_ACF && isLocalPeak(dev, lag, variance, acf)) peaks.push({ lag, acf });
  }
  if (peaks.length === 0) return 0;
  const strongest = Math.max(...peaks.map((p) => p.acf));
  return peaks.find((p) => p.acf >= 0.9 * strongest)!.lag;
}

/** Autocorrelation at `lag`, normalised by the overlap so long lags are not penalised. */
function acfAt(dev: readonly number[], lag: number, variance: number): number {
  let acc = 0;
  for (let t = lag; t < dev.length; t++) acc += dev[t] * dev[t - lag];
  return acc / (dev.length - lag) / variance;
}

function isLocalPeak(dev: readonly number[], lag: number, variance: number, here: number): boolean {
  const before = acfAt(dev, lag - 1, variance);
  const after = lag + 1 < dev.length ? acfAt(dev, lag + 1, variance) : Number.NEGATIVE_INFINITY;
  return here >= before && here >= after;
}

/** Additive Holt-Winters, one-step forecast after the window, best weights by one-step SSE. */
function bestHoltWinters(y: readonly number[], m: number): number {
  let bestSse = Number.POSITIVE_INFINITY;
  let bestForecast = y[y.length - 1];
  for (const alpha of ALPHAS) {
    for (const beta of BETAS) {
      for (const gamma of GAMMAS) {
        const { sse, forecast } = runHoltWinters(y, m, alpha, beta, gamma);
        if (sse < bestSse) {
          bestSse = sse;
          bestForecast = forecast;
        }
      }
    }
  }
  return bestForecast;
}

function runHoltWinters(y: readonly number[], m: number, alpha: number, beta: number, gamma: number): { sse: number; forecast: number } {
  const mean = (from: number) => y.slice(from, from + m).reduce((a, b) => a + b, 0) / m;
  let level = mean(0);
  let trend = y.length >= 2 * m ? (mean(m) - level) / m : 0;
  const seasonal = y.slice(0, m).map((v) => v - level);
  // Level sits at the middle of the first season; move it to its end before filtering.
  level += trend * ((m - 1) / 2);
  let sse = 0;
  for (let t = m; t < y.length; t++) {
    const s = seasonal[t % m];
    const predicted = level + trend + s;
    sse += (y[t] - predicted) ** 2;
    const prevLevel = level;
    level = alpha * (y[t] - s) + (1 - alpha) * (level + trend);
    trend = beta * (level - prevLevel) + (1 - beta) * trend;
    seasonal[t % m] = gamma * (y[t] - level) + (1 - gamma) * s;
  }
  return { sse, forecast: level + trend + seasonal[y.length % m] };
}

/** Damped Holt linear trend (no season), best weights by one-step SSE. */
function bestDampedHolt(y: readonly number[]): number {
  let bestSse = Number.POSITIVE_INFINITY;
  let bestForecast = y[y.length - 1];
  for (const alpha of ALPHAS) {
    for (const beta of BETAS) {
      let level = y[0];
      let trend = y[1] - y[0];
      let sse = 0;
      for (let t = 1; t < y.length; t++) {
        const predicted = level + DAMPING * trend;
        sse += (y[t] - predicted) ** 2;
        const prevLevel = level;
        level = alpha * y[t] + (1 - alpha) * (level + DAMPING * trend);
        trend = beta * (level - prevLevel) + (1 - beta) * DAMPING * trend;
      }
      if (sse < bestSse) {
        bestSse = sse;
        bestForecast = level + DAMPING * trend;
      }
    }
  }
  return bestForecast;
}
