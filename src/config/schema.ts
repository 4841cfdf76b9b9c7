// The PlannerConfig schema: every field of the original planner's PlannerConfig (the generation
// with interpolators, correction factors and router-gauge load scaling), with the same snake_case
// names, types and defaults, plus a few sla-planner extensions that are off by default.
//
// Field descriptions live here so the README's config reference is generated from the schema and
// cannot drift from it (see src/config/reference.ts).
import { z } from 'zod';

export const DEFAULT_PROMETHEUS_ENDPOINT =
  'http://prometheus-kube-prometheus-prometheus.monitoring.svc.cluster.local:9090';

export const MODES = ['disagg', 'prefill', 'decode', 'agg'] as const;
export const BACKENDS = ['vllm', 'sglang', 'trtllm', 'mocker'] as const;
export const ENVIRONMENTS = ['kubernetes', 'virtual', 'global-planner'] as const;
export const PREDICTORS = ['constant', 'arima', 'kalman', 'prophet'] as const;
export const SWEEPING_MODES = ['none', 'rapid', 'thorough'] as const;
export const METRICS_SOURCES = ['frontend', 'router'] as const;
export const PREFILL_SIZINGS = ['throughput', 'queueing'] as const;
export const NUM_REQ_SOURCES = ['finished', 'started'] as const;
export const PLANNER_METRIC_NAMES = ['both', 'planner', 'dynamo_planner'] as const;
export const STRATEGIES = ['upstream', 'sla'] as const;
export const DECODE_SIZINGS = ['throughput', 'kv'] as const;
export const LOAD_SCALING_RULES = ['regression', 'saturation'] as const;
export const DURING_ROLLOUT = ['drop', 'write'] as const;

export type Mode = (typeof MODES)[number];
export type Backend = (typeof BACKENDS)[number];
export type Environment = (typeof ENVIRONMENTS)[number];
export type PredictorKind = (typeof PREDICTORS)[number];

const int = () => z.number().int();
// Only http(s): both URLs are fetched over HTTP, and a bare "host:9090" would otherwise parse as
// a URL with scheme "host:".
const httpUrl = () => z.url({ protocol: /^https?$/ });

/**
 * The raw schema. Env-derived defaults (namespace, Prometheus endpoint, reporting port) are not
 * zod defaults: they are filled by `resolveEnvDefaults` in load.ts so that an explicit key in the
 * file wins over the environment, as upstream does.
 */
