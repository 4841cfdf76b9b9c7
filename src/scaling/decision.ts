// The decision vocabulary: what a tick returns and every word it may use to say why. Bindings name
// the rule that set a pool's count; hold codes name why a tick made no scaling call. Both are
// closed unions so the compiler checks that every stage uses a known word and that every binding
// is ranked.
import type { IntervalObservation } from './observation.js';
import type { LoadStep, StepCode } from './load.js';
import type { KvDecodeBinding } from './kv-decode.js';
import type { LengthShape } from './moments.js';
import type { QueueBinding } from './queueing.js';

export type Pool = 'prefill' | 'decode';
export const POOLS = ['prefill', 'decode'] as const satisfies readonly Pool[];

export interface ReplicaCounts {
  prefill: number;
  decode: number;
}

/** Replicas per pool; null = the mode does not manage that pool. */
export interface PlannedCounts {
  prefill: number | null;
  decode: number | null;
}

export interface PredictedLoad {
  num_req: number;
  isl: number;
  osl: number;
}

/** The rule that set a pool's count, from the sizing formula to the GPU budget. */
export type Binding =
  /** The forecast demand over the profiled capacity. */
  | 'demand'
  /** min_endpoint raised the demand count. */
  | 'min_endpoint'
  /** The profile offers no capacity at the forecast (the original falls back to min_endpoint). */
  | 'no_capacity'
  /** prefill_sizing queueing asked for more than the throughput formula. */
  | 'sla_queueing'
  /** scale_down_window kept a count planned in a recent interval. */
  | 'scale_down_window'
  /** A load-scaling step (±1). */
  | 'load'
  /** decode_sizing kv: the resident KV (with its margin) needed more decode replicas than the ITL target. */
  | 'kv_cache'
  /** load_scaling_rule saturation: a saturated pool scaled out in proportion to its overload. */
  | 'saturation'
  /** ttft_feedback: prefill raised because recent intervals missed the TTFT target too often. */
  | 'ttft_feedback'
  /** prefill_burst_sizing: prefill raised to the standing count the recent bursts of queued prompts need. */
  | 'prefill_burst'
  /** load_scaling_rule saturation: a pool saturated since the last throughput tick is not scaled down. */
  | 'saturation_hold'
  /** The throughput plan floored a load step. */
  | 'throughput_floor'
  /** max_gpu_budget shrank the targets. */
  | 'gpu_budget'
  /** max_gpu_budget is below min_endpoint replicas per pool: the budget wins, pools at 0. */
  | 'gpu_budget_below_min_endpoint';

/** Which binding outranks which when a decision reports one word for both pools. */
export const BINDING_RANK: Record<Binding, number> = {
  gpu_budget_below_min_endpoint: 6,
  gpu_budget: 5,
  throughput_floor: 4,
  no_capacity: 3,
  min_endpoint: 2,
  load: 1,
  kv_cache: 1,
  saturation: 1,
  ttft_feedback: 1,
  prefill_burst: 1,
  saturation_hold: 1,
  sla_queueing: 1,
  scale_down_window: 1,
  demand: 0,
};

/** The highest-ranked of the pools' bindings ('demand' when none); the first wins a tie. */
export function strongest(bindings: PoolBindings): Binding {
  let best: Binding = 'demand';
  for (const b of [bindings.prefill, bindings.decode]) if (b !== undefined && BINDING_RANK[b] > BINDING_RANK[best]) best = b;
  return best;
}

export type PoolBindings = Partial<Record<Pool, Binding>>;

/** One pool's count and the rule that set it: what every sizing stage returns. */
export interface PoolCount {
  replicas: number;
  binding: Binding;
}

/** The managed pools' counts at one stage of a throughput decision (an unmanaged pool is absent). */
export type Plan = Partial<Record<Pool, PoolCount>>;

/**
 * Why a tick made no scaling call. `hold_*` codes refuse this tick's data; the others say there
 * was nothing to change (or the option is off).
 */
export type HoldCode =
  | 'throughput_scaling_disabled'
  | 'load_scaling_disabled'
  | 'hold_implausible_observation'
  | 'hold_invalid_metrics'
  | 'hold_missing_data'
  | 'hold_correction_failed'
  | 'hold_predict_failed'
  | 'hold_plan_failed'
  | 'worker_count_mismatch'
  /** load_scaling_rule saturation: no pool is saturated beyond what is ready or starting. */
  | 'not_saturated'
  | Exclude<StepCode, 'scale_up' | 'scale_down'>;

