// Properties of the sla strategy's stages over random traffic, histograms and router scrapes
// (fast-check), on the real H100 profiles: never over the budget, never a scale-down from missing
// data, never a scale-down from a load tick.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/index.js';
import type { LoadPredictor } from '../../src/predict/types.js';
import type { HistogramWindow } from '../../src/scaling/moments.js';
import type { IntervalObservation, RouterSnapshot } from '../../src/scaling/observation.js';
import { Planner } from '../../src/scaling/planner.js';
import { h100Profiles } from '../helpers/h100.js';

function sequence(values: number[]): LoadPredictor {
  let i = 0;
  return { name: 'sequence', observe: () => { i++; }, predict: () => values[i % values.length], resetIdleSkip: () => {} };
}

const histogram: fc.Arbitrary<HistogramWindow> = fc
  .array(fc.integer({ min: 0, max: 500 }), { minLength: 2, maxLength: 10 })
  .chain((counts) => {
    const le = counts.slice(0, -1).map((_, i) => 50 * 2 ** i);
    let c = 0;
    const cumulative = counts.map((n) => (c += n));
    return fc.double({ min: 0, max: 1e8, noNaN: true }).map((sum) => ({ le, cumulative, sum }));
  });
const secondsHistogram: fc.Arbitrary<HistogramWindow> = histogram.map((h) => ({ ...h, le: h.le.map((b) => b / 1000), sum: h.sum / 1e5 }));

const observation: fc.Arbitrary<IntervalObservation> = fc.record(
  {
    num_req: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1e5, noNaN: true })),
    isl: fc.double({ min: 0, max: 30_000, noNaN: true }),
    osl: fc.double({ min: 0, max: 8000, noNaN: true }),
    ttft: fc.double({ min: 0, max: 1e5, noNaN: true }),
    itl: fc.double({ min: 0, max: 1000, noNaN: true }),
    request_duration: fc.double({ min: 0, max: 1000, noNaN: true }),
    isl_histogram: histogram,
    osl_histogram: histogram,
    ttft_histogram: secondsHistogram,
  },
  { requiredKeys: ['isl', 'osl', 'ttft', 'itl'] },
);

/** A scrape of `n` prefill and `m` decode workers, engine gauges and capacity present or not. */
const scrape = (n: number, m: number): fc.Arbitrary<RouterSnapshot> =>
  fc.record({
    // The frontend's arrivals counter (prefill_burst_sizing), going down as after a restart too.
    started: fc.option(fc.integer({ min: 0, max: 1e7 }), { nil: undefined }),
    prefill: fc.array(fc.record({ active_prefill_tokens: fc.double({ min: 0, max: 1e6, noNaN: true }), last_ttft: fc.double({ min: 0, max: 10, noNaN: true }), last_isl: fc.double({ min: 0, max: 30_000, noNaN: true }) }), { minLength: n, maxLength: n }),
    decode: fc.array(
      fc.record(
        {
          active_decode_blocks: fc.double({ min: 0, max: 1e6, noNaN: true }),
          last_itl: fc.double({ min: 0, max: 1, noNaN: true }),
          kv_total_blocks: fc.double({ min: 0, max: 1e5, noNaN: true }),
          preemptions_total: fc.integer({ min: 0, max: 1000 }),
          num_requests_waiting: fc.integer({ min: 0, max: 100 }),
        },
        { requiredKeys: ['active_decode_blocks', 'last_itl'] },
      ),
      { minLength: m, maxLength: m },
    ),
  }).map(({ started, prefill, decode }) => ({
    ...(started === undefined ? {} : { requests_started_total: started }),
    prefill: Object.fromEntries(prefill.map((g, i) => [`p${i}`, g])),
    decode: Object.fromEntries(decode.map((g, i) => [`d${i}`, g])),
  }));

const setup = fc.record({
  mode: fc.constantFrom('disagg', 'decode', 'prefill'),
  // A budget keeps the pools small enough to generate one scrape per worker (no budget is the trivial case).
  budget: fc.integer({ min: 2, max: 64 }),
  minEndpoint: fc.integer({ min: 1, max: 2 }),
  pgpu: fc.integer({ min: 1, max: 2 }),
  dgpu: fc.integer({ min: 1, max: 2 }),
  profile: fc.integer({ min: 0, max: h100Profiles.length - 1 }),
  itl: fc.integer({ min: 5, max: 60 }),
  ttft: fc.integer({ min: 50, max: 2000 }),
  burstSizing: fc.boolean(),
});

