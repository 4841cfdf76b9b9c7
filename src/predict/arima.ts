// arima: the original's ARIMA predictor (pmdarima.auto_arima once, then `update` with each new
// point) on the `arima` npm package, with the order search of ./arima-order.ts.
//
// Kept from the original: < 5 points -> last value; an all-identical history -> that value; the
// order is selected at the first forecast with enough history, in raw or log1p space; if raw was
// requested and the selected order has p = q = 0, the order is re-selected on log1p data and log1p
// is used from then on; between fits, new points update the forecast through the fitted model;
// forecasts are max(0, ·) (log mode max(0, expm1(·))); any failure -> last raw value.
//
// Differs, and why:
// - The package needs >= d + max(p+q, 10) points for a fit, so between 5 points and that minimum
//   the forecast is the last value (the original fits from 5 points).
// - pmdarima's `update(points)` re-estimates the coefficients (a few optimiser steps) over the
//   whole, ever-growing history at every forecast. Here the coefficients are re-estimated every
//   REFIT_EVERY new points on the last REFIT_WINDOW points, and in between the fitted model is run
//   over the latest window (~0.1 ms instead of a 1-10 ms fit), so a forecast costs the same on
//   day 7 as on day 1.
// - The order is re-selected each time the window has turned over (every REFIT_WINDOW new points):
//   an order chosen on the first dozen points of a deployment, as the original keeps forever,
//   does not fit a diurnal day. A re-selection searches around the current order (its
//   neighbourhood, then on while the AIC improves) rather than from scratch: about half the fits.
//   The log1p switch stays permanent, as in the original.
// - The package's wasm is instantiated with the predictor (tens of ms once per process), not in
//   the first forecast that fits.
import type { LoadPredictor, PredictorLog } from './types.js';
import { IdleSkipIntake } from './intake.js';
import { ArimaFit, minPointsFor, selectOrder, type ArimaOrder } from './arima-order.js';
import { nativeArima } from './arima-native.js';

const MIN_POINTS = 5;
// Window and re-fit period were picked on the shipped traces (bench/predict.ts, request count at
// 60 s and 180 s): re-estimating every 4 points on 64 was as accurate as re-estimating every point
// and clearly better than every 8 or 32 (sMAPE 92 vs 103 vs 136 % on the bursty Azure trace,
// 14.5 vs 15.0 vs 16.8 % on m-mid at 180 s), and longer windows did not help (the m-mid day at
// 180 s: 14.5 % with 64 points, 16.8 % with 128). A w64 fit costs 1-3 ms.
/** Points the model is fitted and selected on: 3.2 h of 3-min intervals, 1 h of 1-min ones. */
export const REFIT_WINDOW = 64;
/** New points between re-estimations of the coefficients. */
export const REFIT_EVERY = 4;

export interface ArimaSettings {
  log1p: boolean;
  log?: PredictorLog;
  refitWindow?: number;
  refitEvery?: number;
}

// A fitted model holds wasm memory that the JS garbage collector cannot see; free it with the
// predictor that owns it.
const nativeFits = new FinalizationRegistry<ArimaFit>((fit) => fit.dispose());

export class ArimaPredictor implements LoadPredictor {
  readonly name = 'arima';
  private readonly intake = new IdleSkipIntake();
  private readonly raw: number[] = [];
  private readonly window: number;
  private readonly refitEvery: number;
  private readonly log: PredictorLog;
  private order: ArimaOrder | undefined;
  private fit: ArimaFit | undefined;
  private useLog1p: boolean;
  private dirty = true;
  private cached = 0;
  /** Points accepted since the order was last selected / the coefficients last estimated. */
  private sinceSelection = 0;
  private sinceFit = 0;
  private failures = 0;

  constructor(settings: ArimaSettings) {
    this.useLog1p = settings.log1p;
    this.window = Math.max(20, settings.refitWindow ?? REFIT_WINDOW);
    this.refitEvery = Math.max(1, settings.refitEvery ?? REFIT_EVERY);
    this.log = settings.log ?? (() => {});
    nativeArima();
  }

  observe(value: number): void {
    const v = this.intake.accept(value);
    if (v === undefined) return;
    this.raw.push(Math.max(0, v));
    this.sinceSelection++;
    this.sinceFit++;
    // Only the window is ever fitted; keep some slack so trimming is rare.
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
      if (this.order === undefined || this.sinceSelection >= this.window) {
        if (history.length < minPointsFor({ p: 1, d: 0, q: 0 })) return this.lastValue();
        this.selectOrder(history);
      }
      const order = this.order!;
      if (history.length < minPointsFor(order)) return this.lastValue();
      const series = this.useLog1p ? history.map(Math.log1p) : history;
      let forecast: number;
      if (this.fit === undefined || this.sinceFit >= this.refitEvery) {
        this.replaceFit(ArimaFit.fit(series, order));
        forecast = this.fit!.firstForecast;
      } else {
        forecast = this.fit.forecast(series.slice(-this.fit.length));
      }
      const value = this.useLog1p ? Math.expm1(forecast) : forecast;
      return Number.isFinite(value) ? Math.max(0, value) : this.lastValue();
    } catch (err) {
      // Refit at the next forecast; a failed fit recurs on similar windows, so report it the
      // first time and then every 100th.
      this.replaceFit(undefined);
      if (this.failures++ % 100 === 0) {
        this.log(`arima: forecast failed (${err instanceof Error ? err.message : String(err)}); using the last value (failure ${this.failures})`, 'warn');
      }
      return this.lastValue();
    }
  }

  private replaceFit(fit: ArimaFit | undefined): void {
    if (this.fit) {
      nativeFits.unregister(this);
      this.fit.dispose();
    }
    this.fit = fit;
    this.sinceFit = 0;
    if (fit) nativeFits.register(this, fit, this);
  }

  private selectOrder(history: number[]): void {
    this.sinceSelection = 0;
    this.replaceFit(undefined);
    const from = this.order ? { p: this.order.p, q: this.order.q } : undefined;
    let chosen = selectOrder(this.useLog1p ? history.map(Math.log1p) : history, from);
    let switched = false;
    if (!this.useLog1p && chosen.order.p === 0 && chosen.order.q === 0) {
      // As the original: a raw series that collapses to (0,d,0) is usually spiky; log1p for good.
      chosen = selectOrder(history.map(Math.log1p));
      this.useLog1p = true;
      switched = true;
    }
    const { p, d, q } = chosen.order;
    const previous = this.order;
    this.order = chosen.order;
    // Re-selection runs every window; only a change is news.
    if (!previous || previous.p !== p || previous.d !== d || previous.q !== q || switched) {
      this.log(`arima: selected order (${p},${d},${q}) in ${this.useLog1p ? 'log1p' : 'raw'} space, AIC ${chosen.aic.toFixed(2)}`);
    }
  }
}
