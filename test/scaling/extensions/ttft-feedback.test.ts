// ttft_feedback: hand-worked miss shares, the queueing evidence, the floor's memory.
import { describe, expect, it } from 'vitest';
import { infeasibleIsl, TtftFeedback } from '../../../src/scaling/extensions/ttft-feedback.js';
import type { IntervalObservation } from '../../../src/scaling/observation.js';
import { prefillStub } from '../../helpers/analyticProfile.js';
import { h100Config } from '../../helpers/h100.js';

/** n requests, `over` of them above 0.3 s (all in (0.3, 0.5]), the rest in (0.1, 0.2]. */
function obs(n: number, over: number, isl?: IntervalObservation['isl_histogram']): IntervalObservation {
  return { num_req: n, ttft_histogram: { le: [0.1, 0.2, 0.3, 0.5], cumulative: [0, n - over, n - over, n, n], sum: 0.2 * n }, ...(isl ? { isl_histogram: isl } : {}) };
}

function feedback(memoryS = 540): TtftFeedback {
  return new TtftFeedback({ ttftTargetMs: 300, allowedMiss: 0.02, memoryS, intervalS: 180, infeasibleIsl: Infinity });
}

const plan = (p: number) => ({ prefill: { replicas: p, binding: 'demand' as const }, decode: { replicas: 1, binding: 'demand' as const } });

describe('TtftFeedback', () => {
  it('exists with ttft_feedback on and a prefill pool', () => {
    expect(TtftFeedback.fromConfig(h100Config({}), prefillStub)).toBeUndefined();
    expect(TtftFeedback.fromConfig(h100Config({ ttft_feedback: true, mode: 'agg' }), prefillStub)).toBeUndefined();
    expect(TtftFeedback.fromConfig(h100Config({ ttft_feedback: true }), prefillStub)).toBeInstanceOf(TtftFeedback);
  });

  it('starts with the prefill count it found as the floor', () => {
    const f = feedback();
    f.learn(obs(1000, 0), 4, false);
    expect(f.floorReplicas).toBe(4);
    expect(f.raise(plan(2)).plan.prefill).toEqual({ replicas: 4, binding: 'ttft_feedback' });
    expect(f.raise(plan(6)).plan.prefill).toEqual({ replicas: 6, binding: 'demand' });
  });

  it('raises to the replicas that served the interval plus one when misses pass the allowed share by two sigmas', () => {
    const f = feedback();
    f.learn(obs(1000, 0), 1, false);
    // Allowed 2% of 1000 = 20, sigma sqrt(0.02·0.98·1000) = 4.43: 28 misses is under 20 + 8.85.
    f.learn(obs(1000, 28), 2, true);
    expect(f.floorReplicas).toBe(1);
    f.learn(obs(1000, 30), 2, true);
    expect(f.floorReplicas).toBe(3);
    // Far over (more than 4 × 2%): a quarter more, at least one.
    f.learn(obs(1000, 300), 8, true);
    expect(f.floorReplicas).toBe(10);
  });

  it('does not raise without queueing evidence: misses that more replicas would not cure', () => {
    const f = feedback();
    f.learn(obs(1000, 0), 1, false);
    f.learn(obs(1000, 400), 2, false);
    expect(f.floorReplicas).toBe(1);
  });

  it('subtracts the prompts too long to meet the target alone', () => {
    const f = new TtftFeedback({ ttftTargetMs: 300, allowedMiss: 0.02, memoryS: 540, intervalS: 180, infeasibleIsl: 10_000 });
    f.learn(obs(1000, 0), 1, false);
    // 100 of 1000 miss, 90 of them prompts over 10000 tokens: 1% feasible misses, under the allowance.
    const isl = { le: [1000, 10_000], cumulative: [910, 910, 1000], sum: 2e6 };
    f.learn(obs(1000, 100, isl), 2, true);
    expect(f.floorReplicas).toBe(1);
    const detail = f.raise(plan(1)).detail!;
    expect(detail.infeasible_share).toBeCloseTo(0.09, 12);
    expect(detail.miss_share).toBeCloseTo(0.01, 12);
  });

  it('drops one replica after burst_memory_s of quiet intervals, and holds near the allowance', () => {
    const f = feedback(540);
    f.learn(obs(1000, 0), 5, false);
    f.learn(obs(1000, 0), 5, false);
    expect(f.floorReplicas).toBe(5); // 360 s of quiet
    f.learn(obs(1000, 15), 5, false); // 1.5%: over half the allowance, the quiet clock restarts
    f.learn(obs(1000, 0), 5, false);
    f.learn(obs(1000, 0), 5, false);
    expect(f.floorReplicas).toBe(5);
    f.learn(obs(1000, 0), 5, false);
    expect(f.floorReplicas).toBe(4);
  });

  it('ignores intervals with too few requests to judge', () => {
    const f = feedback();
    f.learn(obs(1000, 0), 1, false);
    f.learn(obs(10, 10), 1, true);
    expect(f.floorReplicas).toBe(1);
  });
});

describe('infeasibleIsl', () => {
  it('the prompt length whose idle TTFT reaches the target, beyond the profile linearly', () => {
    // prefillStub: TTFT = 30 + 0.05·isl up to 8000 (430 ms), then 430·isl/8000.
    expect(infeasibleIsl(prefillStub, 300)).toBeCloseTo(5400, -1);
    expect(infeasibleIsl(prefillStub, 860)).toBeCloseTo(16_000, -1);
    expect(infeasibleIsl(prefillStub, 10)).toBe(prefillStub.minIsl);
  });
});
