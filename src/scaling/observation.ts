// What one throughput interval looked like: the input of `decide`, the simulator's view and what
// the daemon reads from Prometheus. Times in ms except requestDuration (s). `undefined` = not
// observed (no series / NaN from an idle 0/0 histogram ratio).
import { InputError } from '../util/errors.js';
import { isPlainObject } from '../util/objects.js';
import { histogramProblem, type HistogramWindow } from './moments.js';
import { MAX_POOL_REPLICAS } from './screen.js';

/**
 * What an engine reports about itself, when the scrape carries it (vLLM's and Dynamo's per-worker
 * series; the router's five gauges are all upstream reads). All optional: a missing one is
 * unknown, never 0.
 */
export interface EngineGauges {
  /** KV blocks one engine holds (its capacity): Dynamo's model_total_kv_blocks or kvstats_total_blocks. */
  kv_total_blocks?: number;
  /** The engine's KV-cache usage, 0..1 (vllm:kv_cache_usage_perc). */
  kv_usage?: number;
  /** Requests the engine's scheduler holds waiting (vllm:num_requests_waiting). */
  num_requests_waiting?: number;
  /** Cumulative preemptions (vllm:num_preemptions_total; resets when the pod restarts). */
  preemptions_total?: number;
}
/** Router gauges of one prefill worker (seconds as the router exports them). */
export interface PrefillWorkerSample extends EngineGauges {
  active_prefill_tokens: number;
  last_ttft: number; // s
  last_isl: number;
}
/** Router gauges of one decode worker. */
export interface DecodeWorkerSample extends EngineGauges {
  active_decode_blocks: number;
  last_itl: number; // s
}
/** One scrape of the router's per-worker gauges, grouped by worker type and worker id. */
export interface RouterSnapshot {
  /** The frontend's dynamo_frontend_requests_started_total at the scrape (+1 per arrival), when it serves it. */
  requests_started_total?: number;
  prefill?: Record<string, PrefillWorkerSample>;
  /** Agg engines are labelled "decode" by the router and also carry the prefill gauges. */
  decode?: Record<string, DecodeWorkerSample & Partial<PrefillWorkerSample>>;
}

/** One line of `decide` input (snake_case, as in the reference vectors). */
export interface IntervalObservation {
  num_req?: number | null;
  isl?: number | null;
  osl?: number | null;
  ttft?: number | null; // ms
  itl?: number | null; // ms
  request_duration?: number | null; // s
  current_prefill?: number | null;
  current_decode?: number | null;
  router?: RouterSnapshot;
  router_samples?: RouterSnapshot[];
  /** The frontend's ISL histogram over the interval (increase() of its _bucket series), for the length moments. */
  isl_histogram?: HistogramWindow;
  /** The frontend's OSL histogram over the interval. */
  osl_histogram?: HistogramWindow;
  /** The frontend's TTFT histogram over the interval (seconds, as exported), for the share of requests over the target. */
  ttft_histogram?: HistogramWindow;
}


const METRIC_FIELDS = ['num_req', 'isl', 'osl', 'ttft', 'itl', 'request_duration'] as const;
const COUNT_FIELDS = ['current_prefill', 'current_decode'] as const;
const ROUTER_FIELDS = ['router', 'router_samples'] as const;
const HISTOGRAM_FIELDS = ['isl_histogram', 'osl_histogram', 'ttft_histogram'] as const;
const KNOWN_FIELDS: ReadonlySet<string> = new Set([...METRIC_FIELDS, ...COUNT_FIELDS, ...ROUTER_FIELDS, ...HISTOGRAM_FIELDS]);
const STARTED_FIELD = 'requests_started_total';
const PREFILL_GAUGES = ['active_prefill_tokens', 'last_ttft', 'last_isl'] as const;
const DECODE_GAUGES = ['active_decode_blocks', 'last_itl'] as const;


function describe(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'string' ? `"${v}"` : typeof v === 'object' ? 'an object' : String(v);
}