/** Every code a decision reason may carry. */
export type DecisionCode = HoldCode | 'scale' | 'set_lower_bound' | 'load_scale' | 'scale_down_capped_by_throughput';

/** Per-pool sizing figures a throughput decision reports (tokens/s and tokens/s/GPU). */
export interface SizingDetail {
  prefill_demand_tok_s?: number;
  prefill_thpt_per_gpu?: number;
  decode_demand_tok_s?: number;
  decode_thpt_per_gpu?: number;
  /** agg: GPUs each phase needs at its profiled rate (they add up on one engine). */
  agg_gpus?: { prefill: number; decode: number };
  /** prefill_sizing queueing: the queueing model's answer. */
  prefill_queueing?: QueueingDetail;
  /** forecast_quantile: the multiplier applied to the request-count forecast. */
  forecast_multiplier?: number;
  /** decode_sizing kv: the KV-aware model's answer. */
  decode_kv?: KvDecodeDetail;
  /** ttft_feedback: what the last interval's TTFT histogram showed. */
  ttft_feedback?: TtftFeedbackDetail;
  /** prefill_burst_sizing: the standing prefill count the window's bursts need. */
  prefill_burst?: PrefillBurstDetail;
}

/** What bound prefill_burst_sizing's count: no burst queued past one replica's slack, the miss share, or the budget. */
export type PrefillBurstBinding = 'no_burst' | 'burst_size' | 'burst_budget';

export interface PrefillBurstDetail {
  /** Most replicas any group (cold_start_s of scrapes) of burst_memory_s needed to keep its late prompt tokens within the allowed share. */
  replicas: number;
  binding: PrefillBurstBinding;
  /** Groups the count is the most of, the open one included. */
  groups: number;
  /** Seconds since the group that set the count closed (0: the open group). */
  age_s: number;
}

export interface TtftFeedbackDetail {
  /** Share of the interval's requests over the TTFT target that could have met it. */
  miss_share: number;
  /** Share over the target in the TTFT histogram. */
  over_target_share: number;
  /** Share of prompts too long to meet the target even alone (ISL histogram). */
  infeasible_share: number;
  /** Fewest prefill replicas while the misses last (0 = none). */
  floor_replicas: number;
  /** Whether the router showed every prefill worker queued past the TTFT slack in the interval (a raise needs it). */
  queueing_seen: boolean;
}

export interface KvDecodeDetail {
  /** The model's count (before the peak floor). */
  replicas: number;
  binding: KvDecodeBinding;
  /** Most resident KV (tokens) a router scrape showed over burst_memory_s (0 without scrapes). */
  peak_kv_tokens: number;
  /** Replicas that hold that peak under saturation_kv_usage. */
  peak_replicas: number;
  /** Mean resident KV (tokens) at `replicas`. */
  resident_kv_tokens: number;
  resident_kv_sd_tokens: number;
  /** Residence-weighted context E[osl·(isl + osl/2)] / E[osl], tokens. */
  context_tokens: number;
  itl_ms: number;
  concurrency_per_replica: number;
  /** Planned KV fill (mean + margin) at `replicas`. */
  kv_usage: number;
  /** E[X²]/E[X]², E[X³]/E[X]³ of the lengths in use. */
  isl_shape: LengthShape;
  osl_shape: LengthShape;
  /** Observed over modelled resident KV (the router's gauges against the model), applied to the context. */
  kv_correction: number;
}

/** What the saturation rule read per pool on a load tick. */
export type SaturationReport = Partial<Record<Pool, PoolSaturation>>;

export interface PoolSaturation {
  saturated: boolean;
  /** Replicas the observed load needs (decode: blocks over the planned fill; prefill: queue over the TTFT slack). */
  needed: number;
  ready: number;
  /** Replicas asked for and not ready yet (counted, so one overload is answered once). */
  starting: number;
  [figure: string]: number | string | boolean;
}

export interface QueueingDetail {
  replicas: number;
  binding: QueueBinding;
  offered_erlangs: number;
  predicted_ttft_ms: number;
  predicted_miss_fraction: number;
  burstiness: number;
}

/** The steps of the load rule, by phase (agg reports both for its one pool). */
export type LoadSteps = Partial<Record<Pool, LoadStep>>;

