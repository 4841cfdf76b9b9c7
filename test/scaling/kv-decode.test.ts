// KV-aware decode sizing: hand-computed residency, fixed point and replica counts.
import fc from 'fast-check';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildInterpolators, loadProfileDir } from '../../src/profile-data/index.js';
import { decodeAt, residenceWeightedContext, residencyMoments, sizeDecodeForKv, type KvDecodeInput } from '../../src/scaling/kv-decode.js';
import { withMean } from '../../src/scaling/moments.js';
import { H100 } from '../helpers/fixtures.js';

const isl = { m1: 100, m2: 20_000, m3: 6_000_000 };
const osl = { m1: 10, m2: 200, m3: 6000 };

function input(over: Partial<KvDecodeInput>): KvDecodeInput {
  return { arrivalRatePerS: 10, isl, osl, itlTargetMs: 30, kvFill: 0.5, z: 2, maxKvTokens: 100, itlMs: () => 20, kvCorrection: 1, minReplicas: 1, maxReplicas: 1000, ...over };
}

describe('residency', () => {
  it('token-steps per request and their second moment (ISL, OSL independent)', () => {
    // a = E[isl]E[osl] + E[osl²]/2 = 1000 + 100; b = E[isl²]E[osl] + E[isl]E[osl²] + E[osl³]/3.
    expect(residencyMoments(isl, osl)).toEqual({ a: 1100, b: 200_000 + 20_000 + 2000 });
    expect(residenceWeightedContext(isl, osl)).toBeCloseTo(110, 12);
  });
});

describe('decodeAt', () => {
  it('constant ITL: mean λ·t·a and sd sqrt(λ·t·b)', () => {
    const at = decodeAt(input({}), 13);
    expect(at.itlMs).toBe(20);
    expect(at.meanKv).toBeCloseTo(10 * 0.02 * 1100, 9);
    expect(at.sdKv).toBeCloseTo(Math.sqrt(10 * 0.02 * 222_000), 9);
    // In flight: λ·E[osl]·t = 2 requests, over 13 engines.
    expect(at.concurrency).toBeCloseTo(2 / 13, 12);
  });

  it('linear ITL settles at its fixed point t = 10 / (1 - 0.2/d) ms', () => {
    // ITL = 10 + 2·c ms, c = λ·E[osl]·t/d = 100·t/d with t in s.
    const linear = input({ itlMs: (c) => 10 + 2 * c });
    expect(decodeAt(linear, 1).itlMs).toBeCloseTo(12.5, 9);
    expect(decodeAt(linear, 2).itlMs).toBeCloseTo(10 / 0.9, 9);
  });

  it('a correction scales the mean, the spread and the context the ITL is read at', () => {
    let seen = 0;
    const at = decodeAt(input({ kvCorrection: 0.5, itlMs: (_c, ctx) => ((seen = ctx), 20) }), 13);
    expect(seen).toBeCloseTo(55, 12);
    expect(at.meanKv).toBeCloseTo(0.5 * 220, 9);
    expect(at.sdKv).toBeCloseTo(0.5 * Math.sqrt(44_400), 9);
  });
});

describe('sizeDecodeForKv', () => {
  it('KV-bound: ceil((E[L] + z·sd) / (fill · capacity))', () => {
    const s = sizeDecodeForKv(input({}));
    // (220 + 2·210.71) / 50 = 12.83 → 13.
    expect(s.replicas).toBe(13);
    expect(s.binding).toBe('kv_cache');
    expect(s.kvUsage).toBeCloseTo((220 + 2 * Math.sqrt(44_400)) / 1300, 9);
  });

  it('ITL-bound: the fewest replicas whose fixed point meets the target', () => {
    // Target 11 ms with ITL 10 + 2c: d = 1 gives 12.2 > 11 at t = 11, d = 2 gives 11.1, d = 3 gives 10.73.
    const s = sizeDecodeForKv(input({ itlTargetMs: 11, itlMs: (c) => 10 + 2 * c, maxKvTokens: 1e9 }));
    expect(s.replicas).toBe(3);
    expect(s.binding).toBe('itl');
    expect(s.itlMs).toBeCloseTo(10 / (1 - 0.2 / 3), 6);
  });

  it('idle, min_endpoint and the search bound', () => {
    expect(sizeDecodeForKv(input({ arrivalRatePerS: 0, minReplicas: 2 }))).toMatchObject({ replicas: 2, binding: 'idle' });
    expect(sizeDecodeForKv(input({ maxKvTokens: 1e9 }))).toMatchObject({ replicas: 1, binding: 'min_endpoint' });
    expect(sizeDecodeForKv(input({ maxReplicas: 5 }))).toMatchObject({ replicas: 5, binding: 'max_replicas' });
  });

  const profiles = ['llama-3.1-8b', 'qwen3-0.6b'].map((m) => buildInterpolators(loadProfileDir(join(H100, m, 'configmap'))));
  it('on real profiles: never fewer replicas for more traffic, and the plan fits its own fill (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: profiles.length - 1 }),
        fc.double({ min: 0, max: 50, noNaN: true }),
        fc.double({ min: 0, max: 50, noNaN: true }),
        fc.double({ min: 10, max: 8000, noNaN: true }),
        fc.double({ min: 10, max: 4000, noNaN: true }),
        fc.double({ min: 0.3, max: 1, noNaN: true }),
        (pi, rate, extra, meanIsl, meanOsl, fill) => {
          const decode = profiles[pi].decode;
          const base: KvDecodeInput = {
            arrivalRatePerS: rate, isl: withMean({ r2: 2, r3: 6 }, meanIsl), osl: withMean({ r2: 2, r3: 6 }, meanOsl), itlTargetMs: 40, kvFill: fill,
            z: 2.33, maxKvTokens: decode.maxKvTokens, itlMs: (c, ctx) => decode.itlMs(c, ctx), kvCorrection: 1, minReplicas: 1, maxReplicas: 10_000,
          };
          const low = sizeDecodeForKv(base);
          const high = sizeDecodeForKv({ ...base, arrivalRatePerS: rate + extra });
          expect(Number.isInteger(low.replicas) && low.replicas >= 1).toBe(true);
          expect(high.replicas).toBeGreaterThanOrEqual(low.replicas);
          if (low.binding !== 'max_replicas') expect(low.kvUsage).toBeLessThanOrEqual(fill + 1e-9);
        },
      ),
      { numRuns: 200 },
    );
  });
});
