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
