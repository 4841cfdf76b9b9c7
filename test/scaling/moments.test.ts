// Length moments from histogram windows: hand-computed cases.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fractionAbove, histogramMoments, histogramProblem, poolHistograms, shapeOf, withMean } from '../../src/scaling/moments.js';

describe('histogramMoments', () => {
  it('reads buckets as uniform and rescales to the exact mean', () => {
    // [0,10]: 2 values (E[X]=5, E[X²]=100/3, E[X³]=250); (10,20]: 4 values (15, 700/3, 3750).
    const m = histogramMoments({ le: [10, 20], cumulative: [2, 6, 6], sum: 80 })!;
    expect(m.m1).toBeCloseTo(80 / 6, 12);
    // Raw mean 70/6, so k = 8/7: m2 = (1000/6)·k², m3 = (15500/6)·k³.
    expect(m.m2).toBeCloseTo((1000 / 6) * (8 / 7) ** 2, 9);
    expect(m.m3).toBeCloseTo((15500 / 6) * (8 / 7) ** 3, 6);
  });

  it('puts the +Inf bucket where the exact sum leaves it, never below the last bound', () => {
    // 1 value in [0,10] (5), 2 in +Inf: (105 - 5) / 2 = 50 each.
    const m = histogramMoments({ le: [10], cumulative: [1, 3], sum: 105 })!;
    expect(m.m1).toBeCloseTo(35, 12);
    expect(m.m2).toBeCloseTo((100 / 3 + 2 * 2500) / 3, 9);
    expect(m.m3).toBeCloseTo((250 + 2 * 125_000) / 3, 6);
    // A sum too small for the overflow: the +Inf values sit at the last bound, then all is rescaled.
    const low = histogramMoments({ le: [10], cumulative: [1, 3], sum: 12 })!;
    expect(low.m1).toBeCloseTo(4, 12);
  });

  it('says nothing for an empty or malformed window', () => {
    expect(histogramMoments({ le: [10], cumulative: [0, 0], sum: 0 })).toBeUndefined();
    expect(histogramMoments({ le: [10, 5], cumulative: [1, 2, 2], sum: 9 })).toBeUndefined();
    expect(histogramProblem({ le: [10], cumulative: [3, 2], sum: 1 })).toMatch(/non-decreasing/);
    expect(histogramProblem({ le: [10], cumulative: [1], sum: 1 })).toMatch(/one entry per bound plus the total/);
    expect(histogramProblem({ le: [], cumulative: [0], sum: 0 })).toMatch(/1 to/);
  });

  it('pools windows with the same bounds and drops the others', () => {
    const pooled = poolHistograms([
      { le: [10, 20], cumulative: [1, 2, 2], sum: 20 },
      { le: [10, 20], cumulative: [0, 3, 4], sum: 90 },
      { le: [10, 30], cumulative: [5, 5, 5], sum: 25 },
    ])!;
    expect(pooled).toEqual({ le: [10, 20], cumulative: [1, 5, 6], sum: 110 });
  });
});

describe('shape and fractions', () => {
  it('exponential lengths have shape 2 and 6; a shape carries to another mean', () => {
    const m = withMean({ r2: 2, r3: 6 }, 100);
    expect(m).toEqual({ m1: 100, m2: 20_000, m3: 6_000_000 });
    expect(shapeOf(m)).toEqual({ r2: 2, r3: 6 });
    expect(shapeOf({ m1: 0, m2: 0, m3: 0 })).toEqual({ r2: 1, r3: 1 });
  });

  it('fractionAbove interpolates inside the bucket holding x', () => {
    const h = { le: [10, 20], cumulative: [2, 6, 6], sum: 80 };
    expect(fractionAbove(h, 15)).toBeCloseTo(2 / 6, 12);
    expect(fractionAbove(h, 5)).toBeCloseTo(5 / 6, 12);
    expect(fractionAbove(h, 25)).toBe(0);
    expect(fractionAbove({ le: [10], cumulative: [1, 4], sum: 99 }, 25)).toBeCloseTo(0.75, 12);
    expect(fractionAbove({ le: [10], cumulative: [0, 0], sum: 0 }, 5)).toBeNaN();
  });

  it('moments of any valid histogram are finite, ordered by Jensen, and match the exact mean (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 2, maxLength: 12 }), fc.double({ min: 0, max: 5, noNaN: true }), (counts, spread) => {
        const le = counts.slice(0, -1).map((_, i) => 100 * 2 ** i);
        let c = 0;
        const cumulative = counts.map((n) => (c += n));
        const total = cumulative[cumulative.length - 1];
        const sum = total * 100 * (1 + spread);
        const m = histogramMoments({ le, cumulative, sum });
        if (total === 0) return expect(m).toBeUndefined();
        expect(m!.m1).toBeCloseTo(sum / total, 6);
        const s = shapeOf(m!);
        expect(Number.isFinite(s.r2) && Number.isFinite(s.r3)).toBe(true);
        expect(s.r2).toBeGreaterThanOrEqual(1);
        expect(s.r3).toBeGreaterThanOrEqual(s.r2);
      }),
    );
  });
});
