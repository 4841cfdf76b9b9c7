// Shapes shared by the simulator's engine, policies, driver and report.
import type { IntervalObservation, RouterSnapshot } from '../scaling/observation.js';
import type { WorkerGauges } from './engine.js';
import type { FrontendSnapshot, FrontendWindow } from './metrics.js';

/** One request of a trace (and a batch of them): defined once, next to the readers that produce them. */
export type { TraceBatch, TraceRequest } from '../trace/read.js';

export interface PoolCounts {
  prefill: number;
  decode: number;
}

/** What a policy asks for; a null or missing pool keeps its current target. */
export interface PoolTargets {
  prefill?: number | null;
  decode?: number | null;
  /** Why, in a few words (the planner's decision code and binding), for the report's annotations. */
  reason?: string;
}

/** One change of a pool's target replicas, with the reason the policy gave. */
export interface ScaleEvent {
  t_s: number;
  pool: 'prefill' | 'decode';
  from: number;
  to: number;
  reason: string;
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

/** Every worker's gauges at one Prometheus scrape. */
export interface WorkerScrape {
  t_s: number;
  workers: WorkerGauges[];
}

/** What production Prometheus would hold about the simulated deployment, as a policy may read it. */
export interface SimMetricsView {
  /** The frontend's cumulative counters and histograms now. */
  frontend(): FrontendSnapshot;
  /** increase() of the frontend series over the throughput interval that just ended (onInterval only; else null). */
  readonly window: FrontendWindow | null;
  /** Every ready or draining worker's gauges now (the router's and the engine's). */
  workers(): WorkerGauges[];
  /** Gauge scrapes every `scrapeIntervalS` over the interval that just ended (onInterval, when the policy sets scrapeIntervalS). */
  readonly scrapes: readonly WorkerScrape[];
  /** Frontend and worker series as Prometheus text (what /metrics would serve now). */
  prometheusText(): string;
}

export interface PolicyContext {
  nowS: number;
  /** Ready, non-draining replicas (what the planner's worker count reads). */
  ready: PoolCounts;
  /** Current targets (ready + starting). */
  target: PoolCounts;
  metrics: SimMetricsView;
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
  /** Collect every worker's gauges this often (s) for `metrics.scrapes` (Prometheus's scrape interval); unset = none. */
  readonly scrapeIntervalS?: number;
  /** The first time after `nowS` at which the policy wants onTimer (Infinity = never): actions at times of its choosing. */
  nextTimerS?(nowS: number): number;
  onTimer?(ctx: PolicyContext): PoolTargets | null;
  /** Forecast of the next interval's request count, for the timeline (NaN when none). */
  forecastNumReq?(): number;
  /** Extra figures for the summary (snake_case keys), e.g. answers clamped to the budget. */
  summaryExtras?(): Record<string, number>;
  close?(): Promise<void>;
}

export interface Percentiles {
  mean: number | null;
  p50: number | null;
  p90: number | null;
  p99: number | null;
}

/** Requests no allocation can serve within the SLA: alone on idle engines they miss a target, or never fit. */
export interface InfeasibleCounts {
  requests: number;
  /** Prefill alone takes longer than the TTFT target. */
  ttft: number;
  /** Decoding alone, the mean step is above the ITL target. */
  itl: number;
  /** Larger than one engine's KV cache (rejected). */
  kv: number;
}

export interface SimSummary {
  policy: string;
  mode: string;
  requests: number;
  completed: number;
  sla_attainment: number;
  /** Attainment over the feasible requests only (1 when none is feasible). */
  feasible_sla_attainment: number;
  ttft_attainment: number;
  itl_attainment: number;
  infeasible: InfeasibleCounts;
  ttft_ms: Percentiles;
  itl_ms: Percentiles;
  gpu_hours: number;
  gpus: { mean: number; max: number };
  scale_up: number;
  scale_down: number;
  dropped: number;
  unfinished: number;
  /** Most requests in flight at once (queued, prefilling or decoding). */
  peak_in_flight: number;
  /** Decode preemptions (KV cache full), all workers. */
  preemptions: number;
  /** Targets cut: to the GPU budget (exec answers) or to the simulator's replica limit. */
  clamped_targets: number;
  /** Idle throughput intervals jumped over without calling the policy (long gaps in the trace). */
  idle_intervals_skipped: number;
  simulated_s: number;
  sla: { ttft_ms: number; itl_ms: number };
  /** Figures particular to the policy (e.g. the clairvoyant's lower bound); {} when none. */
  policy_details: Record<string, number>;
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
  /** 99th percentile TTFT / per-request mean ITL of the requests finishing in the interval (NaN when none). */
  ttft_p99_ms: number;
  itl_p99_ms: number;
  sla_attainment: number;
}