export const plannerConfigSchema = z.object({
  strategy: z.enum(STRATEGIES).default('upstream')
    .describe('upstream: every option at the original planner\'s behaviour (a Dynamo config behaves as in Dynamo). sla: sla-planner\'s SLA-first set, chosen in the simulator (see "strategy: sla" in the README); keys set in the file still win over it.'),
  // --- core ---
  environment: z.enum(ENVIRONMENTS).default('kubernetes')
    .describe('Where replica decisions go: a DynamoGraphDeployment (kubernetes), etcd keys for an external environment (virtual), or a global planner (global-planner).'),
  namespace: z.string().min(1).optional()
    .describe('Dynamo namespace of the deployment; filters Prometheus series by their dynamo_namespace label. Default: env DYN_NAMESPACE, else "dynamo".'),
  backend: z.enum(BACKENDS).default('vllm')
    .describe('Serving backend; picks the legacy Kubernetes service names used when services carry no subComponentType.'),
  mode: z.enum(MODES).default('disagg')
    .describe('disagg: prefill and decode pools; prefill or decode: one pool only; agg: one pool serving both phases (scaled as the decode component).'),
  model_name: z.string().nullable().default(null)
    .describe('Model name used to filter frontend metrics (case-insensitive). Auto-detected from the DGD in kubernetes.'),
  global_planner_namespace: z.string().nullable().default(null)
    .describe('Dynamo namespace of the global planner; required when environment is global-planner.'),
  no_operation: z.boolean().default(false)
    .describe('Decide and log, but never scale (dry run).'),
  log_dir: z.string().nullable().default(null)
    .describe('Directory for a copy of the decision log (JSON lines); null = stdout only.'),

  // --- SLA and throughput scaling ---
  pre_deployment_sweeping_mode: z.enum(SWEEPING_MODES).nullable().default('rapid')
    .describe('How the profile data was produced (none, rapid, thorough). Throughput scaling needs profile data, so "none" is rejected when it is on.'),
  enable_throughput_scaling: z.boolean().default(true)
    .describe('Predictive scaling every throughput_adjustment_interval from forecast load and profile data.'),
  enable_load_scaling: z.boolean().default(false)
    .describe('Reactive scaling every load_adjustment_interval from per-worker router gauges and an online latency regression.'),
  throughput_adjustment_interval: int().positive().default(180)
    .describe('Seconds between throughput-scaling decisions; also the Prometheus query window.'),
  max_gpu_budget: int().default(8)
    .describe('Most GPUs the managed pools may use together; a negative value disables the budget.'),
  min_endpoint: int().nonnegative().default(1)
    .describe('Fewest replicas per managed pool.'),
  prefill_engine_num_gpu: int().positive().nullable().default(null)
    .describe('GPUs per prefill replica. Read from the DGD in kubernetes; required elsewhere.'),
  decode_engine_num_gpu: int().positive().nullable().default(null)
    .describe('GPUs per decode replica. Read from the DGD in kubernetes; required elsewhere.'),
  profile_results_dir: z.string().min(1).default('profiling_results')
    .describe('Directory with the profiler output: selected_{prefill,decode}_interpolation/raw_data.npz, or the planner-profile-data ConfigMap mounted as a directory.'),
  ttft: z.number().positive().default(500.0)
    .describe('Time-to-first-token target, ms.'),
  itl: z.number().positive().default(50.0)
    .describe('Inter-token latency target, ms.'),
  no_correction: z.boolean().default(true)
    .describe('Disable the correction factors (observed vs profiled TTFT/ITL). Forced true when load scaling is on.'),
  throughput_metrics_source: z.enum(METRICS_SOURCES).default('frontend')
    .describe('Read traffic from the frontend histograms (frontend) or the router histograms (router).'),

  // --- predictors ---
  load_predictor: z.enum(PREDICTORS).default('arima')
    .describe('Forecaster for request count, ISL and OSL of the next interval: constant, arima, kalman, or prophet (a seasonal model stands in for Prophet).'),
  load_predictor_log1p: z.boolean().default(false)
    .describe('Forecast in log1p space and map back (never negative).'),
  prophet_window_size: int().positive().default(50)
    .describe('Points (intervals) of history the prophet/seasonal predictor keeps.'),
  load_predictor_warmup_trace: z.string().nullable().default(null)
    .describe('Trace file (JSONL {t,isl,osl} or Mooncake, optionally gzip) that pre-fills the predictors before live data.'),
  kalman_q_level: z.number().nonnegative().default(1.0)
    .describe('Kalman process noise of the level.'),
  kalman_q_trend: z.number().nonnegative().default(0.1)
    .describe('Kalman process noise of the trend.'),
  kalman_r: z.number().nonnegative().default(10.0)
    .describe('Kalman measurement noise.'),
  kalman_min_points: int().nonnegative().default(5)
    .describe('Points before the Kalman forecast is used (stored but not enforced upstream; see README).'),

  // --- metrics ---
  metric_pulling_prometheus_endpoint: httpUrl().optional()
    .describe('Prometheus base URL for traffic queries. Default: env PROMETHEUS_ENDPOINT, else the kube-prometheus in-cluster URL.'),
  metric_reporting_prometheus_port: int().min(0).max(65535).optional()
    .describe('Port of the planner\'s own /metrics; 0 disables it. Default: env PLANNER_PROMETHEUS_PORT, else 0.'),

  metric_pulling_prometheus_ssl_verify: z.boolean().default(false)
    .describe('Verify the TLS certificate of an https Prometheus. Off by default because the original queries with verification off; turn it on in production (with metric_pulling_prometheus_ca_bundle for a private CA).'),
  metric_pulling_prometheus_ca_bundle: z.string().min(1).nullable().default(null)
    .describe('PEM file of CA certificates trusted for an https Prometheus; setting it turns verification on.'),
  metric_pulling_prometheus_token_file: z.string().min(1).nullable().default(null)
    .describe('File holding a bearer token sent to Prometheus (e.g. a service-account token for an OpenShift or Thanos querier); read at every query, so a rotated token applies at once.'),

  // --- load scaling ---
  load_router_metrics_url: httpUrl().nullable().default(null)
    .describe('URL of the frontend/router /metrics with per-worker gauges. Auto-discovered in kubernetes; required elsewhere when load scaling is on.'),
  load_adjustment_interval: int().positive().default(5)
    .describe('Seconds between load-scaling decisions; must be shorter than throughput_adjustment_interval when both are on.'),
  load_learning_window: int().positive().default(50)
    .describe('Observations kept per pool for the latency-vs-load regression.'),
  load_scaling_down_sensitivity: int().min(0).max(100).default(80)
    .describe('0 = never scale down, 100 = scale down as soon as N-1 workers would fit under the SLA.'),
  load_metric_samples: int().positive().default(10)
    .describe('Router scrapes per load interval kept for a decision.'),
  load_min_observations: int().positive().default(5)
    .describe('Observations before the regression is used.'),

  // --- sla-planner extensions (off by default: upstream behaviour unless set) ---
  prefill_correction_can_scale_up: z.boolean().default(false)
    .describe('sla-planner extension: let a prefill correction factor above 1 (queueing) add prefill replicas; upstream caps it at 1.'),
  monotone_decode_search: z.boolean().default(false)
    .describe('sla-planner extension: pick the highest decode throughput among grid cells under the ITL target instead of the first from the top.'),
  hold_on_missing_data: z.boolean().default(true)
    .describe('sla-planner: never scale down on an interval whose observations are missing or invalid, nor on a load tick where a worker\'s load gauge is missing; hold and count it. false = upstream (missing reads 0).'),
  prefill_sizing: z.enum(PREFILL_SIZINGS).default('throughput')
    .describe('sla-planner extension. throughput (upstream): prefill replicas = forecast input tokens/s / profiled tokens/s, i.e. 100% utilisation. queueing: the fewest replicas whose predicted TTFT (M/G/c queueing wait, Allen-Cunneen, + profiled TTFT) meets ttft for prefill_ttft_quantile of requests, never fewer than the throughput count.'),
  prefill_ttft_quantile: z.number().gt(0).lt(1).default(0.95)
    .describe('sla-planner extension (prefill_sizing queueing): fraction of requests whose TTFT the queueing model must keep under ttft.'),
  prefill_max_utilization: z.number().gt(0).lt(1).default(0.9)
    .describe('sla-planner extension (prefill_sizing queueing): highest planned prefill utilisation (forecast load / capacity), whatever the queueing model says.'),
  prefill_burstiness: z.number().positive().default(1.0)
    .describe('sla-planner extension (prefill_sizing queueing): prior and floor of the burstiness B = (ca^2 + cs^2)/2 of the queueing model; 1 = Poisson arrivals with exponential prefill times.'),
  prefill_learn_burstiness: z.boolean().default(true)
    .describe('sla-planner extension (prefill_sizing queueing): learn B from each interval as observed queueing delay (observed TTFT - profiled TTFT) over the M/M/c prediction at the observed load (EWMA, floored at prefill_burstiness).'),
  decode_max_kv_usage: z.number().gt(0).max(1).default(1.0)
    .describe('sla-planner extension: highest KV-cache fill decode is planned at; when the point picked under the ITL target is fuller, its throughput is scaled by cap / fill. 1 = upstream.'),
  num_req_source: z.enum(NUM_REQ_SOURCES).default('finished')
    .describe('What the request count of an interval counts. finished (upstream): dynamo_frontend_requests_total, so a saturated pool reports its own capacity. started (newer upstream): arrivals, from dynamo_frontend_requests_started_total, falling back to requests_total when that series is absent.'),
  forecast_quantile: z.number().gt(0).lt(1).nullable().default(null)
    .describe('sla-planner extension: size for this quantile of the request-count forecast instead of its mean, using the recent ratios observed / forecast (null = the mean, upstream).'),
  forecast_error_window: int().min(2).default(20)
    .describe('sla-planner extension: intervals of observed / forecast ratios kept for forecast_quantile.'),
  scale_down_window: int().positive().default(1)
    .describe('sla-planner extension: a throughput decision may not go below the highest count planned over this many intervals (scale-up is immediate); 1 = upstream.'),
  decode_sizing: z.enum(DECODE_SIZINGS).default('throughput')
    .describe('sla-planner extension. throughput (upstream): decode replicas = forecast output tokens/s / the best profiled tokens/s under itl at context isl + osl/2. kv: the fewest replicas whose resident KV (Little\'s law over each request\'s residence, with decode_kv_quantile of margin for the requests in flight; length moments from the frontend\'s ISL/OSL histograms) stays under decode_max_kv_usage of their KV cache, with ITL read at the residence-weighted context and the per-engine concurrency; never fewer than the ITL target needs.'),
  decode_kv_quantile: z.number().gt(0).lt(1).default(0.99)
    .describe('sla-planner extension (decode_sizing kv): probability that the resident KV stays under decode_max_kv_usage of the pool at the forecast rate (normal approximation of its M/G/inf spread).'),
  load_scaling_rule: z.enum(LOAD_SCALING_RULES).default('regression')
    .describe('sla-planner extension (load scaling). regression (upstream): +-1 steps from an online regression of latency on per-worker load. saturation: a pool whose KV usage is over saturation_kv_usage (or whose engines report preemptions, or requests waiting in every scrape of the tick), or whose queued prompt tokens cannot be prefilled within the TTFT slack, scales out at once to what that load needs, counting replicas still starting; a load tick never scales down, and throughput ticks set the counts (they do not scale down a pool saturated since the previous tick).'),
  saturation_kv_usage: z.number().gt(0).max(1).default(0.9)
    .describe('sla-planner extension (load_scaling_rule saturation): KV usage of a decode pool (the router\'s active blocks over the engines\' capacity) over which it is saturated.'),
  ttft_feedback: z.boolean().default(false)
    .describe('sla-planner extension: when the share of an interval\'s requests over ttft (the frontend\'s TTFT histogram, less the prompts too long to meet it on an idle engine) exceeds 1 - prefill_ttft_quantile, keep prefill at least at the replicas that served the interval plus one (a quarter more when far over), until burst_memory_s pass without misses; the prefill count at the first interval starts as that floor. Serves bursts shorter than a cold start, which only capacity already running can.'),
  prefill_burst_sizing: z.boolean().default(false)
    .describe('sla-planner extension (needs load scaling and the frontend\'s dynamo_frontend_requests_started_total on load_router_metrics_url): standing prefill replicas for bursts of prompts shorter than a cold start. Each router scrape\'s arrivals times the mean ISL are its prompt tokens; for each cold_start_s of scrapes, the fewest replicas whose prefill backlog (half of each scrape interval\'s tokens taken to arrive at once) leaves at most prefill_burst_miss_share of the tokens waiting past ttft - idle TTFT; prefill is kept at the most of these over burst_memory_s, and the load loop raises it at once.'),
  prefill_burst_miss_share: z.number().gt(0).lt(1).default(0.01)
    .describe('sla-planner extension (prefill_burst_sizing): share of a cold start\'s prompt tokens its bursts may leave waiting past the TTFT slack.'),
  burst_memory_s: int().nonnegative().default(1800)
    .describe('sla-planner extension: seconds the capacity a burst needed is kept: ttft_feedback drops one prefill replica of its floor after this long without misses; decode_sizing kv keeps enough decode for the most KV any router scrape showed over this long (under saturation_kv_usage).'),
  during_rollout: z.enum(DURING_ROLLOUT).default('drop')
    .describe('sla-planner extension: a decision made while the previous one is still rolling out (DGD not Ready; virtual: decision not yet acknowledged). drop (upstream): skipped. write: written anyway, the newest target replacing the one in flight, so a burst during a cold start still scales out. Either way the regression load loop waits for the rollouts it starts.'),
  cold_start_s: int().positive().default(60)
    .describe('sla-planner extension (load_scaling_rule saturation): seconds from asking for a replica to its serving; replicas asked for within 3x this count as starting, so an overload is answered once.'),

  // --- sla-planner: what the daemon reports about itself ---
  planner_metric_names: z.enum(PLANNER_METRIC_NAMES).default('both')
    .describe('Names of the planner gauges on /metrics: planner (the pinned planner:* names), dynamo_planner (the newer dynamo_planner_* names) or both.'),
  kubernetes_events: z.boolean().default(true)
    .describe('kubernetes: record an events.k8s.io/v1 Event on the DGD for each scaling, each hold episode and each failed write (repeats aggregated into a series); needs create and patch on events. Never in a dry run.'),
  dgd_decision_annotation: z.boolean().default(true)
    .describe('kubernetes: write the last decision (loop, targets, reason, binding) to the DGD annotation sla-planner.io/last-decision whenever it changes. Never in a dry run.'),
});

