// monotone_decode_search (sla-planner extension). The original's decode search takes the first
// cell under the ITL target scanning KV usage downward; since interpolated ITL is not monotone in
// KV usage, a looser target can then return a lower throughput. This search takes the highest
// throughput among all cells of the row under the target, so a looser target never lowers capacity,
// and falls back to the original's answer when no cell does better.
import type { PlannerConfig } from '../../config/schema.js';
import type { DecodeBest, DecodeInterpolator } from '../../profile-data/types.js';
import type { DecodeSearch } from '../throughput.js';

/** Grid resolution of the original decode interpolator (KV-usage axis). */
const KV_GRID_POINTS = 100;

export class MonotoneDecodeSearch implements DecodeSearch {
  static fromConfig(config: PlannerConfig): MonotoneDecodeSearch | undefined {
    return config.monotone_decode_search ? new MonotoneDecodeSearch() : undefined;
  }

  best(decode: DecodeInterpolator, itlTargetMs: number, contextLength: number): DecodeBest {
    const first = decode.findBestThroughputPerGpu(itlTargetMs, contextLength);
    if (!(contextLength > 0)) return first;
    let best: DecodeBest | undefined;
    for (let ix = 0; ix < KV_GRID_POINTS; ix++) {
      const kvUsage = ix / (KV_GRID_POINTS - 1);
      // Query the cell through concurrency = kv_usage × max_kv_tokens / context.
      const concurrency = (kvUsage * decode.maxKvTokens) / contextLength;
      const itl = decode.itlMs(concurrency, contextLength);
      if (!(itl <= itlTargetMs)) continue;
      const thpt = decode.thptPerGpu(concurrency, contextLength);
      if (best === undefined || thpt > best.thptPerGpu) best = { thptPerGpu: thpt, itlMs: itl, kvUsage };
    }
    return best !== undefined && best.thptPerGpu > first.thptPerGpu ? best : first;
  }
}
