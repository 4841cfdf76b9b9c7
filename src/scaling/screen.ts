// Stage "screen the observation": what a tick may learn from. A load tick screens the router's
// gauges; a throughput tick runs two tests, in this order:
// - implausible: a value no deployment produces (negative, a unit error, a hostile answer, a
//   prompt orders of magnitude longer than anything profiled). It is held before the predictors or
//   any learned state see it, since one such value would steer every later forecast.
// - invalid (the original's test): TTFT, ITL, ISL or OSL not observed, e.g. an idle 0/0 window.
//   The predictors have already seen the interval then, as upstream feeds them first.
import type { PlannerConfig } from '../config/schema.js';
import type { DecodeInterpolator, PrefillInterpolator } from '../profile-data/types.js';
import type { ImplausibleObservation, ObservedTraffic, Pool, ReplicaCounts } from './decision.js';
import type { IntervalObservation, RouterSnapshot } from './observation.js';

/** Arrival rate beyond any deployment (the largest public services serve tens of thousands per second). */
export const MAX_REQUESTS_PER_S = 1e6;
/** A TTFT or request longer than a day is a unit error or a broken exporter, not a slow engine. */
export const MAX_TTFT_MS = 86_400_000;
export const MAX_REQUEST_DURATION_S = 86_400;
/** One token per hour is not serving. */
export const MAX_ITL_MS = 3_600_000;
/** A mean prompt or answer this many times the profile's longest is off by orders of magnitude. */
export const PROFILE_RANGE_FACTOR = 100;
/** Longest plausible mean ISL/OSL without profile data (no model has a context this long). */
export const MAX_TOKENS_WITHOUT_PROFILE = 1e8;
/** Tokens in flight or KV blocks held by one engine beyond any GPU's memory. */
export const MAX_WORKER_LOAD = 1e8;
/** KV-cache usage is a fraction of the cache; a little over 1 is rounding. */
export const MAX_KV_USAGE = 1.5;
/** A cumulative counter past this has wrapped or is garbage. */
export const MAX_COUNTER = 1e15;
/** More replicas of one pool than any cluster runs; also bounds the queueing model's loops. */
export const MAX_POOL_REPLICAS = 100_000;

const TRAFFIC_FIELDS = ['num_req', 'isl', 'osl', 'ttft', 'itl', 'request_duration'] as const;
type TrafficField = (typeof TRAFFIC_FIELDS)[number];

export interface ScreenLimits {
  /** Highest plausible value of each traffic field, with the rule in words. */
  upper: Record<TrafficField, { max: number; rule: string }>;
  /** The pools whose current counts are checked (the managed ones). */
  pools: readonly Pool[];
  /** Highest plausible value of each router gauge (latencies in seconds, as the router exports them). */
  gauges: Record<RouterGauge, { max: number; rule: string }>;
}

const ROUTER_GAUGES = [
  'active_prefill_tokens', 'last_ttft', 'last_isl', 'active_decode_blocks', 'last_itl',
  'kv_total_blocks', 'kv_usage', 'num_requests_waiting', 'preemptions_total',
] as const;
type RouterGauge = (typeof ROUTER_GAUGES)[number];

/** Built once from the config and the profile (none when throughput scaling is off). */
export function screenLimits(
  config: PlannerConfig,
  pools: readonly Pool[],
  profile?: { prefill: PrefillInterpolator; decode: DecodeInterpolator },
): ScreenLimits {
  const intervalS = config.throughput_adjustment_interval;
  const tokens = (profiled: number | undefined, what: string) =>
    profiled === undefined
      ? { max: MAX_TOKENS_WITHOUT_PROFILE, rule: `must be at most ${MAX_TOKENS_WITHOUT_PROFILE} tokens` }
      : { max: PROFILE_RANGE_FACTOR * profiled, rule: `must be at most ${PROFILE_RANGE_FACTOR * profiled} tokens (${PROFILE_RANGE_FACTOR}x ${what})` };
  return {
    upper: {
      num_req: { max: MAX_REQUESTS_PER_S * intervalS, rule: `must be at most ${MAX_REQUESTS_PER_S} requests/s over the ${intervalS}-s interval` },
      isl: tokens(profile?.prefill.maxIsl, "the profile's longest prompt"),
      // A context is isl + osl/2, so an answer is bounded by twice the longest profiled context.
      osl: tokens(profile && 2 * profile.decode.maxContextLength, "twice the profile's longest context"),
      ttft: { max: MAX_TTFT_MS, rule: `must be at most ${MAX_TTFT_MS} ms (a day)` },
      itl: { max: MAX_ITL_MS, rule: `must be at most ${MAX_ITL_MS} ms (an hour)` },
      request_duration: { max: MAX_REQUEST_DURATION_S, rule: `must be at most ${MAX_REQUEST_DURATION_S} s (a day)` },
    },
    pools,
    gauges: {
      active_prefill_tokens: { max: MAX_WORKER_LOAD, rule: `must be at most ${MAX_WORKER_LOAD} tokens per worker` },
      active_decode_blocks: { max: MAX_WORKER_LOAD, rule: `must be at most ${MAX_WORKER_LOAD} KV blocks per worker` },
      last_ttft: { max: MAX_TTFT_MS / 1000, rule: `must be at most ${MAX_TTFT_MS / 1000} s (a day)` },
      last_itl: { max: MAX_ITL_MS / 1000, rule: `must be at most ${MAX_ITL_MS / 1000} s (an hour)` },
      last_isl: tokens(profile?.prefill.maxIsl, "the profile's longest prompt"),
      kv_total_blocks: { max: MAX_WORKER_LOAD, rule: `must be at most ${MAX_WORKER_LOAD} KV blocks per worker` },
      // vLLM reports a fraction; a percentage (0-100) is a unit error that would read as a cache 50x over full.
      kv_usage: { max: MAX_KV_USAGE, rule: `must be a fraction of at most ${MAX_KV_USAGE} (not a percentage)` },
      num_requests_waiting: { max: MAX_WORKER_LOAD, rule: `must be at most ${MAX_WORKER_LOAD} requests per worker` },
      preemptions_total: { max: MAX_COUNTER, rule: `must be at most ${MAX_COUNTER}` },
    },
  };
}

