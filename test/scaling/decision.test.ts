// The decision vocabulary: ranked bindings and load hold codes.
import { describe, expect, it } from 'vitest';
import { BINDING_RANK, loadHoldCode, plannedOf, predictedOf, strongest } from '../../src/scaling/decision.js';

describe('bindings', () => {
  it('one word for both pools: the higher-ranked, the first on a tie, demand when none', () => {
    expect(strongest({})).toBe('demand');
    expect(strongest({ prefill: 'min_endpoint', decode: 'gpu_budget' })).toBe('gpu_budget');
    expect(strongest({ prefill: 'sla_queueing', decode: 'scale_down_window' })).toBe('sla_queueing');
    expect(strongest({ decode: 'throughput_floor' })).toBe('throughput_floor');
  });

  it('ranks the budget over every sizing rule', () => {
    const budget = Math.min(BINDING_RANK.gpu_budget, BINDING_RANK.gpu_budget_below_min_endpoint);
    for (const [binding, rank] of Object.entries(BINDING_RANK)) if (!binding.startsWith('gpu_budget')) expect(rank, binding).toBeLessThan(budget);
  });
});

describe('load hold codes', () => {
  it('say why when every phase agrees, else no_change', () => {
    expect(loadHoldCode({ prefill: { desired: undefined, code: 'insufficient_data' }, decode: { desired: undefined, code: 'insufficient_data' } })).toBe('insufficient_data');
    expect(loadHoldCode({ prefill: { desired: undefined, code: 'insufficient_data' }, decode: { desired: undefined, code: 'no_change' } })).toBe('no_change');
    expect(loadHoldCode({ prefill: { desired: 3, code: 'scale_up' }, decode: { desired: 3, code: 'scale_up' } })).toBe('no_change');
    expect(loadHoldCode({})).toBe('no_change');
  });
});

describe('reading a reason', () => {
  it('finds the plan and the forecast only on reasons that carry them', () => {
    expect(plannedOf({ code: 'hold_predict_failed', observed: {} })).toBeUndefined();
    expect(predictedOf({ code: 'load_scaling_disabled' })).toBeUndefined();
    const predicted = { num_req: 1, isl: 2, osl: 3 };
    const planned = { prefill: 4, decode: null };
    const reason = { code: 'hold_plan_failed' as const, observed: {}, predicted, planned, pools: ['prefill' as const], sizing: {} };
    expect([plannedOf(reason), predictedOf(reason)]).toEqual([planned, predicted]);
  });
});