export type PlannerConfigInput = z.input<typeof plannerConfigSchema>;

/**
 * What `strategy: sla` sets, for every key the config file leaves out: the set the simulator
 * shows to hold the SLA at the fewest GPU-hours (README, "strategy: sla").
 */
export const SLA_STRATEGY = {
  load_predictor: 'kalman',
  prefill_sizing: 'queueing',
  prefill_ttft_quantile: 0.98,
  num_req_source: 'started',
  scale_down_window: 3,
  decode_sizing: 'kv',
  decode_max_kv_usage: 0.85,
  enable_load_scaling: true,
  load_scaling_rule: 'saturation',
  ttft_feedback: true,
  during_rollout: 'write',
} as const satisfies Partial<PlannerConfigInput>;

/** The effective config after env defaults and derived rules: every field present. */
export type PlannerConfig = Omit<
  z.output<typeof plannerConfigSchema>,
  'namespace' | 'metric_pulling_prometheus_endpoint' | 'metric_reporting_prometheus_port'
> & {
  namespace: string;
  metric_pulling_prometheus_endpoint: string;
  metric_reporting_prometheus_port: number;
};

export const CONFIG_KEYS = Object.keys(plannerConfigSchema.shape) as (keyof PlannerConfig)[];

/**
 * The upstream PlannerConfig fields in the order `model_dump_json()` writes them (the
 * planner-config ConfigMap). The effective config is printed in this order, then our extensions,
 * so a diff against an upstream dump lines up.
 */
