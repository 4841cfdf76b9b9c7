// The simulator against the H100 measurements: a static deployment at a fixed request rate must
// show the TTFT and ITL the profile predicts at that load (within 10%).
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/index.js';
import { loadInterpolators, runSimulation } from '../../src/sim/index.js';
import { seededRandom } from '../../src/util/random.js';
import type { TraceRequest } from '../../src/sim/types.js';

const PROFILE = 'test/fixtures/h100/llama-3.1-8b/npz';
const MAX_KV_TOKENS = 400018; // fixtures/h100/llama-3.1-8b.json

const config = resolveConfig({
  environment: 'virtual',
  mode: 'disagg',
  prefill_engine_num_gpu: 1,
  decode_engine_num_gpu: 1,
  ttft: 500,
  itl: 50,
  throughput_adjustment_interval: 60,
}).config;

function* evenly(rps: number, durationS: number, isl: number, osl: number): Generator<TraceRequest> {
  for (let t = 0; t < durationS; t += 1 / rps) yield { t, isl, osl };
}

const interpolators = loadInterpolators(PROFILE);

describe('simulate: validation against the H100 profile', () => {
  // A measured decode point: context 2048, KV usage 0.4966 -> ITL 16.651 ms (decode_raw_data.json).
  // isl 1024 + half of 2048 generated tokens = mean context 2048. Little's law: concurrency
  // N = 0.4966 * max_kv / 2048 = 97.0 needs N / (2048 tokens * 16.651 ms) = 2.845 req/s.
  it('decode: ITL at a measured (KV usage, context) point, prefill: TTFT at a measured ISL', async () => {
    const measuredItlMs = 16.65113639831543;
    const concurrency = (0.49661765220565074 * MAX_KV_TOKENS) / 2048;
    const rps = concurrency / (2048 * (measuredItlMs / 1000));
    const { summary } = await runSimulation({ config, interpolators, trace: evenly(rps, 900, 1024, 2049), policy: 'static:1,1' });
    expect(summary.completed).toBeGreaterThan(2000);
    expect(summary.itl_ms.p50! / measuredItlMs).toBeGreaterThan(0.9);
    expect(summary.itl_ms.p50! / measuredItlMs).toBeLessThan(1.1);
    // Measured prefill at ISL 1024: 28.011 ms; evenly spaced arrivals at 8% utilisation never queue.
    expect(summary.ttft_ms.mean! / 28.010656356811523).toBeCloseTo(1, 2);
  });

  // Another row: context 1024, KV usage 0.6988 -> ITL 22.354 ms; isl 512 + 1024/2.
  it('decode: a second measured point at higher KV usage', async () => {
    const measuredItlMs = 22.354047775268555;
    const concurrency = (0.6988485518151684 * MAX_KV_TOKENS) / 1024;
    const rps = concurrency / (1024 * (measuredItlMs / 1000));
    const { summary } = await runSimulation({ config, interpolators, trace: evenly(rps, 400, 512, 1025), policy: 'static:1,1' });
    expect(Math.abs(summary.itl_ms.p50! / measuredItlMs - 1)).toBeLessThan(0.1);
    expect(Math.abs(summary.ttft_ms.mean! / 15.424351692199707 - 1)).toBeLessThan(0.01);
  });

  // Poisson arrivals at 50% prefill utilisation: M/D/1 predicts a mean wait of rho*S/(2(1-rho)),
  // so mean TTFT = 1.5 * S with S = 116.84 ms (measured at ISL 4096).
  it('prefill queueing: Poisson arrivals match the M/D/1 mean TTFT', async () => {
    const serviceMs = 116.83964538574219;
    const rps = 0.5 / (serviceMs / 1000);
    const random = seededRandom(42);
    function* poisson(): Generator<TraceRequest> {
      let t = 0;
      for (let i = 0; i < 20000; i++) {
        t += -Math.log(1 - random()) / rps;
        yield { t, isl: 4096, osl: 2 };
      }
    }
    const { summary } = await runSimulation({ config, interpolators, trace: poisson(), policy: 'static:1,1' });
    expect(Math.abs(summary.ttft_ms.mean! / (1.5 * serviceMs) - 1)).toBeLessThan(0.1);
    // And a second prefill replica removes most of the queueing (M/D/2 at 25%).
    const random2 = seededRandom(42);
    function* poisson2(): Generator<TraceRequest> {
      let t = 0;
      for (let i = 0; i < 20000; i++) {
        t += -Math.log(1 - random2()) / rps;
        yield { t, isl: 4096, osl: 2 };
      }
    }
    const two = await runSimulation({ config, interpolators, trace: poisson2(), policy: 'static:2,1' });
    expect(two.summary.ttft_ms.mean! / serviceMs).toBeLessThan(1.1);
  });
});
