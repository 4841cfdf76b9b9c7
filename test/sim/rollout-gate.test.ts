// during_rollout drop in the simulator: a decision that changes the targets while a replica is still
// starting is dropped, as the DGD's Ready gate (or the virtual acknowledgement) drops it in the daemon.
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/index.js';
import { PlannerPolicy, RolloutGate, type PlannerLike } from '../../src/sim/policies.js';
import type { Decision } from '../../src/scaling/decision.js';
import type { IntervalObservation } from '../../src/scaling/observation.js';
import type { PolicyContext, PoolCounts } from '../../src/sim/types.js';

const ctx = (ready: PoolCounts, target: PoolCounts): PolicyContext => ({ nowS: 0, ready, target, metrics: { window: null } as unknown as PolicyContext['metrics'] });
const obs = {} as IntervalObservation;

/** A planner that answers each call with the next planned counts and counts its calls. */
function scripted(answers: [number, number][]) {
  const calls = { throughput: 0, load: 0, notTaken: 0 };
  const next = (): Decision => {
    const [p, d] = answers.shift()!;
    return { decided: true, prefill: p, decode: d, reason: { code: 'load_scale' } as Decision['reason'] };
  };
  const planner: PlannerLike = {
    decideThroughput: () => { calls.throughput++; return next(); },
    decideLoad: () => { calls.load++; return next(); },
    state: () => ({}),
    notTaken: () => { calls.notTaken++; },
  };
  return { planner, calls };
}

describe('RolloutGate (during_rollout drop)', () => {
  it('drops a changing decision while a replica starts, passes an unchanged one, admits once settled', () => {
    const gate = new RolloutGate(true, false);
    // 1 prefill ready, 2 asked for: rolling out.
    expect(gate.admit({ prefill: 3, decode: 1 }, ctx({ prefill: 1, decode: 1 }, { prefill: 2, decode: 1 }), 'throughput')).toBeNull();
    expect(gate.dropped).toBe(1);
    // Asking for what is already asked for writes nothing, so nothing is dropped.
    expect(gate.admit({ prefill: 2, decode: 1 }, ctx({ prefill: 1, decode: 1 }, { prefill: 2, decode: 1 }), 'throughput')).toEqual({ prefill: 2, decode: 1 });
    expect(gate.dropped).toBe(1);
    expect(gate.admit({ prefill: 3, decode: 1 }, ctx({ prefill: 2, decode: 1 }, { prefill: 2, decode: 1 }), 'throughput')).toEqual({ prefill: 3, decode: 1 });
    // An unmanaged pool (null) is no change.
    expect(gate.admit({ prefill: null, decode: 2 }, ctx({ prefill: 0, decode: 1 }, { prefill: 0, decode: 2 }), 'throughput')).toEqual({ prefill: null, decode: 2 });
    expect(gate.dropped).toBe(1);
  });

  it('the regression load loop skips its ticks until its own rollout is done; the saturation loop keeps ticking', async () => {
    const config = resolveConfig({ enable_load_scaling: true, load_predictor: 'constant' }).config;
    expect(config.during_rollout).toBe('drop');
    const { planner, calls } = scripted([[1, 2], [1, 3], [2, 3]]);
    const policy = new PlannerPolicy(planner, config);
    expect(policy.rolloutGate).toBeDefined();
    expect(policy.onLoadTick!([], ctx({ prefill: 1, decode: 1 }, { prefill: 1, decode: 1 }))).toMatchObject({ prefill: 1, decode: 2 });
    // Decode 2 is starting: the loop is blocked, the planner is not even asked.
    expect(policy.onLoadTick!([], ctx({ prefill: 1, decode: 1 }, { prefill: 1, decode: 2 }))).toBeNull();
    expect(calls.load).toBe(1);
    // Ready: the loop runs again.
    expect(policy.onLoadTick!([], ctx({ prefill: 1, decode: 2 }, { prefill: 1, decode: 2 }))).toMatchObject({ decode: 3 });
    expect(calls.load).toBe(2);
    // A throughput decision during the load loop's rollout is dropped.
    expect(policy.onInterval!(obs, ctx({ prefill: 1, decode: 2 }, { prefill: 1, decode: 3 }))).toBeNull();
    expect(policy.rolloutGate!.dropped).toBe(1);
    expect(policy.summaryExtras()).toEqual({ dropped_during_rollout: 1 });
    // The planner is told, as the daemon tells it on not_ready / pending_ack.
    expect(calls.notTaken).toBe(1);

    const sat = resolveConfig({ enable_load_scaling: true, load_scaling_rule: 'saturation', load_predictor: 'constant' }).config;
    const s = scripted([[1, 2], [1, 3]]);
    const satPolicy = new PlannerPolicy(s.planner, sat);
    satPolicy.onLoadTick!([], ctx({ prefill: 1, decode: 1 }, { prefill: 1, decode: 1 }));
    expect(satPolicy.onLoadTick!([], ctx({ prefill: 1, decode: 1 }, { prefill: 1, decode: 2 }))).toBeNull();
    expect(s.calls.load).toBe(2);
  });

  it('during_rollout write with the regression load loop: nothing is dropped, but the load loop still waits for its own rollout', () => {
    const config = resolveConfig({ enable_load_scaling: true, load_predictor: 'constant', during_rollout: 'write' }).config;
    const { planner, calls } = scripted([[1, 2], [2, 2], [1, 3]]);
    const policy = new PlannerPolicy(planner, config);
    expect(policy.onLoadTick!([], ctx({ prefill: 1, decode: 1 }, { prefill: 1, decode: 1 }))).toMatchObject({ decode: 2 });
    expect(policy.onLoadTick!([], ctx({ prefill: 1, decode: 1 }, { prefill: 1, decode: 2 }))).toBeNull();
    expect(calls.load).toBe(1);
    // A throughput decision during that rollout is written.
    expect(policy.onInterval!(obs, ctx({ prefill: 1, decode: 1 }, { prefill: 1, decode: 2 }))).toMatchObject({ prefill: 2, decode: 2 });
    expect(policy.summaryExtras()).toEqual({ dropped_during_rollout: 0 });
  });

  it('strategy sla writes during a rollout: no gate at all', () => {
    const config = resolveConfig({ strategy: 'sla' }).config;
    expect(config.during_rollout).toBe('write');
    const { planner } = scripted([[3, 1]]);
    const policy = new PlannerPolicy(planner, config);
    expect(policy.rolloutGate).toBeUndefined();
    expect(policy.summaryExtras()).toEqual({});
    expect(policy.onInterval!(obs, ctx({ prefill: 1, decode: 1 }, { prefill: 2, decode: 1 }))).toMatchObject({ prefill: 3, decode: 1 });
  });
});
