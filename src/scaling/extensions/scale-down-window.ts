// scale_down_window (sla-planner extension): a pool goes down only to the highest count planned over
// the last N intervals, as the HPA's scale-down stabilisation does, so a one-interval dip does not
// release a replica that takes a cold start to get back. Scale-up is never delayed.
import type { PlannerConfig } from '../../config/schema.js';
import { POOLS, type Plan, type Pool } from '../decision.js';

export class ScaleDownWindow {
  /** Raw planned counts of the last intervals − 1, newest last. */
  private readonly history: Array<Partial<Record<Pool, number>>> = [];
  private started = false;

  constructor(readonly intervals: number) {}

  /** Exists only when the window spans more than the current interval. */
  static fromConfig(config: PlannerConfig): ScaleDownWindow | undefined {
    return config.scale_down_window > 1 ? new ScaleDownWindow(config.scale_down_window) : undefined;
  }

  /**
   * The plan with each pool raised to its highest recent count; remembers this plan's raw counts.
   * The counts running at the first decision count as planned just before it: they are what the
   * operator sized the deployment to before the planner took over.
   */
  stabilize(plan: Plan, current?: Partial<Record<Pool, number>>): Plan {
    if (!this.started) {
      this.started = true;
      if (current !== undefined && this.intervals > 1) this.history.push({ ...current });
    }
    const out: Plan = {};
    const raw: Partial<Record<Pool, number>> = {};
    for (const pool of POOLS) {
      const now = plan[pool];
      if (now === undefined) continue;
      raw[pool] = now.replicas;
      let held = now.replicas;
      for (const h of this.history) {
        const v = h[pool];
        if (v !== undefined && v > held) held = v;
      }
      out[pool] = held > now.replicas ? { replicas: held, binding: 'scale_down_window' } : now;
    }
    this.history.push(raw);
    while (this.history.length > this.intervals - 1) this.history.shift();
    return out;
  }
}
