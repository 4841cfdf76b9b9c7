// Load predictors: one instance per forecast series (request count, mean ISL, mean OSL).
import type { PlannerConfig, PredictorKind } from '../config/schema.js';
import type { LoadPredictor, PredictorLog } from './types.js';
import { ConstantPredictor } from './constant.js';
import { KalmanPredictor } from './kalman.js';
import { ArimaPredictor } from './arima.js';
import { SeasonalPredictor } from './seasonal.js';
import { clampLoad } from './intake.js';

export type { LoadPredictor, NoticeLevel, PredictorLog } from './types.js';
export { warmUpPredictors } from './warmup.js';

/**
 * The config fields the predictors read. `kalman_min_points` is accepted but, as in the original,
 * gates nothing: the Kalman filter forecasts from its first point.
 */
export type PredictorSettings = Pick<
  PlannerConfig,
  'load_predictor_log1p' | 'prophet_window_size' | 'kalman_q_level' | 'kalman_q_trend' | 'kalman_r'
> & Partial<Pick<PlannerConfig, 'kalman_min_points'>>;

export interface PredictorOptions {
  /**
   * Clamp every forecast to a finite value >= 0. Off by default because the original's raw Kalman
   * forecast is unclamped (it goes negative on a falling trend) and the reference vectors show it.
   */
  clampNonNegative?: boolean;
  /** Where one-off notices go (e.g. "a seasonal model stands in for Prophet"). Default: stderr. */
  log?: PredictorLog;
}

const writeStderr: PredictorLog = (m) => {
  process.stderr.write(`${m}\n`);
};
// The stand-in notice goes out once per log sink, not once per series predictor.
const prophetNoticed = new WeakSet<PredictorLog>();

export function createPredictor(kind: PredictorKind, config: PredictorSettings, options: PredictorOptions = {}): LoadPredictor {
  const log = options.log ?? writeStderr;
  let predictor: LoadPredictor;
  switch (kind) {
    case 'constant':
      predictor = new ConstantPredictor();
      break;
    case 'kalman':
      predictor = new KalmanPredictor({
        qLevel: config.kalman_q_level,
        qTrend: config.kalman_q_trend,
        r: config.kalman_r,
        log1p: config.load_predictor_log1p,
      });
      break;
    case 'arima':
      predictor = new ArimaPredictor({ log1p: config.load_predictor_log1p, log });
      break;
    case 'prophet':
      if (!prophetNoticed.has(log)) {
        prophetNoticed.add(log);
        log('load_predictor "prophet": Prophet does not exist for Node; a seasonal Holt-Winters model over prophet_window_size points stands in for it.');
      }
      predictor = new SeasonalPredictor({ windowSize: config.prophet_window_size, log1p: config.load_predictor_log1p });
      break;
    default: {
      const never: never = kind;
      throw new Error(`unknown load predictor ${String(never)}`);
    }
  }
  return options.clampNonNegative ? clamped(predictor) : predictor;
}

function clamped(inner: LoadPredictor): LoadPredictor {
  return {
    name: inner.name,
    observe: (v) => inner.observe(v),
    predict: () => clampLoad(inner.predict()),
    resetIdleSkip: () => inner.resetIdleSkip(),
  };
}
