// The M/G/c queueing model of prefill_sizing queueing: Erlang C, the Allen-Cunneen wait and its
// tail, the sizing search and the burstiness an interval reveals, on hand-worked cases.
import { describe, expect, it } from 'vitest';
import { erlangC, meanWaitS, observedBurstiness, sizeQueueForSla, waitTailProbability } from '../../src/scaling/queueing.js';

describe('queueing formulas, hand-worked', () => {
  it('Erlang C: M/M/1 waits with probability rho; M/M/2 at a = 1 waits with probability 1/3', () => {
    expect(erlangC(1, 0.5)).toBeCloseTo(0.5, 12);
    // B(2,1) = (1/2)/(2 + 1/2) = 0.2; C = 0.2 / (1 - 0.5 * 0.8) = 1/3
    expect(erlangC(2, 1)).toBeCloseTo(1 / 3, 12);
    expect(erlangC(3, 3)).toBe(1);
    expect(erlangC(3, 0)).toBe(0);
  });

  it('Allen-Cunneen mean wait: M/M/1 rho/(mu - lambda), scaled by the burstiness; M/M/2 C/(2mu - lambda)', () => {
    expect(meanWaitS(1, 5, 0.1, 1)).toBeCloseTo(0.1, 12); // 0.5 / (10 - 5)
    expect(meanWaitS(1, 5, 0.1, 2)).toBeCloseTo(0.2, 12);
    expect(meanWaitS(2, 10, 0.1, 1)).toBeCloseTo(1 / 30, 12); // (1/3) / (20 - 10)
    expect(meanWaitS(1, 10, 0.1, 1)).toBe(Infinity);
  });

  it('exponential wait tail: M/M/1 P(W > t) = rho e^{-(mu - lambda) t}', () => {
    expect(waitTailProbability(1, 5, 0.1, 1, 0.2)).toBeCloseTo(0.5 * Math.exp(-1), 12);
  });

  const hand = { arrivalRatePerS: 5, serviceS: 0.1, idleTtftMs: 100, ttftTargetMs: 300, quantile: 0.95, burstiness: 1, maxUtilization: 0.9, maxReplicas: 100 };

  it('sizes for the TTFT quantile: 2 replicas where the throughput formula says 1', () => {
    // c = 1: miss = 0.5 e^{-5*0.2} = 0.184 > 0.05. c = 2: C = 0.1, miss = 0.1 e^{-15*0.2} = 0.005.
    const q = sizeQueueForSla(hand);
    expect(q.replicas).toBe(2);
    expect(q.binding).toBe('sla');
    expect(q.offeredErlangs).toBeCloseTo(0.5, 12);
    expect(q.predictedMissFraction).toBeCloseTo(0.1 * Math.exp(-3), 9);
    expect(q.predictedTtftMs).toBeCloseTo(100 + (0.1 / 15) * 1000, 9);
  });

  it('burstier traffic needs more: B = 10 takes 3 replicas', () => {
    // c = 2: 0.1 e^{-0.3} = 0.074 > 0.05; c = 3: C = 6/396, miss = 0.01515 e^{-0.5} = 0.0092.
    const q = sizeQueueForSla({ ...hand, burstiness: 10 });
    expect(q.replicas).toBe(3);
    expect(q.predictedMissFraction).toBeCloseTo((6 / 396) * Math.exp(-0.5), 9);
  });

  it('the utilisation cap binds when the slack is huge', () => {
    const loose = { ...hand, arrivalRatePerS: 8.5, ttftTargetMs: 10_000 };
    expect(sizeQueueForSla(loose)).toMatchObject({ replicas: 1, binding: 'utilization_cap' });
    expect(sizeQueueForSla({ ...loose, maxUtilization: 0.8 })).toMatchObject({ replicas: 2, binding: 'utilization_cap' });
  });

  it('an unreachable target (idle TTFT over it) falls back to the utilisation cap; no load needs none; the bound holds', () => {
    expect(sizeQueueForSla({ ...hand, idleTtftMs: 400 })).toMatchObject({ replicas: 1, binding: 'sla_unreachable' });
    expect(sizeQueueForSla({ ...hand, arrivalRatePerS: 0 })).toMatchObject({ replicas: 0, binding: 'idle' });
    expect(sizeQueueForSla({ ...hand, burstiness: 10, maxReplicas: 2 })).toMatchObject({ replicas: 2, binding: 'max_replicas' });
  });

  it('observed burstiness: observed wait over the M/M/c wait at the observed load', () => {
    // M/M/1 at lambda 5, S 0.1: 100 ms of wait; 300 ms observed = B 3.
    expect(observedBurstiness({ arrivalRatePerS: 5, serviceS: 0.1, replicas: 1, observedTtftMs: 400, idleTtftMs: 100 })).toBeCloseTo(3, 9);
    // Saturated (rho >= 0.98) or idle intervals say nothing.
    expect(observedBurstiness({ arrivalRatePerS: 10, serviceS: 0.1, replicas: 1, observedTtftMs: 5000, idleTtftMs: 100 })).toBeUndefined();
    expect(observedBurstiness({ arrivalRatePerS: 0, serviceS: 0.1, replicas: 1, observedTtftMs: 100, idleTtftMs: 100 })).toBeUndefined();
  });
});

describe('work bounded by the load, not by the replica count', () => {
  it('Erlang C for far more servers than the load needs ends once the waiting probability underflows', () => {
    // 5 Erlangs on 1e15 servers: nobody waits. A loop per server would never finish.
    expect(erlangC(1e15, 5)).toBe(0);
    expect(meanWaitS(1e15, 50, 0.1, 1)).toBe(0);
    // The early end changes nothing where the probability is still representable.
    expect(erlangC(40, 5)).toBeGreaterThan(0);
  });
});
