// One forecaster per series (request count, mean ISL, mean OSL).
export interface LoadPredictor {
  /** Feed the value observed in the interval that just ended. Non-finite values count as 0. */
  observe(value: number): void;
  /** Forecast for the next interval. Never NaN. */
  predict(): number;
  /** Re-arm the leading-idle skip (after a warm-up trace), as upstream's reset_idle_skip. */
  resetIdleSkip(): void;
  readonly name: string;
}

/** How much a predictor notice matters: `info` for model choices, `warn` for a forecast that failed. */
export type NoticeLevel = 'info' | 'warn';

/** Where a predictor's notices go (the daemon's logger, or stderr). */
export type PredictorLog = (message: string, level?: NoticeLevel) => void;
