// Stages "feed the predictors" and "forecast": one predictor per series (request count, mean ISL,
// mean OSL), fed every screened interval and asked for the next one.
import type { PlannerConfig } from '../config/schema.js';
import type { LoadPredictor, PredictorLog } from '../predict/types.js';
import { createPredictor } from '../predict/index.js';
import type { IntervalObservation } from './observation.js';

/** The next interval's traffic: requests in it and their mean ISL and OSL (tokens). */
export interface Forecast {
  numReq: number;
  isl: number;
  osl: number;
}

export interface TrafficPredictors {
  numReq: LoadPredictor;
  isl: LoadPredictor;
  osl: LoadPredictor;
}

/** The config's load_predictor for each series; notices (model choices, failed forecasts) go to `log` (default stderr). */
export function trafficPredictors(config: PlannerConfig, log?: PredictorLog): TrafficPredictors {
  const one = () => createPredictor(config.load_predictor, config, { log });
  return { numReq: one(), isl: one(), osl: one() };
}

export class TrafficForecaster {
  private readonly predictors: TrafficPredictors;

  constructor(config: PlannerConfig, predictors?: TrafficPredictors) {
    this.predictors = predictors ?? trafficPredictors(config);
  }

  /**
   * Every interval, idle and invalid ones included, as the original feeds them before it checks
   * validity: an unobserved count is 0, an unobserved ISL/OSL is NaN (each predictor's intake
   * decides what that means).
   */
  observe(obs: IntervalObservation): void {
    this.predictors.numReq.observe(obs.num_req ?? 0);
    this.predictors.isl.observe(obs.isl ?? NaN);
    this.predictors.osl.observe(obs.osl ?? NaN);
  }

  /** The forecast, or undefined when a predictor failed to give a finite number. */
  forecast(): Forecast | undefined {
    const forecast = { numReq: this.predictors.numReq.predict(), isl: this.predictors.isl.predict(), osl: this.predictors.osl.predict() };
    return [forecast.numReq, forecast.isl, forecast.osl].every(Number.isFinite) ? forecast : undefined;
  }
}
