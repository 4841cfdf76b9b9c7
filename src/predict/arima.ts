// arima: the original's ARIMA predictor (pmdarima.auto_arima once, then incremental updates) on
// the `arima` npm package, with the order search of ./arima-order.ts.
//
// Kept from the original: < 5 points -> last value; an all-identical history -> that value; the
// order is selected once, at the first forecast with enough history, in raw or log1p space; if
// raw was requested and the selected order has p = q = 0, the order is re-selected on log1p data
// and log1p is used from then on; forecasts are max(0, ·) (log mode max(0, expm1(·))); any
// failure -> last raw value.
//
// Differs, and why:
// - The package needs >= d + max(p+q, 10) points for a fit, so between 5 points and that minimum
//   the forecast is the last value (the original fits from 5 points).
// - pmdarima's `update(points)` re-estimates the coefficients over the whole, ever-growing history.
//   Here the selected order is re-fitted on the last REFIT_WINDOW points whenever new points came
//   in, so one forecast costs the same on day 7 as on day 1.
import type { LoadPredictor } from './types.js';
import { IdleSkipIntake } from './intake.js';
import { fitAndForecast, minPointsFor, selectOrder, type ArimaOrder } from './arima-order.js';

const MIN_POINTS = 5;
/** Points the model is re-fitted on (and selected on): 2 days of 15-min intervals, 8 h of 2-min. */
export const REFIT_WINDOW = 192;

export interface ArimaSettings {
  log1p: boolean;
  log?: (message: string) => void;
  refitWindow?: number;
}

export class ArimaPredictor implements LoadPredictor {
  readonly name = 'arima';
  private readonly intake = new IdleSkipIntake();
  private readonly raw: number[] = [];
  private readonly requestedLog1p: boolean;
  private readonly window: number;
  private readonly log: (message: string) => void;
  private order: ArimaOrder | undefined;
  private useLog1p: boolean;
  private dirty = true;
  private cached = 0;

  constructor(settings: ArimaSettings) {
    this.requestedLog1p = settings.log1p;
    this.useLog1p = settings.log1p;
    this.window = Math.max(20, settings.refitWindow ?? REFIT_WINDOW);
    this.log = settings.log ?? (() => {});
  }

  observe(value: number): void {
    const v = this.intake.accept(value);
    if (v === undefined) return;
    this.raw.push(Math.max(0, v));
    // Only the window is ever fitted; keep a little slack so trimming is rare.
    if (this.raw.length > 2 * this.window) this.raw.splice(0, this.raw.length - this.window);
    this.dirty = true;
  }

  predict(): number {
    if (!this.dirty) return this.cached;
    this.cached = this.forecast();
    this.dirty = false;
    return this.cached;
  }

  resetIdleSkip(): void {
    this.intake.reset();
  }

  /** Points currently stored (bounded by twice the refit window). */
  historyLength(): number {
    return this.raw.length;
  }

  /** The selected order and space, for logs and tests (undefined before the first fit). */
  describe(): { order: ArimaOrder; log1p: boolean } | undefined {
    return this.order ? { order: { ...this.order }, log1p: this.useLog1p } : undefined;
  }

  private lastValue(): number {
    return this.raw.length ? this.raw[this.raw.length - 1] : 0;
  }

  private forecast(): number {
    const n = this.raw.length;
    if (n < MIN_POINTS) return this.lastValue();
    const history = this.raw.slice(-this.window);
    // A flat history has nothing to fit (the original special-cases the whole buffer; a flat
    // window, e.g. a long idle stretch, is the same situation).
    if (history.every((v) => v === history[0])) return history[0];
    try {
      if (this.order === undefined) {
        if (history.length < minPointsFor({ p: 1, d: 0, q: 0 })) return this.lastValue();
        this.selectOrder(history);
      }
      const order = this.order!;
      if (history.length < minPointsFor(order)) return this.lastValue();
      const series = this.useLog1p ? history.map(Math.log1p) : history;
      const { forecast } = fitAndForecast(series, order);
      const value = this.useLog1p ? Math.expm1(forecast) : forecast;
      return Number.isFinite(value) ? Math.max(0, value) : this.lastValue();
    } catch (err) {
      this.log(`arima: forecast failed (${err instanceof Error ? err.message : String(err)}); using the last value`);
      return this.lastValue();
    }
  }

  private selectOrder(history: number[]): void {
    this.useLog1p = this.requestedLog1p;
    let chosen = selectOrder(this.useLog1p ? history.map(Math.log1p) : history);
    if (!this.requestedLog1p && chosen.order.p === 0 && chosen.order.q === 0) {
      // As the original: a raw series that collapses to (0,d,0) is usually spiky; log1p for good.
      chosen = selectOrder(history.map(Math.log1p));
      this.useLog1p = true;
    }
    this.order = chosen.order;
    const { p, d, q } = chosen.order;
    this.log(`arima: selected order (${p},${d},${q}) in ${this.useLog1p ? 'log1p' : 'raw'} space, AIC ${chosen.aic.toFixed(2)}`);
  }
}
