// Stage "lower bound / budget": the GPU budget rules, hand-computed, and the plan-level stage.
import { describe, expect, it } from 'vitest';
import { applyGlobalBudget, applyPoolBudget, atLeastMinEndpoint, gpusOf, growthWithinBudget, withinBudget } from '../../src/scaling/budget.js';

describe('GPU budget', () => {
  const limits = { maxGpuBudget: 8, minEndpoint: 1 };
  it('leaves targets that fit alone, and a negative budget disables it', () => {
    expect(applyGlobalBudget(3, 5, { prefill: 1, decode: 1 }, limits)).toEqual({ prefill: 3, decode: 5, binding: 'none' });
    expect(applyGlobalBudget(30, 50, { prefill: 1, decode: 1 }, { maxGpuBudget: -1, minEndpoint: 1 }).prefill).toBe(30);
  });
  it('shrinks both proportionally and gives the leftover to decode', () => {
    // scale = 8/20: prefill floor(4) = 4; decode gets 8 - 4 = 4.
    expect(applyGlobalBudget(10, 10, { prefill: 1, decode: 1 }, limits)).toEqual({ prefill: 4, decode: 4, binding: 'gpu_budget' });
    // planned (1, 13) under 6 GPUs -> (1, 5), as in the original's kalman-budget vector.
    expect(applyGlobalBudget(1, 13, { prefill: 1, decode: 1 }, { maxGpuBudget: 6, minEndpoint: 1 })).toMatchObject({ prefill: 1, decode: 5 });
    // 4-GPU prefill replicas: prefill capped at floor((8-1)/4) = 1, decode takes the other 4 GPUs.
    expect(applyGlobalBudget(2, 1, { prefill: 4, decode: 1 }, limits)).toMatchObject({ prefill: 1, decode: 4 });
  });
  it('returns 0 replicas when min_endpoint alone exceeds the budget: the budget wins', () => {
    expect(applyGlobalBudget(3, 3, { prefill: 2, decode: 2 }, { maxGpuBudget: 6, minEndpoint: 2 })).toEqual({ prefill: 0, decode: 0, binding: 'gpu_budget_below_min_endpoint' });
    expect(applyPoolBudget(3, 4, { maxGpuBudget: 3, minEndpoint: 1 })).toEqual({ replicas: 0, binding: 'gpu_budget_below_min_endpoint' });
  });
  it('single pool: as many replicas as fit', () => {
    expect(applyPoolBudget(5, 2, { maxGpuBudget: 7, minEndpoint: 1 })).toEqual({ replicas: 3, binding: 'gpu_budget' });
    expect(applyPoolBudget(13, 1, { maxGpuBudget: 6, minEndpoint: 1 }).replicas).toBe(6);
  });
});
describe('the budget stage over a plan', () => {
  const gpus = { prefill: 2, decode: 1 };
  it('counts GPUs per pool', () => {
    expect(gpusOf({ prefill: 3, decode: 4 }, gpus)).toBe(10);
  });

  it('keeps each pool\'s binding when the plan fits, and binds every managed pool to the budget when it does not', () => {
    const plan = { prefill: { replicas: 2, binding: 'demand' as const }, decode: { replicas: 3, binding: 'sla_queueing' as const } };
    expect(withinBudget(plan, gpus, { maxGpuBudget: 8, minEndpoint: 1 })).toEqual({ plan });
    const over = withinBudget(plan, gpus, { maxGpuBudget: 5, minEndpoint: 1 });
    // scale 5/7: prefill floor(1.43) = 1 (2 GPUs), decode gets the other 3.
    expect(over.plan).toEqual({ prefill: { replicas: 1, binding: 'gpu_budget' }, decode: { replicas: 3, binding: 'gpu_budget' } });
    expect(over.warning).toMatch(/max_gpu_budget \(5\)/);
  });

  it('gives one pool the whole budget, and says when min_endpoint does not fit', () => {
    expect(withinBudget({ decode: { replicas: 9, binding: 'demand' } }, gpus, { maxGpuBudget: 4, minEndpoint: 1 }).plan).toEqual({ decode: { replicas: 4, binding: 'gpu_budget' } });
    expect(withinBudget({ prefill: { replicas: 9, binding: 'demand' } }, gpus, { maxGpuBudget: 4, minEndpoint: 1 }).plan).toEqual({ prefill: { replicas: 2, binding: 'gpu_budget' } });
    const starved = withinBudget({ prefill: { replicas: 2, binding: 'demand' } }, gpus, { maxGpuBudget: 3, minEndpoint: 2 });
    expect(starved.plan).toEqual({ prefill: { replicas: 0, binding: 'gpu_budget_below_min_endpoint' } });
    expect(starved.warning).toMatch(/max_gpu_budget \(3\) is below the GPUs of min_endpoint \(2\)/);
  });

  it('raises a pool under min_endpoint and says so', () => {
    expect(atLeastMinEndpoint({ prefill: { replicas: 1, binding: 'load' }, decode: { replicas: 3, binding: 'load' } }, 2)).toEqual({
      prefill: { replicas: 2, binding: 'min_endpoint' },
      decode: { replicas: 3, binding: 'load' },
    });
  });
});

