// The throughput floor of load scaling.
import { describe, expect, it } from 'vitest';
import { ThroughputFloor } from '../../src/scaling/floor.js';

describe('ThroughputFloor', () => {
  it('starts at 1 per pool, takes each planned count, and raises a load step below it', () => {
    const floor = new ThroughputFloor();
    expect(floor.bound).toEqual({ prefill: 1, decode: 1 });
    floor.set({ decode: { replicas: 6, binding: 'demand' } });
    expect(floor.bound).toEqual({ prefill: 1, decode: 6 });
    expect(floor.raise({ prefill: { replicas: 3, binding: 'load' }, decode: { replicas: 5, binding: 'load' } })).toEqual({
      prefill: { replicas: 3, binding: 'load' },
      decode: { replicas: 6, binding: 'throughput_floor' },
    });
    // The bound is a copy: callers cannot move the floor.
    floor.bound.decode = 0;
    expect(floor.bound.decode).toBe(6);
  });
});
