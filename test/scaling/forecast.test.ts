// Stages "feed the predictors" and "forecast".
import { describe, expect, it } from 'vitest';
import { TrafficForecaster } from '../../src/scaling/forecast.js';
import { fixedPredictor, recordingPredictor, stubConfig } from '../helpers/analyticProfile.js';

describe('TrafficForecaster', () => {
  it('feeds every interval, an unobserved count as 0 and an unobserved ISL/OSL as NaN', () => {
    const p = { numReq: recordingPredictor(), isl: recordingPredictor(), osl: recordingPredictor() };
    const f = new TrafficForecaster(stubConfig({}), p);
    f.observe({ num_req: 120, isl: 3000, osl: 300 });
    f.observe({ num_req: null, isl: null });
    expect([p.numReq.seen, p.isl.seen, p.osl.seen]).toEqual([[120, 0], [3000, NaN], [300, NaN]]);
    expect(f.forecast()).toEqual({ numReq: 0, isl: 3000, osl: 300 });
  });

  it('gives no forecast when any predictor gives a non-finite number', () => {
    const f = new TrafficForecaster(stubConfig({}), { numReq: fixedPredictor(10), isl: fixedPredictor(Infinity), osl: fixedPredictor(5) });
    expect(f.forecast()).toBeUndefined();
  });

  it("builds the config's predictor for each series by default", () => {
    const f = new TrafficForecaster(stubConfig({ load_predictor: 'constant' }));
    f.observe({ num_req: 7, isl: 70, osl: 700 });
    expect(f.forecast()).toEqual({ numReq: 7, isl: 70, osl: 700 });
  });
});