type Tick = { kind: 'throughput'; obs: IntervalObservation; drop: 'num_req' | 'request_duration' | null } | { kind: 'load'; extra: number };

const ticks: fc.Arbitrary<Tick[]> = fc.array(
  fc.oneof(
    fc.record({ kind: fc.constant('throughput' as const), obs: observation, drop: fc.constantFrom(null, null, 'num_req', 'request_duration') }),
    fc.record({ kind: fc.constant('load' as const), extra: fc.integer({ min: 0, max: 3 }) }),
  ),
  { minLength: 1, maxLength: 10 },
);

describe('strategy sla (property)', () => {
  it('counts are whole, within the budget; missing data holds; a load tick never scales down', () => {
    fc.assert(
      fc.property(setup, fc.array(fc.double({ min: -1e3, max: 1e5, noNaN: true }), { minLength: 1, maxLength: 5 }), ticks, fc.infiniteStream(fc.nat(1000)), (s, forecasts, sequenceOfTicks, seeds) => {
        const { config } = resolveConfig(
          {
            strategy: 'sla', mode: s.mode, environment: 'kubernetes', min_endpoint: s.minEndpoint, max_gpu_budget: s.budget,
            prefill_engine_num_gpu: s.pgpu, decode_engine_num_gpu: s.dgpu, ttft: s.ttft, itl: s.itl,
            prefill_burst_sizing: s.burstSizing,
          },
          { env: {} },
        );
        const planner = new Planner({ config, interpolators: h100Profiles[s.profile], predictors: { numReq: sequence(forecasts), isl: sequence([2000, 500]), osl: sequence([300, 3000]) } });
        const manages = { prefill: planner.manages('prefill'), decode: planner.manages('decode') };
        let current = { prefill: manages.prefill ? s.minEndpoint : 0, decode: manages.decode ? s.minEndpoint : 0 };
        const fits = (c: { prefill: number; decode: number }) => s.budget < 0 || c.prefill * s.pgpu + c.decode * s.dgpu <= s.budget;
        const seedIter = seeds[Symbol.iterator]();
        for (const tick of sequenceOfTicks) {
          let d;
          if (tick.kind === 'throughput') {
            const obs = { ...tick.obs };
            if (tick.drop) obs[tick.drop] = null;
            d = planner.decideThroughput(obs, current);
            if (tick.drop) expect(d.decided, `missing ${tick.drop}`).toBe(false);
          } else {
            const seed = seedIter.next().value as number;
            const samples = fc.sample(fc.array(scrape(manages.prefill ? current.prefill : 0, manages.decode ? current.decode : 0), { minLength: 1, maxLength: 4 }), { numRuns: 1, seed })[0];
            d = planner.decideLoad(samples, current);
            if (d.decided && fits(current)) {
              if (d.prefill !== null) expect(d.prefill).toBeGreaterThanOrEqual(current.prefill);
              if (d.decode !== null) expect(d.decode).toBeGreaterThanOrEqual(current.decode);
            }
          }
          for (const c of [d.prefill, d.decode]) if (c !== null) expect(Number.isInteger(c) && c >= 0, `count ${c}`).toBe(true);
          if (d.decided) {
            expect(fits({ prefill: d.prefill ?? 0, decode: d.decode ?? 0 })).toBe(true);
            // Replicas the budget grants come up (a quick rollout between ticks).
            current = { prefill: d.prefill ?? 0, decode: d.decode ?? 0 };
          }
        }
      }),
      { numRuns: 150 },
    );
  });

  it('a load tick with no scrape, or one from an outage, holds', () => {
    const { config } = resolveConfig({ strategy: 'sla', environment: 'kubernetes', prefill_engine_num_gpu: 1, decode_engine_num_gpu: 1 }, { env: {} });
    const planner = new Planner({ config, interpolators: h100Profiles[0] });
    expect(planner.decideLoad([], { prefill: 3, decode: 4 }).decided).toBe(false);
    expect(planner.decideLoad([{}], { prefill: 3, decode: 4 }).decided).toBe(false);
    const negative: RouterSnapshot = { decode: { a: { active_decode_blocks: -5, last_itl: 0.01 } } };
    expect(planner.decideLoad([negative], { prefill: 0, decode: 1 }).reason.code).toBe('hold_implausible_observation');
    const percent: RouterSnapshot = { decode: { a: { active_decode_blocks: 5, last_itl: 0.01, kv_usage: 93 } } };
    expect(planner.decideLoad([percent], { prefill: 0, decode: 1 }).reason).toMatchObject({ code: 'hold_implausible_observation', field: 'router.decode["a"].kv_usage' });
  });
});
