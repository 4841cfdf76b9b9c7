// prefill_sizing: queueing (sla-planner extension). Upstream sizes prefill at 100% of the profiled
// throughput; a pool run at utilisation 1 has an unbounded queue, so TTFT misses any target as soon
// as arrivals are not perfectly smooth. This stage asks the M/G/c model of ../queueing.ts for the
// fewest replicas that keep the TTFT target for a chosen fraction of requests, and raises the
// prefill count to it (never lowers it). With prefill_learn_burstiness it also learns the
// model's burstiness B from each observed interval.
import type { PlannerConfig } from '../../config/schema.js';
import type { PrefillInterpolator } from '../../profile-data/types.js';
import type { Plan, QueueingDetail, SizingDetail } from '../decision.js';
import type { Forecast } from '../forecast.js';
import { observedBurstiness, sizeQueueForSla } from '../queueing.js';
import { MAX_POOL_REPLICAS, type ObservedInterval } from '../screen.js';

/** Highest learned burstiness: beyond this the interval is an outage, not a traffic shape. */
export const BURSTINESS_CAP = 100;

export interface QueueingSettings {
  prefill: PrefillInterpolator;
  gpusPerReplica: number;
  intervalS: number;
  ttftTargetMs: number;
  ttftQuantile: number;
  maxUtilization: number;
  /** Prior and floor of B. */
  burstinessPrior: number;
  learnBurstiness: boolean;
  /** Most replicas the search considers (what the budget could ever give prefill, hard-capped). */
  maxReplicas: number;
}

export class QueueingPrefill {
  private b: number;

  constructor(private readonly s: QueueingSettings) {
    this.b = s.burstinessPrior;
  }

  /** Exists when prefill_sizing is queueing and the mode has a prefill pool (not in agg yet). */
  static fromConfig(config: PlannerConfig, prefill: PrefillInterpolator | undefined, gpusPerReplica: number): QueueingPrefill | undefined {
    if (config.prefill_sizing !== 'queueing' || prefill === undefined || !(config.mode === 'disagg' || config.mode === 'prefill')) return undefined;
    const budgetReplicas = config.max_gpu_budget >= 0 ? Math.floor(config.max_gpu_budget / gpusPerReplica) : MAX_POOL_REPLICAS;
    return new QueueingPrefill({
      prefill,
      gpusPerReplica,
      intervalS: config.throughput_adjustment_interval,
      ttftTargetMs: config.ttft,
      ttftQuantile: config.prefill_ttft_quantile,
      maxUtilization: config.prefill_max_utilization,
      burstinessPrior: config.prefill_burstiness,
      learnBurstiness: config.prefill_learn_burstiness,
      maxReplicas: Math.min(budgetReplicas, MAX_POOL_REPLICAS),
    });
  }

  /** The burstiness B in use. */
  get burstiness(): number {
    return this.b;
  }

  /**
   * EWMA (weight 1/2: an interval of a few minutes is one noisy sample, two in a row are a trend)
   * of the burstiness that explains the interval just observed, floored at the configured prior so
   * a quiet interval cannot talk the model into running hot, and capped so one pathological
   * interval (e.g. replicas still warming up) cannot demand the whole budget.
   */
  learn(observed: ObservedInterval, prefillReplicas: number): void {
    if (!this.s.learnBurstiness) return;
    const serviceS = this.serviceS(observed.isl);
    if (!(serviceS > 0)) return;
    const b = observedBurstiness({
      arrivalRatePerS: observed.numReq / this.s.intervalS,
      serviceS,
      replicas: prefillReplicas,
      observedTtftMs: observed.ttftMs,
      idleTtftMs: this.s.prefill.ttftMs(observed.isl),
    });
    if (b === undefined || !Number.isFinite(b)) return;
    this.b = Math.min(BURSTINESS_CAP, Math.max(this.s.burstinessPrior, 0.5 * this.b + 0.5 * b));
  }

  /** The plan with prefill raised to the queueing model's count when that is higher. */
  raise(plan: Plan, sizing: SizingDetail, forecast: Forecast): { plan: Plan; sizing: SizingDetail } {
    const q = this.size(forecast);
    const prefill = plan.prefill;
    const raised = prefill !== undefined && q.replicas > prefill.replicas ? { ...plan, prefill: { replicas: q.replicas, binding: 'sla_queueing' as const } } : plan;
    return { plan: raised, sizing: { ...sizing, prefill_queueing: q } };
  }

  /**
   * Replicas from the M/G/c model at the forecast arrival rate. One replica serves a prompt of the
   * forecast ISL in isl / (thpt_per_gpu × GPUs) seconds, the capacity the throughput formula
   * assumes, so the two counts are directly comparable.
   */
  size(forecast: Forecast): QueueingDetail {
    const q = sizeQueueForSla({
      arrivalRatePerS: Math.max(0, forecast.numReq) / this.s.intervalS,
      serviceS: this.serviceS(forecast.isl),
      idleTtftMs: this.s.prefill.ttftMs(forecast.isl),
      ttftTargetMs: this.s.ttftTargetMs,
      quantile: this.s.ttftQuantile,
      burstiness: this.b,
      maxUtilization: this.s.maxUtilization,
      maxReplicas: this.s.maxReplicas,
    });
    return {
      replicas: q.replicas,
      binding: q.binding,
      offered_erlangs: q.offeredErlangs,
      predicted_ttft_ms: q.predictedTtftMs,
      predicted_miss_fraction: q.predictedMissFraction,
      burstiness: this.b,
    };
  }

  /** Seconds one prefill replica takes for a prompt of `isl` tokens at its profiled rate; NaN without one. */
  private serviceS(isl: number): number {
    const replicaTokensPerS = this.s.prefill.thptPerGpu(isl) * this.s.gpusPerReplica;
    return replicaTokensPerS > 0 && isl > 0 ? isl / replicaTokensPerS : NaN;
  }
}