export const UPSTREAM_CONFIG_KEYS = [
  'pre_deployment_sweeping_mode', 'environment', 'namespace', 'backend', 'mode', 'no_operation',
  'log_dir', 'throughput_adjustment_interval', 'max_gpu_budget', 'min_endpoint',
  'decode_engine_num_gpu', 'prefill_engine_num_gpu', 'profile_results_dir', 'ttft', 'itl',
  'load_predictor', 'load_predictor_log1p', 'prophet_window_size', 'load_predictor_warmup_trace',
  'kalman_q_level', 'kalman_q_trend', 'kalman_r', 'kalman_min_points',
  'metric_pulling_prometheus_endpoint', 'metric_reporting_prometheus_port',
  'throughput_metrics_source', 'no_correction', 'model_name', 'global_planner_namespace',
  'enable_throughput_scaling', 'enable_load_scaling', 'load_router_metrics_url',
  'load_adjustment_interval', 'load_learning_window', 'load_scaling_down_sensitivity',
  'load_metric_samples', 'load_min_observations',
] as const satisfies readonly (keyof PlannerConfig)[];

/** Fields that only sla-planner has (all default to upstream behaviour or a safe hold). */
export const EXTENSION_CONFIG_KEYS = CONFIG_KEYS.filter(
  (key) => !(UPSTREAM_CONFIG_KEYS as readonly string[]).includes(key),
);

