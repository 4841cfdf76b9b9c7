// decode_max_kv_usage (sla-planner extension): when the decode cell picked under the ITL target
// fills the KV cache past the cap, plan at the cap instead. By Little's law the KV a pool holds is
// arrivals × tokens held × time held, so at the same ITL the sustainable rate scales with the KV
// fill: cap / kvUsage of the picked cell's throughput (conservative, since ITL only falls with less
// KV in use). A plan at a full cache leaves nothing for the spread of request lengths, and the
// engine then queues or preempts, which users see as ITL.
import type { PlannerConfig } from '../../config/schema.js';
import type { DecodeBest } from '../../profile-data/types.js';
import type { DecodeCapacityLimit } from '../throughput.js';

export class DecodeKvUsageCap implements DecodeCapacityLimit {
  constructor(readonly maxKvUsage: number) {}

  /** Exists only below a full cache (1 = upstream). */
  static fromConfig(config: PlannerConfig): DecodeKvUsageCap | undefined {
    return config.decode_max_kv_usage < 1 ? new DecodeKvUsageCap(config.decode_max_kv_usage) : undefined;
  }

  thptPerGpu(best: DecodeBest): number {
    return best.thptPerGpu * kvHeadroom(best, this.maxKvUsage);
  }
}

/** The factor on the picked cell's throughput: cap / kvUsage when the cell is past the cap, else 1. */
export function kvHeadroom(best: DecodeBest, maxKvUsage: number): number {
  return maxKvUsage < 1 && best.kvUsage > maxKvUsage ? maxKvUsage / best.kvUsage : 1;
}
