// Hand-computed cases for each throughput sizing formula, on the analytic profile.
import { describe, expect, it } from 'vitest';
import type { DecodeInterpolator, PrefillInterpolator } from '../../src/profile-data/types.js';
import { correctedItlTarget, decodeCapacity, planAgg, planDecode, planPrefill } from '../../src/scaling/throughput.js';
import { decodeStub, prefillStub } from '../helpers/analyticProfile.js';

describe('prefill replicas', () => {
  const base = { forecast: { numReq: 1800, isl: 3000, osl: 300 }, intervalS: 180, correctionFactor: 1, gpusPerReplica: 1, minEndpoint: 1 };
  // thpt(3000) = 40000 - 6000 = 34000 tok/s/GPU; demand = 1800 × 3000 / 180 = 30000 tok/s.
  const flat: PrefillInterpolator = { ...prefillStub, thptPerGpu: () => 10000 };

  it('sizes the pool from demand over profiled throughput, rounding up', () => {
    expect(planPrefill({ ...base, prefill: prefillStub })).toMatchObject({ replicas: 1, demandTokensPerS: 30000, thptPerGpu: 34000, binding: 'min_endpoint' });
    expect(planPrefill({ ...base, prefill: flat })).toMatchObject({ replicas: 3, binding: 'demand' });
    expect(planPrefill({ ...base, prefill: flat, gpusPerReplica: 2 }).replicas).toBe(2); // ceil(1.5)
  });

  it('scales the demand by the correction factor it is given', () => {
    expect(planPrefill({ ...base, prefill: flat, correctionFactor: 0.5 }).replicas).toBe(2); // 15000/10000
    expect(planPrefill({ ...base, prefill: flat, correctionFactor: 2 }).replicas).toBe(6);
  });

  it('floors at min_endpoint, also for a negative (Kalman) forecast, and without capacity', () => {
    expect(planPrefill({ ...base, prefill: flat, minEndpoint: 4 })).toMatchObject({ replicas: 4, binding: 'min_endpoint' });
    expect(planPrefill({ ...base, forecast: { numReq: -500, isl: 3000, osl: 300 }, prefill: flat, minEndpoint: 2 }).replicas).toBe(2);
    expect(planPrefill({ ...base, prefill: { ...flat, thptPerGpu: () => 0 }, minEndpoint: 2 })).toMatchObject({ replicas: 2, binding: 'no_capacity' });
  });
});

describe('decode replicas', () => {
  const base = { forecast: { numReq: 1800, isl: 3000, osl: 300 }, intervalS: 180, itlTargetMs: 25, gpusPerReplica: 1, minEndpoint: 1 };

  it('searches under the ITL target divided by the correction factor', () => {
    const seen: number[] = [];
    const spy: DecodeInterpolator = { ...decodeStub, findBestThroughputPerGpu: (t, ctx) => (seen.push(t, ctx), { thptPerGpu: 1000, itlMs: t, kvUsage: 0.5 }) };
    // demand = 1800 × 300 / 180 = 3000 tok/s over 1000 tok/s/GPU = 3 replicas.
    expect(planDecode({ ...base, correctionFactor: 2, capacity: decodeCapacity(spy) }).replicas).toBe(3);
    expect(seen).toEqual([12.5, 3150]);
    planDecode({ ...base, correctionFactor: 0, capacity: decodeCapacity(spy) });
    expect(seen.slice(2)).toEqual([25, 3150]); // a non-positive factor is ignored
    expect(correctedItlTarget(20, -1)).toBe(20);
  });

  it('counts GPUs per replica and falls back to min_endpoint when nothing meets the target', () => {
    const fixed: DecodeInterpolator = { ...decodeStub, findBestThroughputPerGpu: () => ({ thptPerGpu: 700, itlMs: 20, kvUsage: 0.3 }) };
    expect(planDecode({ ...base, correctionFactor: 1, capacity: decodeCapacity(fixed), gpusPerReplica: 2 }).replicas).toBe(3); // ceil(3000/700/2)=ceil(2.14)
    const none: DecodeInterpolator = { ...decodeStub, findBestThroughputPerGpu: () => ({ thptPerGpu: 0, itlMs: 90, kvUsage: 0 }) };
    expect(planDecode({ ...base, correctionFactor: 1, capacity: decodeCapacity(none), minEndpoint: 2 })).toMatchObject({ replicas: 2, binding: 'no_capacity' });
  });

  it('plans with the capacity after the search and limit it is built with', () => {
    const picked = { thptPerGpu: 1000, itlMs: 20, kvUsage: 0.5 };
    const capacity = decodeCapacity(decodeStub, { best: () => picked }, { thptPerGpu: (b) => b.thptPerGpu / 2 });
    expect(capacity(25, 3150)).toEqual({ best: picked, thptPerGpu: 500 });
    expect(planDecode({ ...base, correctionFactor: 1, capacity }).replicas).toBe(6); // 3000 / 500
  });
});

describe('agg mode (extension): one pool sized for both phases', () => {
  it('adds the GPU-seconds of prefill and decode', () => {
    const prefill = { forecast: { numReq: 1800, isl: 3000, osl: 300 }, intervalS: 180, correctionFactor: 1, prefill: { ...prefillStub, thptPerGpu: () => 10000 } };
    const decode = { forecast: prefill.forecast, intervalS: 180, correctionFactor: 1, itlTargetMs: 25, capacity: decodeCapacity({ ...decodeStub, findBestThroughputPerGpu: () => ({ thptPerGpu: 1000, itlMs: 20, kvUsage: 0.5 }) }) };
    // prefill 30000/10000 = 3 GPUs, decode 3000/1000 = 3 GPUs: 6 GPUs, 3 replicas of 2 GPUs.
    const plan = planAgg({ prefill, decode, gpusPerReplica: 2, minEndpoint: 1 });
    expect(plan).toMatchObject({ replicas: 3, prefillGpus: 3, decodeGpus: 3, binding: 'demand' });
    // Never fewer than either phase alone would need.
    expect(plan.replicas).toBeGreaterThanOrEqual(planPrefill({ ...prefill, gpusPerReplica: 2, minEndpoint: 1 }).replicas);
    expect(planAgg({ prefill, decode, gpusPerReplica: 2, minEndpoint: 4 })).toMatchObject({ replicas: 4, binding: 'min_endpoint' });
    expect(planAgg({ prefill: { ...prefill, prefill: { ...prefillStub, thptPerGpu: () => 0 } }, decode, gpusPerReplica: 2, minEndpoint: 1 })).toMatchObject({ replicas: 1, binding: 'no_capacity' });
  });
});
