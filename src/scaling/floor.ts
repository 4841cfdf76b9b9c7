// The throughput floor of load scaling (both scaling modes on, as the original): each throughput
// plan becomes the count a load step may not go under, instead of a scaling call.
import { POOLS, type Plan, type ReplicaCounts } from './decision.js';

export class ThroughputFloor {
  /** The original starts both floors at 1 whatever min_endpoint is; min_endpoint is applied after. */
  private readonly floor: ReplicaCounts = { prefill: 1, decode: 1 };

  get bound(): ReplicaCounts {
    return { ...this.floor };
  }

  /** The managed pools' planned counts become the floor. */
  set(plan: Plan): void {
    for (const pool of POOLS) {
      const count = plan[pool];
      if (count !== undefined) this.floor[pool] = count.replicas;
    }
  }

  /** A load plan raised to the floor where it is below it. */
  raise(plan: Plan): Plan {
    const out: Plan = {};
    for (const pool of POOLS) {
      const now = plan[pool];
      if (now !== undefined) out[pool] = this.floor[pool] > now.replicas ? { replicas: this.floor[pool], binding: 'throughput_floor' } : now;
    }
    return out;
  }
}
