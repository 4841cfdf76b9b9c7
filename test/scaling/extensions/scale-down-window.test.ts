// scale_down_window: a pool goes down only to the highest count planned over the last N intervals.
import { describe, expect, it } from 'vitest';
import { ScaleDownWindow } from '../../../src/scaling/extensions/scale-down-window.js';
import { Planner } from '../../../src/scaling/planner.js';
import { fixedPredictor, sequencePredictor } from '../../helpers/analyticProfile.js';
import { h100Config, h100Profiles } from '../../helpers/h100.js';

const count = (replicas: number) => ({ replicas, binding: 'demand' as const });

describe('ScaleDownWindow', () => {
  it('exists only for a window longer than one interval', () => {
    expect(ScaleDownWindow.fromConfig(h100Config({}))).toBeUndefined();
    expect(ScaleDownWindow.fromConfig(h100Config({ scale_down_window: 3 }))?.intervals).toBe(3);
  });

  it('holds each pool at its highest count of the window, says so, and forgets older plans', () => {
    const window = new ScaleDownWindow(3);
    expect(window.stabilize({ prefill: count(5), decode: count(2) })).toEqual({ prefill: count(5), decode: count(2) });
    expect(window.stabilize({ prefill: count(1), decode: count(4) })).toEqual({ prefill: { replicas: 5, binding: 'scale_down_window' }, decode: count(4) });
    expect(window.stabilize({ prefill: count(1), decode: count(1) })).toEqual({ prefill: { replicas: 5, binding: 'scale_down_window' }, decode: { replicas: 4, binding: 'scale_down_window' } });
    // The 5 is three plans old now: out of a window of 3.
    expect(window.stabilize({ prefill: count(2), decode: count(1) })).toEqual({ prefill: count(2), decode: { replicas: 4, binding: 'scale_down_window' } });
    // One pool only (agg): the other stays absent.
    expect(new ScaleDownWindow(2).stabilize({ decode: count(3) })).toEqual({ decode: count(3) });
  });

  it('in the planner: holds the highest count of the last N intervals; scale-up is immediate', () => {
    const loads = [40_000, 1_000, 1_000, 1_000, 60_000];
    const obs = { num_req: 1000, isl: 2000, osl: 200, ttft: 60, itl: 10, request_duration: 5 };
    const run = (window: number) => {
      const planner = new Planner({
        config: h100Config({ scale_down_window: window }), interpolators: h100Profiles[0],
        predictors: { numReq: sequencePredictor(loads), isl: fixedPredictor(2000), osl: fixedPredictor(200) },
      });
      return loads.map(() => planner.decideThroughput(obs, { prefill: 1, decode: 1 }).prefill as number);
    };
    const upstream = run(1);
    const held = run(3);
    expect(upstream[0]).toBeGreaterThan(upstream[1]);
    // Intervals 2 and 3 still see interval 1's count within a window of 3; interval 4 does not.
    expect(held.slice(0, 3)).toEqual([upstream[0], upstream[0], upstream[0]]);
    expect(held[3]).toBe(upstream[3]);
    expect(held[4]).toBe(upstream[4]);
  });
});
