// forecast_quantile: size for an upper quantile of the request-count forecast.
import { describe, expect, it } from 'vitest';
import { FORECAST_MULTIPLIER_CAP, ForecastQuantile } from '../../../src/scaling/extensions/forecast-quantile.js';
import { Planner } from '../../../src/scaling/planner.js';
import { fixedPredictors } from '../../helpers/analyticProfile.js';
import { h100Config, h100Profiles } from '../../helpers/h100.js';

const forecast = { numReq: 100, isl: 2000, osl: 200 };

describe('ForecastQuantile', () => {
  it('exists only when a quantile is set', () => {
    expect(ForecastQuantile.fromConfig(h100Config({}))).toBeUndefined();
    expect(ForecastQuantile.fromConfig(h100Config({ forecast_quantile: 0.9, forecast_error_window: 7 }))).toMatchObject({ quantile: 0.9, window: 7 });
  });

  it('takes the quantile of the recent observed / forecast ratios, between 1 and the cap, over the last window', () => {
    const q = new ForecastQuantile(0.5, 2);
    expect(q.size(1, forecast)).toEqual({ forecast, sizing: {} });
    q.recordActual(2, 300); // ratio 3
    expect(q.multiplier).toBe(3);
    expect(q.size(2, forecast)).toEqual({ forecast: { ...forecast, numReq: 300 }, sizing: { forecast_multiplier: 3 } });
    q.recordActual(3, 50); // ratios [3, 0.5]: median 1.75
    expect(q.multiplier).toBe(1.75);
    q.size(3, forecast);
    q.recordActual(4, 10_000); // ratios [0.5, 100]: median 50.25, capped
    expect(q.multiplier).toBe(FORECAST_MULTIPLIER_CAP);
  });

  it('pairs an interval only with the forecast made at the tick before, and skips forecasts under one request', () => {
    const q = new ForecastQuantile(0.5, 5);
    q.size(1, forecast);
    q.recordActual(3, 400); // the forecast was made for tick 2, not 3
    expect(q.multiplier).toBe(1);
    q.size(3, { ...forecast, numReq: 0.5 });
    q.recordActual(4, 400);
    expect(q.multiplier).toBe(1);
  });

  it('in the planner: sizes for the observed under-forecast ratio, never below the mean forecast', () => {
    const interp = h100Profiles[0];
    const obs = { num_req: 20_000, isl: 2000, osl: 200, ttft: 60, itl: 10, request_duration: 5 };
    // A forecaster that always predicts half of what then arrives: the ratio observed/forecast is 2.
    const planner = new Planner({ config: h100Config({ forecast_quantile: 0.9 }), interpolators: interp, predictors: fixedPredictors(10_000, 2000, 200) });
    const plain = new Planner({ config: h100Config({}), interpolators: interp, predictors: fixedPredictors(10_000, 2000, 200) });
    let d = planner.decideThroughput(obs, { prefill: 1, decode: 1 });
    const p = plain.decideThroughput(obs, { prefill: 1, decode: 1 });
    expect(d.prefill).toBe(p.prefill); // no history yet
    d = planner.decideThroughput(obs, { prefill: 1, decode: 1 });
    expect(planner.state().forecastMultiplier).toBeCloseTo(2, 12);
    // 20,000 x 2000 / 180 s / 35,600 tok/s = 6.2 -> 7 prefill replicas, vs 4 for the mean.
    expect(p.prefill).toBe(4);
    expect(d.prefill).toBe(7);
    expect(d.reason).toMatchObject({ predicted: { num_req: 10_000 }, sizing: { forecast_multiplier: 2 } });
    // Over-forecasts never shrink below the mean.
    const over = new Planner({ config: h100Config({ forecast_quantile: 0.9 }), interpolators: interp, predictors: fixedPredictors(10_000, 2000, 200) });
    for (let i = 0; i < 3; i++) over.decideThroughput({ ...obs, num_req: 100 }, { prefill: 1, decode: 1 });
    expect(over.state().forecastMultiplier).toBe(1);
  });

  it('in the planner: no ratio for an interval after a held tick (its forecast was for an older one)', () => {
    const obs = { num_req: 100, isl: 2000, osl: 200, ttft: 60, itl: 10, request_duration: 5 };
    const planner = new Planner({ config: h100Config({ forecast_quantile: 0.5 }), interpolators: h100Profiles[0], predictors: fixedPredictors(100, 2000, 200) });
    const idle = { num_req: 0, isl: null, osl: null, ttft: null, itl: null, request_duration: null };
    planner.decideThroughput(obs, { prefill: 1, decode: 1 }); // forecasts 100 for the next interval
    expect(planner.decideThroughput(idle, { prefill: 1, decode: 1 }).decided).toBe(false); // ratio 0 / 100; held, no forecast
    // This interval had no forecast: 400 against the forecast made two ticks ago would be a ratio of 4.
    planner.decideThroughput({ ...obs, num_req: 400 }, { prefill: 1, decode: 1 });
    expect(planner.state().forecastMultiplier).toBe(1);
    planner.decideThroughput({ ...obs, num_req: 400 }, { prefill: 1, decode: 1 }); // ratios [0, 4]: median 2
    expect(planner.state().forecastMultiplier).toBe(2);
    // An implausible interval is not a ratio either, nor does it let the next one use a stale forecast.
    planner.decideThroughput({ ...obs, num_req: -5 }, { prefill: 1, decode: 1 });
    planner.decideThroughput({ ...obs, num_req: 4000 }, { prefill: 1, decode: 1 });
    expect(planner.state().forecastMultiplier).toBe(2);
  });
});
