// Stage "learn the correction factors": the original's two formulas and what the stage keeps.
import { describe, expect, it } from 'vitest';
import { CorrectionFactors, decodeCorrectionFactor, prefillCorrectionFactor } from '../../src/scaling/correction.js';
import { analyticProfile, decodeStub, prefillStub } from '../helpers/analyticProfile.js';

const interval = { numReq: 1800, isl: 3000, osl: 300, ttftMs: 360, itlMs: 20, requestDurationS: 6 };

describe('correction factor formulas', () => {
  it('prefill: observed TTFT over profiled TTFT at the observed ISL', () => {
    expect(prefillCorrectionFactor(260, 3000, prefillStub)).toBeCloseTo(260 / 180, 12);
  });
  it("decode: observed ITL over profiled ITL at Little's-law concurrency", () => {
    // conc = 1800 / 2 × 6 / 180 = 30; ctx = 3150; itl = 6 + 6 + 3.15 = 15.15
    const cf = decodeCorrectionFactor(interval, 2, 180, decodeStub);
    expect(cf).toBeCloseTo(20 / 15.15, 12);
    expect(decodeCorrectionFactor(interval, 0, 180, decodeStub)).toBeUndefined();
  });
});

describe('CorrectionFactors', () => {
  it('learns the factors of the phases the pools run, and keeps the last decode factor without decode workers', () => {
    const both = new CorrectionFactors(analyticProfile, { prefill: true, decode: true }, 180);
    expect(both.learn(interval, { prefill: 1, decode: 2 })).toBeUndefined();
    expect(both.factors.prefill).toBeCloseTo(2, 12); // 360 / 180
    expect(both.factors.decode).toBeCloseTo(20 / 15.15, 12);
    both.learn({ ...interval, itlMs: 40 }, { prefill: 1, decode: 0 });
    expect(both.factors.decode).toBeCloseTo(20 / 15.15, 12);

    const prefillOnly = new CorrectionFactors(analyticProfile, { prefill: true, decode: false }, 180);
    prefillOnly.learn(interval, { prefill: 1, decode: 2 });
    expect(prefillOnly.factors).toEqual({ prefill: 2, decode: 1 });
  });

  it('returns a non-finite factor for the hold and keeps the previous ones', () => {
    const zeroTtft = { ...analyticProfile, prefill: { ...prefillStub, ttftMs: () => 0 } };
    const stage = new CorrectionFactors(zeroTtft, { prefill: true, decode: true }, 180);
    expect(stage.learn(interval, { prefill: 1, decode: 2 })).toEqual({ failed: { prefill: Infinity, decode: expect.closeTo(20 / 15.15, 12) } });
    expect(stage.factors).toEqual({ prefill: 1, decode: 1 });
  });
});
