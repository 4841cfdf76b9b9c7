// Stage "screen the observation": implausible values are held before anything learns from them;
// unobserved ones are left to the validity test.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MAX_ITL_MS,
  MAX_POOL_REPLICAS,
  MAX_REQUESTS_PER_S,
  MAX_TOKENS_WITHOUT_PROFILE,
  missingLatencyAndShape,
  observedInterval,
  screenLimits,
  screenObservation,
  screenRouterSamples,
  trafficOf,
} from '../../src/scaling/screen.js';
import { analyticProfile, stubConfig } from '../helpers/analyticProfile.js';

const busy = { num_req: 1800, isl: 3000, osl: 300, ttft: 150, itl: 20, request_duration: 6 };
const counts = { prefill: 2, decode: 3 };
// The analytic profile's longest prompt is 8000 tokens and its longest context 16000.
const limits = screenLimits(stubConfig({ throughput_adjustment_interval: 60 }), ['prefill', 'decode'], analyticProfile);

describe('screenObservation', () => {
  it('passes a busy interval and an idle one (unobserved is not implausible)', () => {
    expect(screenObservation(busy, counts, limits)).toBeUndefined();
    expect(screenObservation({ num_req: 0, isl: NaN, osl: null, ttft: Infinity, itl: undefined, request_duration: null }, counts, limits)).toBeUndefined();
  });

  it('names the first negative field and its value', () => {
    expect(screenObservation({ ...busy, isl: -1000, ttft: -1000 }, counts, limits)).toEqual({ code: 'hold_implausible_observation', field: 'isl', value: -1000, rule: 'must be >= 0' });
    expect(screenObservation({ ...busy, ttft: -Infinity }, counts, limits)).toMatchObject({ field: 'ttft', value: -Infinity });
  });

  it('holds values orders of magnitude beyond any deployment or the profile', () => {
    expect(screenObservation({ ...busy, num_req: MAX_REQUESTS_PER_S * 60 + 1 }, counts, limits)).toMatchObject({ field: 'num_req', rule: expect.stringContaining('requests/s over the 60-s interval') });
    expect(screenObservation({ ...busy, num_req: MAX_REQUESTS_PER_S * 60 }, counts, limits)).toBeUndefined();
    expect(screenObservation({ ...busy, isl: 800_001 }, counts, limits)).toMatchObject({ field: 'isl', rule: expect.stringContaining("100x the profile's longest prompt") });
    expect(screenObservation({ ...busy, isl: 800_000 }, counts, limits)).toBeUndefined();
    expect(screenObservation({ ...busy, osl: 3_200_001 }, counts, limits)).toMatchObject({ field: 'osl' });
    expect(screenObservation({ ...busy, itl: MAX_ITL_MS + 1 }, counts, limits)).toMatchObject({ field: 'itl' });
    expect(screenObservation({ ...busy, request_duration: 1e9 }, counts, limits)).toMatchObject({ field: 'request_duration' });
    // Without profile data only the absolute bound applies.
    const loadOnly = screenLimits(stubConfig({ enable_throughput_scaling: false, enable_load_scaling: true, load_router_metrics_url: 'http://r/metrics' }), ['decode']);
    expect(screenObservation({ ...busy, isl: 800_001 }, counts, loadOnly)).toBeUndefined();
    expect(screenObservation({ ...busy, isl: MAX_TOKENS_WITHOUT_PROFILE * 2 }, counts, loadOnly)).toMatchObject({ field: 'isl' });
  });

  it('holds a managed pool\'s current count that no cluster runs, and ignores an unmanaged one', () => {
    expect(screenObservation(busy, { prefill: 1e20, decode: 3 }, limits)).toMatchObject({ field: 'current_prefill', value: 1e20 });
    expect(screenObservation(busy, { prefill: 2, decode: 2.5 }, limits)).toMatchObject({ field: 'current_decode' });
    expect(screenObservation(busy, { prefill: 2, decode: MAX_POOL_REPLICAS }, limits)).toBeUndefined();
    expect(screenObservation(busy, { prefill: 1e20, decode: 3 }, { ...limits, pools: ['decode'] })).toBeUndefined();
  });

  it('holds every negative or absurd value and passes every value in range (property)', () => {
    const field = fc.constantFrom('num_req', 'isl', 'osl', 'ttft', 'itl', 'request_duration');
    fc.assert(
      fc.property(field, fc.double({ min: -1e12, max: -Number.MIN_VALUE, noNaN: true }), (f, v) => {
        expect(screenObservation({ ...busy, [f]: v }, counts, limits)).toMatchObject({ field: f, value: v });
      }),
    );
    fc.assert(
      fc.property(field, fc.double({ min: 0, max: 60_000, noNaN: true }), (f, v) => {
        expect(screenObservation({ ...busy, [f]: v }, counts, limits)).toBeUndefined();
      }),
    );
  });
});

describe('screenRouterSamples', () => {
  const worker = { active_prefill_tokens: 1200, last_ttft: 0.2, last_isl: 3000 };
  const decoder = { active_decode_blocks: 40, last_itl: 0.02 };

  it('passes real gauges and names the first impossible one by pool, worker and gauge', () => {
    expect(screenRouterSamples([{ prefill: { a: worker }, decode: { b: decoder } }], limits)).toBeUndefined();
    expect(screenRouterSamples([{ decode: { b: decoder } }, { decode: { b: { ...decoder, active_decode_blocks: -1000 } } }], limits)).toEqual({
      code: 'hold_implausible_observation', field: 'router.decode["b"].active_decode_blocks', value: -1000, rule: 'must be >= 0',
    });
    expect(screenRouterSamples([{ prefill: { a: { ...worker, last_ttft: 1e6 } } }], limits)).toMatchObject({ field: 'router.prefill["a"].last_ttft', rule: 'must be at most 86400 s (a day)' });
    expect(screenRouterSamples([{ prefill: { a: { ...worker, last_isl: 1e7 } } }], limits)).toMatchObject({ field: 'router.prefill["a"].last_isl' });
    // Agg engines carry both kinds of gauges under "decode".
    expect(screenRouterSamples([{ decode: { c: { ...decoder, active_prefill_tokens: 1e12 } } }], limits)).toMatchObject({ field: 'router.decode["c"].active_prefill_tokens' });
  });
});

describe('the validity test and the learning view', () => {
  it("lists the original's required fields that were not observed", () => {
    expect(missingLatencyAndShape(busy)).toEqual([]);
    expect(missingLatencyAndShape({ ...busy, ttft: NaN, osl: null, isl: Infinity })).toEqual(['ttft', 'isl', 'osl']);
  });

  it('reads an unobserved count or duration as 0, as upstream, and drops the router gauges from reasons', () => {
    expect(observedInterval({ ...busy, num_req: null, request_duration: undefined })).toEqual({ numReq: 0, isl: 3000, osl: 300, ttftMs: 150, itlMs: 20, requestDurationS: 0 });
    expect(trafficOf({ ...busy, router: {}, router_samples: [] })).toEqual(busy);
  });
});