describe('the budget over a scale-out', () => {
  const gpus = { prefill: 1, decode: 2 };
  const limits = { maxGpuBudget: 11, minEndpoint: 1 };

  it('keeps the running replicas and grants the spare GPUs to the growth', () => {
    // Running 3 prefill + 4 decode = 11 GPUs: nothing spare, so decode's +1 is refused and prefill keeps 3
    // (the plain budget would scale both by 11/13 and take prefill down to 2).
    const full = growthWithinBudget({ prefill: { replicas: 3, binding: 'saturation_hold' }, decode: { replicas: 5, binding: 'saturation' } }, { prefill: 3, decode: 4 }, gpus, limits);
    expect(full.plan).toEqual({ prefill: { replicas: 3, binding: 'saturation_hold' }, decode: { replicas: 4, binding: 'gpu_budget' } });
    expect(withinBudget({ prefill: { replicas: 3, binding: 'saturation_hold' }, decode: { replicas: 5, binding: 'saturation' } }, gpus, limits).plan.prefill!.replicas).toBe(2);
    // Running 2 + 2 = 6 GPUs, 5 spare; asked 6 + 4. Shares short: prefill 4/6 > decode 2/4 -> prefill;
    // 3/6 = 2/4, a tie keeps the first pool -> prefill; 2/6 < 2/4 -> decode; 1 GPU left fits only
    // prefill -> prefill: 5 prefill + 3 decode = 11 GPUs.
    const grow = growthWithinBudget({ prefill: { replicas: 6, binding: 'saturation' }, decode: { replicas: 4, binding: 'saturation' } }, { prefill: 2, decode: 2 }, gpus, limits);
    expect(grow.plan).toEqual({ prefill: { replicas: 5, binding: 'gpu_budget' }, decode: { replicas: 3, binding: 'gpu_budget' } });
    expect(gpusOf({ prefill: 5, decode: 3 }, gpus)).toBe(11);
  });

  it('passes a plan that fits, and falls back to the plain budget when the running counts are over it', () => {
    const fits = { prefill: { replicas: 2, binding: 'saturation' as const }, decode: { replicas: 3, binding: 'saturation_hold' as const } };
    expect(growthWithinBudget(fits, { prefill: 1, decode: 3 }, gpus, limits).plan).toBe(fits);
    const over = { prefill: { replicas: 4, binding: 'saturation' as const }, decode: { replicas: 6, binding: 'saturation_hold' as const } };
    expect(growthWithinBudget(over, { prefill: 4, decode: 6 }, gpus, limits)).toEqual(withinBudget(over, gpus, limits));
  });
});
