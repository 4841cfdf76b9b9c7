// One-step-ahead scoring of a predictor on an interval series: before interval k is observed the
// predictor forecasts it, then sees it (as the planner does on every throughput tick).
import type { PredictorKind } from '../config/schema.js';
import type { TraceBucket } from '../trace/read.js';
import { quantile } from '../util/stats.js';
import { createPredictor, type PredictorOptions, type PredictorSettings } from './index.js';

export const FORECAST_SERIES = ['num_req', 'isl', 'osl'] as const;
export type ForecastSeries = (typeof FORECAST_SERIES)[number];

export interface ForecastScore {
  /** Symmetric mean absolute percentage error, percent (0..200); 0 where forecast and actual are both 0. */
  smape: number;
  /** Mean absolute error, in the series' unit (requests per interval, tokens). */
  mae: number;
  /** Fraction of scored intervals with forecast < actual: the error that breaks SLAs. */
  under_rate: number;
  /** 95th percentile of one predict() call, ms. */
  p95_predict_ms: number;
  /** Slowest predict() call, ms (ARIMA's periodic re-fit and order selection show here). */
  max_predict_ms: number;
  /** Intervals scored. */
  n: number;
}

export type PredictorScores = Record<ForecastSeries, ForecastScore>;

/** Linear-interpolated percentile (numpy's default) of unsorted values; 0 for none. */
export function percentile(values: readonly number[], pct: number): number {
  return values.length === 0 ? 0 : quantile(values, pct / 100);
}

function seriesValue(bucket: TraceBucket, series: ForecastSeries): number {
  return series === 'num_req' ? bucket.request_count : series === 'isl' ? bucket.avg_isl : bucket.avg_osl;
}

/**
 * Score `kind` on every series. The first interval is not scored (nothing to forecast from);
 * ISL/OSL are scored only on intervals with requests (an empty interval has no mean length), but
 * every interval is fed to the predictors, zeros included, as the original feeds them.
 */
export function scorePredictor(
  buckets: readonly TraceBucket[],
  kind: PredictorKind,
  settings: PredictorSettings,
  options: PredictorOptions = {},
): PredictorScores {
  const out = {} as PredictorScores;
  for (const series of FORECAST_SERIES) {
    const predictor = createPredictor(kind, settings, options);
    const timesMs: number[] = [];
    let absSum = 0;
    let smapeSum = 0;
    let under = 0;
    let n = 0;
    buckets.forEach((bucket, k) => {
      const actual = seriesValue(bucket, series);
      if (k > 0) {
        const start = performance.now();
        const forecast = predictor.predict();
        timesMs.push(performance.now() - start);
        if (series === 'num_req' || bucket.request_count > 0) {
          const err = Math.abs(forecast - actual);
          const denom = Math.abs(forecast) + Math.abs(actual);
          absSum += err;
          smapeSum += denom > 0 ? (2 * err) / denom : 0;
          if (forecast < actual) under++;
          n++;
        }
      }
      predictor.observe(actual);
    });
    out[series] = {
      smape: n ? (100 * smapeSum) / n : 0,
      mae: n ? absSum / n : 0,
      under_rate: n ? under / n : 0,
      p95_predict_ms: percentile(timesMs, 95),
      max_predict_ms: timesMs.reduce((a, b) => (b > a ? b : a), 0),
      n,
    };
  }
  return out;
}