function parseSnapshot(raw: unknown, where: string): RouterSnapshot {
  if (!isPlainObject(raw)) throw new InputError(`${where}: must be an object {"prefill": {...}, "decode": {...}} of per-worker gauges, got ${describe(raw)}.`);
  const snap: RouterSnapshot = {};
  for (const [pool, workers] of Object.entries(raw)) {
    if (pool === STARTED_FIELD) {
      if (typeof workers !== 'number' || !Number.isFinite(workers) || workers < 0) throw new InputError(`${where}.${STARTED_FIELD}: must be a number >= 0 (the frontend's arrivals counter), got ${describe(workers)}.`);
      snap.requests_started_total = workers;
      continue;
    }
    if (pool !== 'prefill' && pool !== 'decode') throw new InputError(`${where}: unknown worker type '${pool}'; expected 'prefill', 'decode' or '${STARTED_FIELD}'.`);
    if (!isPlainObject(workers)) throw new InputError(`${where}.${pool}: must be an object of worker id to gauges, got ${describe(workers)}.`);
    const required = pool === 'prefill' ? PREFILL_GAUGES : DECODE_GAUGES;
    const out: Record<string, Record<string, number>> = {};
    for (const [id, gauges] of Object.entries(workers)) {
      const at = `${where}.${pool}["${id}"]`;
      if (!isPlainObject(gauges)) throw new InputError(`${at}: must be an object of gauges, got ${describe(gauges)}.`);
      for (const key of required) {
        if (!(key in gauges)) throw new InputError(`${at}: missing '${key}'; a ${pool} worker needs ${required.join(', ')} (latencies in seconds).`);
      }
      for (const [key, v] of Object.entries(gauges)) {
        if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new InputError(`${at}.${key}: must be a number >= 0, got ${describe(v)}.`);
      }
      out[id] = gauges as Record<string, number>;
    }
    (snap as Record<string, unknown>)[pool] = out;
  }
  return snap;
}

function parseHistogram(raw: unknown, where: string): HistogramWindow {
  const shape = 'an object {"le": [finite upper bounds], "cumulative": [counts <= each bound, then the total], "sum": n}';
  if (!isPlainObject(raw)) throw new InputError(`${where} must be ${shape}, got ${describe(raw)}.`);
  const { le, cumulative, sum } = raw;
  if (!Array.isArray(le) || !Array.isArray(cumulative) || typeof sum !== 'number') throw new InputError(`${where} must be ${shape}.`);
  if (![...le, ...cumulative].every((v) => typeof v === 'number')) throw new InputError(`${where}: 'le' and 'cumulative' must hold numbers only.`);
  const h: HistogramWindow = { le: le as number[], cumulative: cumulative as number[], sum };
  const problem = histogramProblem(h);
  if (problem !== undefined) throw new InputError(`${where}: ${problem}.`);
  return h;
}

/**
 * Check one `decide` input object. `where` names the file and line for messages
 * (e.g. "obs.jsonl line 3").
 */
export function parseObservation(raw: unknown, where: string): IntervalObservation {
  if (!isPlainObject(raw)) throw new InputError(`${where}: must be a JSON object like {"num_req": 120, "isl": 3000, ...}, got ${describe(raw)}.`);
  for (const key of Object.keys(raw)) {
    if (!KNOWN_FIELDS.has(key)) {
      throw new InputError(`${where}: unknown field '${key}'; expected ${[...KNOWN_FIELDS].join(', ')} (times in ms except request_duration in s).`);
    }
  }
  const obs: IntervalObservation = {};
  for (const key of METRIC_FIELDS) {
    const v = raw[key];
    if (v === undefined || v === null) {
      if (v === null) obs[key] = null;
      continue;
    }
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw new InputError(`${where}: field '${key}' must be a number >= 0 or null (not observed), got ${describe(v)}.`);
    }
    obs[key] = v;
  }
  for (const key of COUNT_FIELDS) {
    const v = raw[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_POOL_REPLICAS) {
      throw new InputError(`${where}: field '${key}' must be a whole number of workers from 0 to ${MAX_POOL_REPLICAS}, got ${describe(v)}.`);
    }
    obs[key] = v;
  }
  for (const key of HISTOGRAM_FIELDS) {
    if (raw[key] !== undefined && raw[key] !== null) obs[key] = parseHistogram(raw[key], `${where}: field '${key}'`);
  }
  if (raw.router !== undefined) obs.router = parseSnapshot(raw.router, `${where}: router`);
  if (raw.router_samples !== undefined) {
    if (!Array.isArray(raw.router_samples)) throw new InputError(`${where}: field 'router_samples' must be a list of router snapshots, got ${describe(raw.router_samples)}.`);
    obs.router_samples = raw.router_samples.map((s, i) => parseSnapshot(s, `${where}: router_samples[${i}]`));
  }
  return obs;
}
