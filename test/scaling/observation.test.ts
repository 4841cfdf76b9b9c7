// The `decide` input line: what it accepts and the one sentence it gives for what it does not.
import { describe, expect, it } from 'vitest';
import { parseObservation } from '../../src/scaling/observation.js';
import { MAX_POOL_REPLICAS } from '../../src/scaling/screen.js';
import { InputError } from '../../src/util/errors.js';

const where = 'obs.jsonl line 3';

describe('parseObservation', () => {
  it('reads the fields, null as not observed', () => {
    expect(parseObservation({ num_req: 120, isl: 3000, osl: null, current_prefill: 2 }, where)).toEqual({ num_req: 120, isl: 3000, osl: null, current_prefill: 2 });
  });

  it('rejects a worker count no cluster runs with one sentence naming the line and field (the queueing model would loop over it)', () => {
    expect(() => parseObservation({ current_prefill: 1e20 }, where)).toThrow(InputError);
    expect(() => parseObservation({ current_prefill: 1e20 }, where)).toThrow(`obs.jsonl line 3: field 'current_prefill' must be a whole number of workers from 0 to ${MAX_POOL_REPLICAS}, got 100000000000000000000.`);
    expect(parseObservation({ current_decode: MAX_POOL_REPLICAS }, where).current_decode).toBe(MAX_POOL_REPLICAS);
    expect(() => parseObservation({ current_decode: 1.5 }, where)).toThrow(/current_decode/);
  });

  it('rejects negative or non-numeric metrics and unknown fields', () => {
    expect(() => parseObservation({ ttft: -1000 }, where)).toThrow(/field 'ttft' must be a number >= 0 or null/);
    expect(() => parseObservation({ isl: '3000' }, where)).toThrow(/field 'isl'/);
    expect(() => parseObservation({ ttft_ms: 10 }, where)).toThrow(/unknown field 'ttft_ms'/);
  });
});

describe('parseObservation: histogram windows (sla strategy)', () => {
  it('reads isl/osl/ttft histograms and names the field and the rule when one is malformed', () => {
    const h = { le: [100, 1000], cumulative: [3, 8, 9], sum: 4200 };
    expect(parseObservation({ num_req: 9, isl_histogram: h, ttft_histogram: null }, where)).toEqual({ num_req: 9, isl_histogram: h });
    expect(() => parseObservation({ osl_histogram: [1, 2] }, where)).toThrow(`obs.jsonl line 3: field 'osl_histogram' must be an object {"le": [finite upper bounds], "cumulative": [counts <= each bound, then the total], "sum": n}, got a list.`);
    expect(() => parseObservation({ isl_histogram: { le: [100], cumulative: [5, 4], sum: 1 } }, where)).toThrow(/field 'isl_histogram': 'cumulative' must be finite, >= 0 and non-decreasing/);
    expect(() => parseObservation({ isl_histogram: { le: [100], cumulative: [5], sum: 1 } }, where)).toThrow(/one entry per bound plus the total \(2\), got 1/);
    expect(() => parseObservation({ isl_histogram: { le: ['100'], cumulative: [5, 6], sum: 1 } }, where)).toThrow(/numbers only/);
  });

  it('accepts the frontend\'s arrivals counter on a scrape, as a count >= 0', () => {
    const obs = parseObservation({ router_samples: [{ requests_started_total: 42, prefill: {} }] }, where);
    expect(obs.router_samples?.[0]).toEqual({ requests_started_total: 42, prefill: {} });
    expect(() => parseObservation({ router_samples: [{ requests_started_total: -1 }] }, where)).toThrow(/requests_started_total: must be a number >= 0/);
    expect(() => parseObservation({ router: { requests_started: 1 } }, where)).toThrow(/unknown worker type 'requests_started'; expected 'prefill', 'decode' or 'requests_started_total'/);
  });

  it('accepts the engines\' gauges next to the router\'s', () => {
    const obs = parseObservation({ router: { decode: { d: { active_decode_blocks: 5, last_itl: 0.02, kv_total_blocks: 100, preemptions_total: 3 } } } }, where);
    expect(obs.router?.decode?.d).toEqual({ active_decode_blocks: 5, last_itl: 0.02, kv_total_blocks: 100, preemptions_total: 3 });
    expect(() => parseObservation({ router: { decode: { d: { active_decode_blocks: 5, last_itl: 0.02, kv_usage: -1 } } } }, where)).toThrow(/kv_usage: must be a number >= 0/);
  });
});
