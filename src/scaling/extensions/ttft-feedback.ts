// ttft_feedback (sla-planner extension; on under strategy sla). Sizing models see interval means;
// bursts of a second or two (code completion, agents) queue prompts far beyond what any mean
// predicts, and a replica asked for when a burst is seen serves a cold start later, when the
// burst is long over. Only capacity already running serves the next burst. So this stage reads
// the outcome itself: the share of the interval's requests over the TTFT target in the frontend's
// TTFT histogram, less the share that would miss it even on an idle engine (prompts whose profiled
// TTFT exceeds the target, from the ISL histogram). When that share is over 1 − prefill_ttft_quantile
// (by more than two binomial standard deviations, so that one unlucky interval does not count),
// prefill may not go below the replicas that served the interval plus one (a quarter more when far
// over): a standing floor, since bursts come whatever the interval's mean rate. The prefill count
// running at the first interval starts as the floor (what the deployment was sized to). The floor stays
// while misses continue and drops one replica after each burst_memory_s without them.
// With load scaling on, an interval raises only if some scrape of it had every prefill worker
// queued past the TTFT slack: misses without such queueing are prompts the histogram estimate
// took as feasible, which more replicas would not help, so the floor cannot run away on them.
import type { PlannerConfig } from '../../config/schema.js';
import type { PrefillInterpolator } from '../../profile-data/types.js';
import type { Plan, TtftFeedbackDetail } from '../decision.js';
import { fractionAbove, histogramCount } from '../moments.js';
import type { IntervalObservation } from '../observation.js';

/** Requests an interval needs before its miss share means anything. */
export const TTFT_FEEDBACK_MIN_REQUESTS = 20;
/** A miss share this many times the allowed one adds a quarter of the pool instead of one replica. */
export const TTFT_FEEDBACK_FAR_OVER = 4;

export interface TtftFeedbackSettings {
  ttftTargetMs: number;
  /** Share of requests allowed over the target (1 − prefill_ttft_quantile). */
  allowedMiss: number;
  memoryS: number;
  intervalS: number;
  /** Prompts longer than this miss the target even alone (Infinity: none does). */
  infeasibleIsl: number;
}

export class TtftFeedback {
  /** Fewest prefill replicas while recent intervals missed (0 = none). */
  private floor = 0;
  private quietS = 0;
  private started = false;
  private last: TtftFeedbackDetail | undefined;

  constructor(private readonly s: TtftFeedbackSettings) {}

  /** Exists when ttft_feedback is on and the mode has a prefill pool (not agg yet). */
  static fromConfig(config: PlannerConfig, prefill: PrefillInterpolator | undefined): TtftFeedback | undefined {
    if (!config.ttft_feedback || prefill === undefined || !(config.mode === 'disagg' || config.mode === 'prefill')) return undefined;
    return new TtftFeedback({
      ttftTargetMs: config.ttft,
      allowedMiss: 1 - config.prefill_ttft_quantile,
      memoryS: config.burst_memory_s,
      intervalS: config.throughput_adjustment_interval,
      infeasibleIsl: infeasibleIsl(prefill, config.ttft),
    });
  }

  get floorReplicas(): number {
    return this.floor;
  }

  /**
   * Read a valid interval's outcome; `servedBy` is the prefill replicas that served it and
   * `queueingSeen` whether the router showed every prefill worker queued past the slack in it.
   */
  learn(obs: IntervalObservation, servedBy: number, queueingSeen: boolean): void {
    if (!this.started) {
      this.started = true;
      this.floor = servedBy;
    }
    const h = obs.ttft_histogram;
    if (h === undefined || histogramCount(h) < TTFT_FEEDBACK_MIN_REQUESTS) {
      this.last = undefined;
      return;
    }
    const over = fractionAbove(h, this.s.ttftTargetMs / 1000);
    const infeasible = obs.isl_histogram !== undefined && Number.isFinite(this.s.infeasibleIsl) ? fractionAbove(obs.isl_histogram, this.s.infeasibleIsl) : 0;
    const miss = Math.max(0, over - (Number.isFinite(infeasible) ? infeasible : 0));
    const a = this.s.allowedMiss;
    const n = histogramCount(h);
    // Over the allowed share by more than two binomial standard deviations: not one unlucky interval.
    if (miss * n > a * n + 2 * Math.sqrt(a * (1 - a) * n)) {
      this.quietS = 0;
      if (queueingSeen) {
        const step = miss > TTFT_FEEDBACK_FAR_OVER * a ? Math.max(1, Math.ceil(0.25 * servedBy)) : 1;
        this.floor = Math.max(this.floor, servedBy + step);
      }
    } else if (miss <= a / 2) {
      this.quietS += this.s.intervalS;
      if (this.quietS >= this.s.memoryS && this.floor > 0) {
        this.floor--;
        this.quietS = 0;
      }
    } else this.quietS = 0;
    this.last = { miss_share: miss, over_target_share: over, infeasible_share: infeasible, floor_replicas: this.floor, queueing_seen: queueingSeen };
  }

  /** The plan with prefill at least at the floor the misses asked for. */
  raise(plan: Plan): { plan: Plan; detail: TtftFeedbackDetail | undefined } {
    const p = plan.prefill;
    const detail = this.last && { ...this.last, floor_replicas: this.floor };
    if (p === undefined || this.floor <= p.replicas) return { plan, detail };
    return { plan: { ...plan, prefill: { replicas: this.floor, binding: 'ttft_feedback' } }, detail };
  }
}

/** The shortest prompt whose idle TTFT misses the target (beyond the profile, linear at its last throughput). */
export function infeasibleIsl(prefill: PrefillInterpolator, ttftTargetMs: number): number {
  const ttft = (isl: number) => (isl <= prefill.maxIsl ? prefill.ttftMs(isl) : (prefill.ttftMs(prefill.maxIsl) * isl) / prefill.maxIsl);
  if (ttft(prefill.minIsl) > ttftTargetMs) return prefill.minIsl;
  let lo = prefill.minIsl;
  let hi = Math.max(prefill.maxIsl, 1);
  // Grow past the target (bounded: prompts beyond 2^40 tokens do not exist).
  for (let i = 0; i < 40 && ttft(hi) <= ttftTargetMs; i++) hi *= 2;
  if (ttft(hi) <= ttftTargetMs) return Infinity;
  for (let i = 0; i < 60 && hi - lo > 1; i++) {
    const mid = (lo + hi) / 2;
    if (ttft(mid) > ttftTargetMs) hi = mid;
    else lo = mid;
  }
  return hi;
}
