// Shapes shared by the simulator's engine, policies, driver and report.
import type { IntervalObservation, RouterSnapshot } from '../scaling/observation.js';

/** One request of a trace: defined once, next to the readers that produce it. */
export type { TraceRequest } from '../trace/read.js';

export interface PoolCounts {
  prefill: number;
  decode: number;
}

/** What a policy asks for; a null or missing pool keeps its current target. */
export interface PoolTargets {
  prefill?: number | null;
  decode?: number | null;
}

/** The latency model of one engine, from profile data. */
export interface EngineLatencyModel {
  /** Prefill time (ms) of one request of `isl` tokens on an otherwise idle prefill engine. */
  prefillMs(isl: number): number;
  /** Time (ms) of one decode step with `concurrency` requests of mean context `contextTokens`. */
  decodeStepMs(concurrency: number, contextTokens: number): number;
  /** KV capacity of one decode engine, tokens. */
  readonly maxKvTokens: number;
}

/** Utilisation signals an HPA would read (one sync period). */
export interface UtilisationSample {
  /** Busy fraction of ready prefill replicas over the sync period, 0..1 (like GPU utilisation). */
  prefillBusy: number;
  /** Mean KV-cache usage of ready decode replicas at the sync instant, 0..1 (vLLM's gpu_cache_usage_perc). */
  decodeKvUsage: number;
  ready: PoolCounts;
  /** Replicas asked for but not ready yet (cold start). */
  starting: PoolCounts;
}

export interface PolicyContext {
  nowS: number;
  /** Ready, non-draining replicas (what the planner's worker count reads). */
  ready: PoolCounts;
  /** Current targets (ready + starting). */
  target: PoolCounts;
}

/** A scaling policy driven by the simulator. Every hook is optional. */
export interface SimPolicy {
  readonly name: string;
  /** End of each throughput interval (config.throughput_adjustment_interval). */
  onInterval?(obs: IntervalObservation, ctx: PolicyContext): PoolTargets | null | Promise<PoolTargets | null>;
  /** End of each load interval, with the router snapshots of that interval (oldest first). */
  onLoadTick?(samples: RouterSnapshot[], ctx: PolicyContext): PoolTargets | null;
  /** HPA-style sync every `syncPeriodS`. */
  readonly syncPeriodS?: number;
  onSync?(util: UtilisationSample, ctx: PolicyContext): PoolTargets | null;
  /** Whether router snapshots must be collected (costs time; only the load planner needs them). */
  readonly wantsRouterSamples?: boolean;
  /** Forecast of the next interval's request count, for the timeline (NaN when none). */
  forecastNumReq?(): number;
  close?(): Promise<void>;
}

export interface Percentiles {
  mean: number | null;
  p50: number | null;
  p90: number | null;
  p99: number | null;
}

export interface SimSummary {
  policy: string;
  mode: string;
  requests: number;
  completed: number;
  sla_attainment: number;
  ttft_attainment: number;
  itl_attainment: number;
  ttft_ms: Percentiles;
  itl_ms: Percentiles;
  gpu_hours: number;
  gpus: { mean: number; max: number };
  scale_up: number;
  scale_down: number;
  dropped: number;
  unfinished: number;
  simulated_s: number;
  sla: { ttft_ms: number; itl_ms: number };
}

/** One timeline row per throughput interval. */
export interface TimelineRow {
  t_s: number;
  arrivals: number;
  completed: number;
  rps: number;
  forecast_rps: number;
  isl: number;
  osl: number;
  prefill_ready: number;
  decode_ready: number;
  prefill_target: number;
  decode_target: number;
  gpus: number;
  ttft_ms: number;
  itl_ms: number;
  sla_attainment: number;
}
