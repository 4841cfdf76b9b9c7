// prefill_correction_can_scale_up: a prefill correction factor above 1 adds prefill replicas.
import { describe, expect, it } from 'vitest';
import { PrefillCorrectionCanScaleUp, UPSTREAM_PREFILL_CORRECTION } from '../../../src/scaling/extensions/prefill-correction-can-scale-up.js';
import { Planner } from '../../../src/scaling/planner.js';
import { analyticProfile, fixedPredictors, stubConfig } from '../../helpers/analyticProfile.js';

describe('prefill correction rule', () => {
  it('upstream caps the factor at 1; the extension applies it as measured', () => {
    expect([0.5, 1, 2].map((f) => UPSTREAM_PREFILL_CORRECTION.applied(f))).toEqual([0.5, 1, 1]);
    expect(new PrefillCorrectionCanScaleUp().applied(2)).toBe(2);
    expect(PrefillCorrectionCanScaleUp.fromConfig(stubConfig({}))).toBeUndefined();
  });

  it('in the planner: TTFT at twice the profile doubles the prefill demand only with the option', () => {
    // profiled TTFT(3000) = 180 ms; 360 observed -> factor 2. Demand 30000 tok/s over a flat 10000 tok/s/GPU.
    const flat = { ...analyticProfile, prefill: { ...analyticProfile.prefill, thptPerGpu: () => 10000 } };
    const obs = { num_req: 1800, isl: 3000, osl: 300, ttft: 360, itl: 20, request_duration: 6 };
    const run = (up: boolean) =>
      new Planner({ config: stubConfig({ no_correction: false, prefill_correction_can_scale_up: up, max_gpu_budget: -1 }), interpolators: flat, predictors: fixedPredictors(1800, 3000, 300) })
        .decideThroughput(obs, { prefill: 1, decode: 1 }).prefill;
    expect(run(false)).toBe(3);
    expect(run(true)).toBe(6);
  });
});
