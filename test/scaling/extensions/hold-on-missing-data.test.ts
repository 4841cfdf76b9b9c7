// hold_on_missing_data: what upstream reads as 0 (no series, no gauge) is unknown instead.
import { describe, expect, it } from 'vitest';
import { HoldOnMissingData, missingTrafficFields, UPSTREAM_MISSING_LOAD_GAUGE } from '../../../src/scaling/extensions/hold-on-missing-data.js';
import { stubConfig } from '../../helpers/analyticProfile.js';

const busy = { num_req: 1800, isl: 3000, osl: 300, ttft: 150, itl: 20, request_duration: 6 };

describe('HoldOnMissingData', () => {
  it('exists by default; off restores upstream', () => {
    expect(HoldOnMissingData.fromConfig(stubConfig({}))).toBeInstanceOf(HoldOnMissingData);
    expect(HoldOnMissingData.fromConfig(stubConfig({ hold_on_missing_data: false }))).toBeUndefined();
  });

  it('turns the 0 Prometheus gives for a field with no series into unobserved, for the count and duration only', () => {
    const ext = new HoldOnMissingData();
    const zeros = { ...busy, num_req: 0, request_duration: 0, isl: 0 };
    expect(ext.unobserved(zeros, ['num_req', 'request_duration', 'isl'])).toEqual({ ...zeros, num_req: null, request_duration: null });
    expect(ext.unobserved(busy, [])).toEqual(busy);
  });

  it('holds when the request count or duration is missing, or a duration is 0 while requests were counted', () => {
    const ext = new HoldOnMissingData();
    expect(ext.check(busy, busy)).toBeUndefined();
    expect(ext.check({ ...busy, num_req: null }, busy)).toEqual({ code: 'hold_missing_data', observed: busy, missing: ['num_req'] });
    expect(missingTrafficFields({ ...busy, request_duration: 0 })).toEqual(['request_duration']);
    expect(missingTrafficFields({ ...busy, num_req: 0, request_duration: 0 })).toEqual([]);
    expect(missingTrafficFields({ ...busy, request_duration: Infinity })).toEqual(['request_duration']);
  });

  it('reads a missing load gauge as unknown (NaN) where upstream reads an idle 0', () => {
    expect(new HoldOnMissingData().missingLoadGauge).toBeNaN();
    expect(UPSTREAM_MISSING_LOAD_GAUGE).toBe(0);
  });
});