/**
 * Names other upstream generations use for our fields. The pinned planner ignores these keys
 * (unknown keys pass silently there); we read them, with a warning, because a user who wrote
 * `ttft_ms: 200` meant a 200 ms target, not the 500 ms default.
 */
export const KEY_ALIASES: Readonly<Record<string, { canonical: keyof PlannerConfig; from: string }>> = {
  throughput_adjustment_interval_seconds: { canonical: 'throughput_adjustment_interval', from: 'newer upstream (Gen C)' },
  load_adjustment_interval_seconds: { canonical: 'load_adjustment_interval', from: 'newer upstream (Gen C)' },
  ttft_ms: { canonical: 'ttft', from: 'newer upstream (Gen C)' },
  itl_ms: { canonical: 'itl', from: 'newer upstream (Gen C)' },
  adjustment_interval: { canonical: 'throughput_adjustment_interval', from: 'older upstream (before the load/throughput rename)' },
  enable_loadbased_scaling: { canonical: 'enable_load_scaling', from: 'older upstream (before the load/throughput rename)' },
  loadbased_router_metrics_url: { canonical: 'load_router_metrics_url', from: 'older upstream (before the load/throughput rename)' },
  loadbased_adjustment_interval: { canonical: 'load_adjustment_interval', from: 'older upstream (before the load/throughput rename)' },
  loadbased_learning_window: { canonical: 'load_learning_window', from: 'older upstream (before the load/throughput rename)' },
  loadbased_scaling_down_sensitivity: { canonical: 'load_scaling_down_sensitivity', from: 'older upstream (before the load/throughput rename)' },
  loadbased_metric_samples: { canonical: 'load_metric_samples', from: 'older upstream (before the load/throughput rename)' },
  loadbased_min_observations: { canonical: 'load_min_observations', from: 'older upstream (before the load/throughput rename)' },
};