/**
 * The first implausible value of the observation or of the managed pools' current counts, or
 * undefined. NaN and +Infinity are not implausible here: they mean "not observed" (an idle 0/0
 * window, a sum over a zero count), which the validity test and hold_on_missing_data handle.
 */
export function screenObservation(obs: IntervalObservation, current: ReplicaCounts, limits: ScreenLimits): ImplausibleObservation | undefined {
  for (const field of TRAFFIC_FIELDS) {
    const value = obs[field];
    if (typeof value !== 'number' || Number.isNaN(value) || value === Infinity) continue;
    if (value < 0) return { code: 'hold_implausible_observation', field, value, rule: 'must be >= 0' };
    const { max, rule } = limits.upper[field];
    if (value > max) return { code: 'hold_implausible_observation', field, value, rule };
  }
  for (const pool of limits.pools) {
    const value = current[pool];
    if (!(Number.isInteger(value) && value >= 0 && value <= MAX_POOL_REPLICAS)) {
      return { code: 'hold_implausible_observation', field: `current_${pool}`, value, rule: `must be a whole number of workers from 0 to ${MAX_POOL_REPLICAS}` };
    }
  }
  return undefined;
}

/**
 * The first implausible gauge of the buffered router scrapes (a negative load would vote every
 * worker idle and scale the pool down), or undefined. Non-finite gauges never get this far.
 */
export function screenRouterSamples(samples: readonly RouterSnapshot[], limits: ScreenLimits): ImplausibleObservation | undefined {
  for (const snapshot of samples) {
    for (const pool of ['prefill', 'decode'] as const) {
      for (const [id, gauges] of Object.entries(snapshot[pool] ?? {})) {
        for (const key of ROUTER_GAUGES) {
          const value = (gauges as Partial<Record<RouterGauge, number>>)[key];
          if (typeof value !== 'number' || !(value < 0 || value > limits.gauges[key].max)) continue;
          // Named only on a hold: a load tick screens every gauge of every scrape.
          const field = `router.${pool}["${id}"].${key}`;
          return { code: 'hold_implausible_observation', field, value, rule: value < 0 ? 'must be >= 0' : limits.gauges[key].rule };
        }
      }
    }
  }
  return undefined;
}

/**
 * The original's validity test: TTFT, ITL, ISL and OSL all observed (an idle 0/0 window is NaN);
 * we also reject +Inf. Returns the fields that fail it (none = valid).
 */
export function missingLatencyAndShape(obs: IntervalObservation): Array<'ttft' | 'itl' | 'isl' | 'osl'> {
  return (['ttft', 'itl', 'isl', 'osl'] as const).filter((k) => !isObserved(obs[k]));
}

/** NaN (idle 0/0) and ±Inf (a sum over a zero count) both mean "no usable average". */
export function isObserved(v: number | null | undefined): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/** A valid interval in the units the learning stages use. */
export interface ObservedInterval {
  numReq: number;
  isl: number;
  osl: number;
  ttftMs: number;
  itlMs: number;
  requestDurationS: number;
}

/** An interval that passed both tests; an unobserved count or duration reads 0, as upstream. */
export function observedInterval(obs: IntervalObservation): ObservedInterval {
  return {
    numReq: obs.num_req ?? 0,
    isl: obs.isl as number,
    osl: obs.osl as number,
    ttftMs: obs.ttft as number,
    itlMs: obs.itl as number,
    requestDurationS: obs.request_duration ?? 0,
  };
}

/** The interval's traffic fields only, for decision reasons. */
export function trafficOf(obs: IntervalObservation): ObservedTraffic {
  const { router: _router, router_samples: _samples, isl_histogram: _isl, osl_histogram: _osl, ttft_histogram: _ttft, ...traffic } = obs;
  return traffic;
}
