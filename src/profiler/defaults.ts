// The efficiency factors the profiler ships with: fitted by calibrate() on our H100 measurements of
// llama-3.1-8b only (test/fixtures/h100/llama-3.1-8b.json); qwen3-0.6b is held out to measure
// the error (npm run bench:profile). test/profiler.test.ts re-runs the fit and fails if these
// drift from it, so change the model and re-fit together.
import { UNCALIBRATED } from './calibration.js';
import type { Efficiency } from './types.js';

export const CALIBRATION_MODEL = 'llama-3.1-8b';

export const DEFAULT_EFFICIENCY: Efficiency = {
  gemm: 0.639,
  attention: 0.527,
  memory: 0.901,
  stepOverheadMs: 2.18,
  perSequenceUs: 0.39,
  reserveBytes: 7.32e9,
  ...UNCALIBRATED,
};

/** Workload and SLA when the flags are not given (the Dynamo profiler's documented example). */
export const DEFAULT_SLA = { isl: 3000, osl: 150, ttftMs: 200, itlMs: 20 } as const;
