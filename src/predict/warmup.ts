// load_predictor_warmup_trace: pre-fill the predictors from a trace before live data, as the
// original: bucket the trace into the throughput interval, feed request_count / avg_isl / avg_osl,
// then re-arm the idle skip so the idle period right after the deployment is still ignored.
import type { LoadPredictor } from './types.js';
import { bucketTrace, readTrace } from '../trace/read.js';

export interface SeriesPredictors {
  numReq: LoadPredictor;
  isl: LoadPredictor;
  osl: LoadPredictor;
}

/**
 * Returns the number of intervals fed. Throws InputError on an unreadable or malformed trace; the
 * original only logs a warning and starts cold, which the caller does by catching it.
 */
export async function warmUpPredictors(predictors: SeriesPredictors, tracePath: string, intervalS: number): Promise<number> {
  let intervals = 0;
  for await (const bucket of bucketTrace(readTrace(tracePath), intervalS)) {
    predictors.numReq.observe(bucket.request_count);
    predictors.isl.observe(bucket.avg_isl);
    predictors.osl.observe(bucket.avg_osl);
    intervals++;
  }
  predictors.numReq.resetIdleSkip();
  predictors.isl.resetIdleSkip();
  predictors.osl.resetIdleSkip();
  return intervals;
}
