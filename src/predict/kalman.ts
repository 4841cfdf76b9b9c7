// kalman: local linear trend filter, state [level, trend], as the original's filterpy setup.
//
// Why not `kalmanjs`: it is a scalar filter (one state, transition a scalar A, control B). A local
// level + trend model needs a 2-vector state with the transition [[1,1],[0,1]] and a 2x2
// covariance; a scalar filter cannot carry the trend, so the forecasts would lag every ramp and
// would not match the original's numbers. The 2-state filter is a few lines, written out below.
import type { LoadPredictor } from './types.js';
import { IdleSkipIntake } from './intake.js';

export interface KalmanSettings {
  qLevel: number;
  qTrend: number;
  r: number;
  log1p: boolean;
}

/** Initial state covariance P0 = INITIAL_VARIANCE · I, as filterpy's default P (I) times 1000. */
const INITIAL_VARIANCE = 1000;

export class KalmanPredictor implements LoadPredictor {
  readonly name = 'kalman';
  private readonly intake = new IdleSkipIntake();
  private readonly qLevel: number;
  private readonly qTrend: number;
  private readonly r: number;
  private readonly log1p: boolean;
  private last = 0;
  private initialised = false;
  // State and covariance (symmetric, so p01 == p10).
  private level = 0;
  private trend = 0;
  private p00 = INITIAL_VARIANCE;
  private p01 = 0;
  private p11 = INITIAL_VARIANCE;
  // The forecast of this interval, once predict() advanced the filter; the next observation then
  // updates without advancing again, so repeated predict() calls never drift the state.
  private cachedLevel: number | undefined;

  constructor(settings: KalmanSettings) {
    // Floors as the original: a zero noise would make the covariance singular.
    this.qLevel = Math.max(1e-12, settings.qLevel);
    this.qTrend = Math.max(1e-12, settings.qTrend);
    this.r = Math.max(1e-9, settings.r);
    this.log1p = settings.log1p;
  }

  observe(value: number): void {
    const v = this.intake.accept(value);
    if (v === undefined) return;
    this.last = v;
    const z = this.log1p ? Math.log1p(Math.max(0, v)) : v;
    if (!this.initialised) {
      // Only the state is set; P stays at P0 as in the original.
      this.level = z;
      this.trend = 0;
      this.initialised = true;
    } else {
      if (this.cachedLevel === undefined) this.advance();
      this.update(z);
    }
    this.cachedLevel = undefined;
  }

  predict(): number {
    if (!this.initialised) return this.last;
    if (this.cachedLevel === undefined) {
      this.advance();
      this.cachedLevel = this.level;
    }
    // Raw mode is deliberately unclamped (the original's forecast can go negative on a falling
    // trend); the clamp is an option of createPredictor.
    return this.log1p ? Math.max(0, Math.expm1(this.cachedLevel)) : this.cachedLevel;
  }

  resetIdleSkip(): void {
    this.intake.reset();
  }

  /** x = F x, P = F P Fᵀ + Q with F = [[1,1],[0,1]]. */
  private advance(): void {
    this.level += this.trend;
    const p00 = this.p00 + 2 * this.p01 + this.p11 + this.qLevel;
    const p01 = this.p01 + this.p11;
    const p11 = this.p11 + this.qTrend;
    this.p00 = p00;
    this.p01 = p01;
    this.p11 = p11;
  }

  /** Measurement update with H = [1, 0], Joseph form (as filterpy) for numerical symmetry. */
  private update(z: number): void {
    const s = this.p00 + this.r;
    const k0 = this.p00 / s;
    const k1 = this.p01 / s;
    const innovation = z - this.level;
    this.level += k0 * innovation;
    this.trend += k1 * innovation;
    // P' = (I - K H) P (I - K H)ᵀ + K R Kᵀ, with A = I - K H = [[1-k0, 0], [-k1, 1]].
    const a00 = 1 - k0;
    const { p00, p01, p11, r } = this;
    // B = A P
    const b00 = a00 * p00;
    const b01 = a00 * p01;
    const b10 = -k1 * p00 + p01;
    const b11 = -k1 * p01 + p11;
    // B Aᵀ + K R Kᵀ
    this.p00 = b00 * a00 + r * k0 * k0;
    this.p01 = b00 * -k1 + b01 + r * k0 * k1;
    this.p11 = b10 * -k1 + b11 + r * k1 * k1;
  }
}
