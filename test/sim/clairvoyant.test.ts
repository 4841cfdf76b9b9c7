// The clairvoyant reference on a hand-made trace, and its lower bound against policies that serve
// every feasible request. Toy engine: prefill 150 ms, decode step 10 ms.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { resolveConfig } from '../../src/config/index.js';
import { buildClairvoyant } from '../../src/sim/clairvoyant.js';
import { simulate } from '../../src/sim/index.js';
import { staticPolicy } from '../../src/sim/policies.js';
import { toBatches } from '../../src/trace/shape.js';
import type { EngineLatencyModel, TraceRequest } from '../../src/sim/types.js';

const config = resolveConfig({ environment: 'virtual', mode: 'disagg', prefill_engine_num_gpu: 1, decode_engine_num_gpu: 1, ttft: 200, itl: 20, throughput_adjustment_interval: 60, max_gpu_budget: -1, min_endpoint: 1 }).config;
const model: EngineLatencyModel = { prefillMs: () => 150, decodeStepMs: () => 10, maxKvTokens: 1e6 };
const gpus = { prefill: 1, decode: 1 };
const coldStartS = 30;

async function clairvoyant(trace: TraceRequest[]) {
  // The toy engine's flat decode step makes its decode throughput unbounded.
  return buildClairvoyant({ config, model, bestDecodeTokensPerGpuS: () => Infinity, gpusPerReplica: gpus, coldStartS, trace: () => toBatches(trace) });
}

describe('clairvoyant', () => {
  it('asks a cold start ahead for the replicas a burst needs, holds them through its interval, and bounds GPU-hours from below', async () => {
    const trace: TraceRequest[] = [
      { t: 10, isl: 100, osl: 2 },
      // Four prompts at once in interval [60, 120): each needs its own prefill replica to meet 200 ms.
      ...[1, 2, 3, 4].map(() => ({ t: 90, isl: 100, osl: 2 })),
      { t: 200, isl: 100, osl: 2 },
    ];
    const { policy, initial } = await clairvoyant(trace);
    expect(initial).toEqual({ prefill: 1, decode: 1 });
    // Replicas for interval [60, 120) are asked at 60 - 30 = 30 s and released at 120 s.
    expect(policy.nextTimerS!(0)).toBe(30);
    expect(policy.nextTimerS!(30)).toBe(60); // interval 0 leaves the window (no change: it needed 1)
    const { summary } = await simulate(trace, { config, model, policy, initial, gpusPerReplica: gpus, coldStartS });
    expect(summary.sla_attainment).toBe(1);
    // Prefill: 1 GPU for [0, 30), 4 for [30, 120), 1 for [120, 240); decode 1 throughout (240 s).
    expect(summary.gpu_hours).toBeCloseTo((30 + 4 * 90 + 120 + 240) / 3600, 9);
    expect(summary.gpus.max).toBe(5);
    // The bound: within the burst's 0.2-s window, 4 x 0.15 s of prefill need 3 replicas (whole
    // ones, from a cold start before: [60, 91)); min_endpoint elsewhere; decode min_endpoint.
    expect(summary.policy_details.lower_bound_gpu_hours).toBeCloseTo((240 + 2 * 31 + 240) / 3600, 9);
  });

  it('is a lower bound: every static allocation that serves all feasible requests uses at least as many GPU-hours', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ gap: fc.double({ min: 0, max: 20, noNaN: true }), burst: fc.integer({ min: 1, max: 5 }), osl: fc.integer({ min: 1, max: 300 }) }), { minLength: 1, maxLength: 12 }),
        async (rows) => {
          let t = 0;
          const trace: TraceRequest[] = [];
          for (const r of rows) {
            t += r.gap;
            for (let i = 0; i < r.burst; i++) trace.push({ t, isl: 100, osl: r.osl });
          }
          const { policy, initial } = await clairvoyant(trace);
          const cv = await simulate(trace, { config, model, policy, initial, gpusPerReplica: gpus, coldStartS });
          const bound = cv.summary.policy_details.lower_bound_gpu_hours;
          if (cv.summary.feasible_sla_attainment === 1) expect(cv.summary.gpu_hours).toBeGreaterThanOrEqual(bound - 1e-9);
          for (let p = 1; p <= 6; p++) {
            const s = await simulate(trace, { config, model, policy: staticPolicy({ prefill: p, decode: 1 }), initial: { prefill: p, decode: 1 }, gpusPerReplica: gpus, coldStartS });
            if (s.summary.feasible_sla_attainment === 1) {
              expect(s.summary.gpu_hours).toBeGreaterThanOrEqual(bound - 1e-9);
              break;
            }
          }
        },
      ),
      { numRuns: 40, seed: 5 },
    );
  });
});
