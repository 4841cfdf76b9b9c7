// The load-scaling formulas of the original: latency regression, the ±1 rule, the router view.
import { describe, expect, it } from 'vitest';
import type { RouterSnapshot } from '../../src/scaling/observation.js';
import { decodeStep, fitLine, LatencyRegression, loadAtSla, prefillStep, stepDecision, summarizePool, workerLoad } from '../../src/scaling/load.js';

describe('load regression and ±1 rule', () => {
  it('inverts the fitted line at the SLA', () => {
    const reg = new LatencyRegression(50, 5);
    for (let b = 100; b <= 400; b += 100) reg.add(b, 5 + 0.02 * b);
    expect(reg.loadAtSla(20)).toBeUndefined(); // 4 < min observations
    reg.add(500, 15);
    expect(reg.loadAtSla(20)).toBeCloseTo(750, 9);
  });
  it('keeps only the last window of observations', () => {
    const reg = new LatencyRegression(10, 5);
    for (let i = 0; i < 10; i++) reg.add(100 + i, 1000); // flat, far above the SLA
    for (let i = 1; i <= 10; i++) reg.add(i * 10, 2 * i * 10); // y = 2x
    expect(reg.size).toBe(10);
    expect(reg.loadAtSla(50)).toBeCloseTo(25, 9);
  });
  it('falls back to the smallest load under the SLA when latency does not rise with load', () => {
    expect(loadAtSla({ slope: -1, intercept: 100 }, [300, 200, 400], [10, 30, 5], 20)).toBe(300);
    expect(loadAtSla({ slope: 0, intercept: 100 }, [300, 200], [30, 40], 20)).toBe(200);
    expect(fitLine([5, 5, 5], [1, 2, 3])).toEqual({ slope: 0, intercept: 2 });
    expect(loadAtSla({ slope: 1, intercept: 50 }, [], [], 20)).toBe(0);
  });
  it('steps up only when every worker is past the target, down when all fit in N-1 with margin', () => {
    expect(stepDecision([900, 1000], 2, 800, 80)).toMatchObject({ desired: 3, code: 'scale_up' });
    expect(stepDecision([900, 700], 2, 800, 80)).toMatchObject({ desired: undefined, code: 'no_change' });
    // boundary = 800 × 1/2 × 0.8 = 320
    expect(stepDecision([100, 300], 2, 800, 80)).toMatchObject({ desired: 1, code: 'scale_down', down_boundary: 320 });
    expect(stepDecision([100, 330], 2, 800, 80).code).toBe('no_change');
    expect(stepDecision([0, 0], 2, 800, 0).code).toBe('no_change'); // sensitivity 0 never scales down
    expect(stepDecision([0], 1, 800, 100).code).toBe('no_change'); // never below one worker
  });
  it('prefill compares active tokens with the SLA load minus the mean ISL', () => {
    expect(prefillStep(18000, 3000, [16000], 1, 80)).toMatchObject({ desired: 2, target: 15000 });
    expect(prefillStep(2000, 3000, [16000], 1, 80).code).toBe('sla_unreachable');
    expect(prefillStep(undefined, 3000, [16000], 1, 80).code).toBe('insufficient_data');
    expect(decodeStep(0, [10], 1, 80).code).toBe('sla_unreachable');
  });
  it('summarises buffered scrapes per worker and across the cluster', () => {
    const snaps: RouterSnapshot[] = [
      { prefill: { a: { active_prefill_tokens: 100, last_ttft: 0.1, last_isl: 1000 }, b: { active_prefill_tokens: 300, last_ttft: 0.2, last_isl: 3000 } } },
      { prefill: { a: { active_prefill_tokens: 200, last_ttft: 0.3, last_isl: 2000 } } },
    ];
    const view = summarizePool(snaps, 'prefill');
    expect([...view.recent.keys()]).toEqual(['a']);
    expect(view.perWorkerAveraged.get('a')).toMatchObject({ active_prefill_tokens: 150, last_isl: 1500 });
    expect(view.clusterAvgIsl).toBe(2000);
  });

  it("takes 'recent' from the latest scrape even when it has no worker of that type (an empty scrape adds nothing)", () => {
    const a = { active_prefill_tokens: 100, last_ttft: 0.1, last_isl: 1000 };
    const d = { active_decode_blocks: 10, last_itl: 0.02 };
    // The prefill workers are gone by the latest scrape: the router sees 0 of them, as upstream's
    // latest_sample.get(worker_type, {}); the stale older scrape must not stand in for it.
    const gone = summarizePool([{ prefill: { a }, decode: { d } }, { decode: { d } }], 'prefill');
    expect(gone.recent.size).toBe(0);
    expect(gone.perWorkerAveraged.get('a')).toMatchObject({ active_prefill_tokens: 100 });
    // A scrape that returned no gauges at all is not buffered upstream, so the one before it is the latest.
    expect([...summarizePool([{ prefill: { a } }, {}], 'prefill').recent.keys()]).toEqual(['a']);
  });
});
describe('a missing load gauge', () => {
  it('reads as the value it is told to: 0 upstream, NaN (unknown) under hold_on_missing_data', () => {
    expect(workerLoad(undefined, 0)).toBe(0);
    expect(workerLoad(undefined, Number.NaN)).toBeNaN();
    expect(workerLoad(12, Number.NaN)).toBe(12);
  });
  it('an unknown load blocks a scale-down it would have allowed, and says so', () => {
    expect(stepDecision([10, Number.NaN], 2, 750, 80)).toMatchObject({ desired: undefined, code: 'hold_missing_load_gauge' });
    expect(stepDecision([500, Number.NaN], 2, 750, 80).code).toBe('no_change');
  });
});
