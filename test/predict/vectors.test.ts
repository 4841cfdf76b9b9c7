// The original's own forecasts (reference vectors): the `predicted` field of each interval in
// example-*.expected.jsonl, produced by feeding each observation then asking for the next value.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { plannerConfigSchema, type PredictorKind } from '../../src/config/schema.js';
import { createPredictor } from '../../src/predict/index.js';

const DIR = 'test/fixtures/vectors/decisions';
const SERIES = ['num_req', 'isl', 'osl'] as const;

interface Observation { num_req?: number | null; isl?: number | null; osl?: number | null }

for (const name of ['example-throughput_kalman_budget', 'example-throughput_disagg', 'example-load_and_throughput_disagg']) {
  describe(`reference forecasts: ${name}`, () => {
    const input = JSON.parse(readFileSync(`${DIR}/${name}.input.json`, 'utf8')) as {
      config: Record<string, unknown>;
      observations: Observation[];
    };
    const expected = readFileSync(`${DIR}/${name}.expected.jsonl`, 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as { predicted?: { prefill?: Record<string, number>; decode?: Record<string, number> } });
    const config = plannerConfigSchema.parse(input.config);
    const kind = config.load_predictor as PredictorKind;

    it(`${kind} matches every forecast to 1e-9 relative`, () => {
      const predictors = Object.fromEntries(SERIES.map((s) => [s, createPredictor(kind, config)]));
      let compared = 0;
      input.observations.forEach((obs, i) => {
        for (const s of SERIES) predictors[s].observe(obs[s] ?? 0);
        const want = expected[i]?.predicted?.decode ?? expected[i]?.predicted?.prefill;
        if (!want) return;
        for (const s of SERIES) {
          expect(predictors[s].predict()).toBeCloseTo(want[s], Math.max(0, 9 - Math.ceil(Math.log10(Math.abs(want[s]) + 1))));
          compared++;
        }
      });
      expect(compared).toBeGreaterThanOrEqual(6);
    });
  });
}
