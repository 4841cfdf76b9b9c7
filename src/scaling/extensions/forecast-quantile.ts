// forecast_quantile (sla-planner extension): size for an upper quantile of the request count, not
// its mean. Each interval's ratio observed / forecast is kept (forecast_error_window of them); the
// multiplier is the configured quantile of those ratios, never below 1 (it adds headroom, never
// removes it) and never above FORECAST_MULTIPLIER_CAP.
import type { PlannerConfig } from '../../config/schema.js';
import { quantile } from '../../util/stats.js';
import type { SizingDetail } from '../decision.js';
import type { Forecast } from '../forecast.js';

/** One wild interval must not take the whole budget. */
export const FORECAST_MULTIPLIER_CAP = 4;

export class ForecastQuantile {
  private readonly ratios: number[] = [];
  /** The request-count forecast and the tick that made it (for the interval of the next tick). */
  private made: { tick: number; numReq: number } | undefined;
  private current = 1;

  constructor(
    readonly quantile: number,
    readonly window: number,
  ) {}

  static fromConfig(config: PlannerConfig): ForecastQuantile | undefined {
    return config.forecast_quantile === null ? undefined : new ForecastQuantile(config.forecast_quantile, config.forecast_error_window);
  }

  get multiplier(): number {
    return this.current;
  }

  /**
   * The interval ending at `tick` saw `numReq` requests. It is compared only with the forecast
   * made for this very interval (at tick − 1): after a held tick the last forecast was for an
   * older one. Forecasts under one request say nothing about relative error and are skipped.
   */
  recordActual(tick: number, numReq: number | null | undefined): void {
    const last = this.made?.tick === tick - 1 ? this.made.numReq : undefined;
    if (last === undefined || !(last >= 1) || typeof numReq !== 'number' || !Number.isFinite(numReq)) return;
    this.ratios.push(numReq / last);
    if (this.ratios.length > this.window) this.ratios.shift();
    this.current = Math.min(FORECAST_MULTIPLIER_CAP, Math.max(1, quantile(this.ratios, this.quantile)));
  }

  /** The forecast to size for (the mean one is remembered for the next interval's ratio). */
  size(tick: number, forecast: Forecast): { forecast: Forecast; sizing: SizingDetail } {
    this.made = { tick, numReq: forecast.numReq };
    if (this.current === 1) return { forecast, sizing: {} };
    return { forecast: { ...forecast, numReq: forecast.numReq * this.current }, sizing: { forecast_multiplier: this.current } };
  }
}