/** The traffic fields of an observation (router gauges are bulky and explained by the load reasons). */
export type ObservedTraffic = Omit<IntervalObservation, 'router' | 'router_samples' | 'isl_histogram' | 'osl_histogram' | 'ttft_histogram'>;

interface ThroughputPlanned {
  observed: ObservedTraffic;
  predicted: PredictedLoad;
  correction_factor: { prefill: number; decode: number };
  planned: PlannedCounts;
  sizing: SizingDetail;
  binding: Binding;
  bindings: PoolBindings;
  warnings?: string[];
}

interface LoadPlanned {
  /** The upstream rule's steps (empty under load_scaling_rule saturation). */
  load: LoadSteps;
  /** load_scaling_rule saturation: what it read. */
  saturation?: SaturationReport;
  /** The throughput floor in force (both scaling modes on). */
  lower_bound?: ReplicaCounts;
  binding: Binding;
  bindings: PoolBindings;
  warnings?: string[];
}

export type DecisionReason =
  | ({ code: 'scale' } & ThroughputPlanned)
  | ({ code: 'set_lower_bound'; lower_bound: ReplicaCounts } & ThroughputPlanned)
  | ({ code: 'load_scale' | 'scale_down_capped_by_throughput' } & LoadPlanned)
  | { code: 'throughput_scaling_disabled'; observed: ObservedTraffic }
  | { code: 'load_scaling_disabled' }
  | ImplausibleObservation
  | { code: 'hold_invalid_metrics' | 'hold_missing_data'; observed: ObservedTraffic; missing: string[] }
  | { code: 'hold_correction_failed'; observed: ObservedTraffic; correction_factor: { prefill: number; decode: number } }
  | { code: 'hold_predict_failed'; observed: ObservedTraffic }
  | { code: 'hold_plan_failed'; observed: ObservedTraffic; predicted: PredictedLoad; planned: PlannedCounts; pools: Pool[]; sizing: SizingDetail }
  | { code: 'worker_count_mismatch'; mismatch: { pool: Pool; router: number; workers: number } }
  | { code: 'not_saturated'; saturation: SaturationReport }
  | { code: Exclude<StepCode, 'scale_up' | 'scale_down'>; load: LoadSteps };

/** A value no deployment can produce (a broken exporter, a unit error, a hostile answer). */
export interface ImplausibleObservation {
  code: 'hold_implausible_observation';
  /** The observation field (or current_prefill / current_decode). */
  field: string;
  /** The value as received (JSON writes NaN as null). */
  value: number;
  /** The rule it broke, in words, e.g. "must be >= 0". */
  rule: string;
}

export interface Decision {
  /** Target replicas; null = pool not managed in this mode. */
  prefill: number | null;
  decode: number | null;
  /** false = hold, make no scaling call. */
  decided: boolean;
  reason: DecisionReason;
}

/** A tick's plan when it planned one (throughput plans, set_lower_bound and a failed plan). */
export function plannedOf(reason: DecisionReason): PlannedCounts | undefined {
  return 'planned' in reason ? reason.planned : undefined;
}

/** The forecast a throughput tick sized for, when it got that far. */
export function predictedOf(reason: DecisionReason): PredictedLoad | undefined {
  return 'predicted' in reason ? reason.predicted : undefined;
}

/** A load hold says why when every phase agrees (e.g. all still learning), else 'no_change'. */
export function loadHoldCode(steps: LoadSteps): Exclude<StepCode, 'scale_up' | 'scale_down'> {
  const codes = [steps.prefill?.code, steps.decode?.code].filter((c) => c !== undefined);
  const first = codes[0];
  if (first !== undefined && first !== 'scale_up' && first !== 'scale_down' && codes.every((c) => c === first)) return first;
  return 'no_change';
}

export interface PlannerState {
  /** Throughput floor of load scaling ({1, 1} until the first throughput plan). */
  lowerBound: ReplicaCounts;
  correctionFactor: { prefill: number; decode: number };
  lastPredicted?: PredictedLoad;
  gpuHours: number;
  /** Ticks without a scaling call, by code (set_lower_bound included). */
  holds: Partial<Record<DecisionCode, number>>;
  /** prefill_sizing queueing: the burstiness B in use. */
  prefillBurstiness?: number;
  /** forecast_quantile: the multiplier applied to the request-count forecast. */
  forecastMultiplier?: number;
}
