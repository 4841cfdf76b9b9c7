// monotone_decode_search: the best decode cell under the ITL target, not the first from the top.
import { describe, expect, it } from 'vitest';
import type { DecodeInterpolator } from '../../../src/profile-data/types.js';
import { MonotoneDecodeSearch } from '../../../src/scaling/extensions/monotone-decode-search.js';
import { Planner } from '../../../src/scaling/planner.js';
import { fixedPredictors } from '../../helpers/analyticProfile.js';
import { h100Config, h100Profiles } from '../../helpers/h100.js';

// A row whose ITL dips at high KV usage: the top cell passes a loose target with low throughput.
const row = (ix: number) => ({ itl: ix >= 90 ? 10 : 5 + ix * 0.2, thpt: ix >= 90 ? 100 : 50 + ix * 10 });
const cell = (conc: number, ctx: number) => Math.round(((conc * ctx) / 1000) * 99);
const bumpy: DecodeInterpolator = {
  maxKvTokens: 1000,
  maxContextLength: 100,
  itlMs: (c, ctx) => row(cell(c, ctx)).itl,
  thptPerGpu: (c, ctx) => row(cell(c, ctx)).thpt,
  findBestThroughputPerGpu(target) {
    for (let ix = 99; ix >= 0; ix--) if (row(ix).itl <= target) return { thptPerGpu: row(ix).thpt, itlMs: row(ix).itl, kvUsage: ix / 99 };
    return { thptPerGpu: row(0).thpt, itlMs: row(0).itl, kvUsage: 0 };
  },
};

describe('MonotoneDecodeSearch', () => {
  it('exists only when the option is on', () => {
    expect(MonotoneDecodeSearch.fromConfig(h100Config({}))).toBeUndefined();
    expect(MonotoneDecodeSearch.fromConfig(h100Config({ monotone_decode_search: true }))).toBeInstanceOf(MonotoneDecodeSearch);
  });

  it('picks the best cell under the target where the original takes the first from the top', () => {
    expect(bumpy.findBestThroughputPerGpu(20, 50).thptPerGpu).toBe(100);
    // Cells 0..75 have ITL <= 20; cell 75 has throughput 800 > 100.
    expect(new MonotoneDecodeSearch().best(bumpy, 20, 50)).toMatchObject({ thptPerGpu: 800, itlMs: 20 });
    // No context to search: the original's answer.
    expect(new MonotoneDecodeSearch().best(bumpy, 20, 0).thptPerGpu).toBe(100);
  });

  it('in the planner: never more decode replicas than the original search gives', () => {
    const obs = { num_req: 1000, isl: 2000, osl: 200, ttft: 60, itl: 10, request_duration: 5 };
    for (const itl of [8, 12, 20, 30, 45]) {
      const run = (monotone: boolean) =>
        new Planner({ config: h100Config({ itl, monotone_decode_search: monotone }), interpolators: h100Profiles[1], predictors: fixedPredictors(50_000, 2000, 200) })
          .decideThroughput(obs, { prefill: 1, decode: 1 }).decode as number;
      expect(run(true), `itl ${itl}`).toBeLessThanOrEqual(run(false));
    }
  });
});
