// Throughput scaling formulas of the original planner: replicas from a forecast of the next
// interval's request count, ISL and OSL, the profile interpolators and the correction factors.
// Pure functions; arithmetic is kept in the original's order so float rounding matches it.
import type { DecodeBest, DecodeInterpolator, PrefillInterpolator } from '../profile-data/types.js';
import type { IntervalObservation } from './observation.js';

export type ReplicaBinding = 'demand' | 'min_endpoint' | 'no_capacity';

export interface PoolPlan {
  replicas: number;
  binding: ReplicaBinding;
  /** Tokens/s the pool must serve (prefill: input tokens, decode: output tokens). */
  demandTokensPerS: number;
  /** Profiled tokens/s/GPU used to size the pool. */
  thptPerGpu: number;
}

export interface Forecast {
  numReq: number;
  isl: number;
  osl: number;
}

/**
 * The original's validity test: TTFT, ITL, ISL and OSL all observed (an idle 0/0 window is NaN);
 * we also reject ±Inf. Returns the fields that fail it (none = valid).
 */
export function missingLatencyAndShape(obs: IntervalObservation): Array<'ttft' | 'itl' | 'isl' | 'osl'> {
  return (['ttft', 'itl', 'isl', 'osl'] as const).filter((k) => !isNum(obs[k]));
}

/**
 * What the original reads as 0 when Prometheus has no series (request count, request duration)
 * but which really means "not observed". Used by `hold_on_missing_data`.
 */
export function missingTrafficFields(obs: IntervalObservation): string[] {
  const missing: string[] = [];
  if (!isNum(obs.num_req)) missing.push('num_req');
  if (!isNum(obs.request_duration)) missing.push('request_duration');
  else if (obs.request_duration <= 0 && isNum(obs.num_req) && obs.num_req > 0) missing.push('request_duration');
  return missing;
}

/** NaN (idle 0/0) and ±Inf (a sum over a zero count) both mean "no usable average". */
function isNum(v: number | null | undefined): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/** Observed TTFT over the profiled TTFT at the observed ISL (>1 = slower than profiled, e.g. queueing). */
export function prefillCorrectionFactor(observedTtftMs: number, observedIsl: number, prefill: PrefillInterpolator): number {
  return observedTtftMs / prefill.ttftMs(observedIsl);
}

/**
 * Observed ITL over the profiled ITL at the per-worker concurrency given by Little's law
 * (requests in the interval per worker × mean request duration / interval). Undefined with no
 * decode workers: the original then keeps the previous factor.
 */
export function decodeCorrectionFactor(
  obs: { numReq: number; isl: number; osl: number; itlMs: number; requestDurationS: number },
  decodeWorkers: number,
  intervalS: number,
  decode: DecodeInterpolator,
): number | undefined {
  if (decodeWorkers === 0) return undefined;
  const concurrency = ((obs.numReq / decodeWorkers) * obs.requestDurationS) / intervalS;
  const contextLength = obs.isl + obs.osl / 2;
  return obs.itlMs / decode.itlMs(concurrency, contextLength);
}

export interface PrefillPlanInput {
  forecast: Forecast;
  intervalS: number;
  correctionFactor: number;
  /** sla-planner extension: let a factor above 1 add replicas (the original caps it at 1). */
  correctionCanScaleUp: boolean;
  prefill: PrefillInterpolator;
  gpusPerReplica: number;
  minEndpoint: number;
}

export function prefillDemandTokensPerS(input: Pick<PrefillPlanInput, 'forecast' | 'intervalS' | 'correctionFactor' | 'correctionCanScaleUp'>): number {
  const cf = input.correctionCanScaleUp ? input.correctionFactor : Math.min(1, input.correctionFactor);
  return ((input.forecast.numReq * input.forecast.isl) / input.intervalS) * cf;
}

export function planPrefill(input: PrefillPlanInput): PoolPlan {
  const demand = prefillDemandTokensPerS(input);
  const thptPerGpu = input.prefill.thptPerGpu(input.forecast.isl);
  return sizePool(demand, thptPerGpu, input.gpusPerReplica, input.minEndpoint);
}

export interface DecodePlanInput {
  forecast: Forecast;
  intervalS: number;
  correctionFactor: number;
  itlTargetMs: number;
  decode: DecodeInterpolator;
  /** sla-planner extension: best throughput over all cells under the target, not the first from the top. */
  monotoneSearch: boolean;
  /** sla-planner extension (decode_max_kv_usage): highest KV-cache fill to plan at; 1 = upstream. */
  maxKvUsage?: number;
  gpusPerReplica: number;
  minEndpoint: number;
}

/** The ITL target the decode search uses: the SLA divided by the correction factor (if positive). */
export function correctedItlTarget(itlSlaMs: number, correctionFactor: number): number {
  return correctionFactor <= 0 ? itlSlaMs : itlSlaMs / correctionFactor;
}

export function decodeDemandTokensPerS(forecast: Forecast, intervalS: number): number {
  return (forecast.numReq * forecast.osl) / intervalS;
}

/** The cell the decode search picks and the tokens/s/GPU to plan with (after the KV-usage cap). */
function decodeCapacity(input: Omit<DecodePlanInput, 'gpusPerReplica' | 'minEndpoint'>): { best: DecodeBest; thptPerGpu: number } {
  const target = correctedItlTarget(input.itlTargetMs, input.correctionFactor);
  const contextLength = input.forecast.isl + input.forecast.osl / 2;
  const best = bestDecodeThroughput(input.decode, target, contextLength, input.monotoneSearch);
  return { best, thptPerGpu: best.thptPerGpu * kvHeadroom(best, input.maxKvUsage) };
}

export function planDecode(input: DecodePlanInput): PoolPlan & { best: DecodeBest } {
  const { best, thptPerGpu } = decodeCapacity(input);
  const demand = decodeDemandTokensPerS(input.forecast, input.intervalS);
  return { ...sizePool(demand, thptPerGpu, input.gpusPerReplica, input.minEndpoint), best };
}

/**
 * decode_max_kv_usage: when the cell picked under the ITL target fills the KV cache past the cap,
 * plan at the cap instead. By Little's law the KV a pool holds is (arrivals × tokens held × time
 * held), so at the same ITL the pool's sustainable rate scales with the KV fill: cap / kvUsage of
 * the picked cell's throughput (conservative, since ITL only falls with less KV in use). A plan
 * at a full cache leaves nothing for the spread of request lengths, and the engine then queues or
 * preempts, which users see as ITL.
 */
export function kvHeadroom(best: DecodeBest, maxKvUsage: number | undefined): number {
  const cap = maxKvUsage ?? 1;
  return cap < 1 && best.kvUsage > cap ? cap / best.kvUsage : 1;
}

/** Grid resolution of the original decode interpolator (kv-usage axis). */
const KV_GRID_POINTS = 100;

/**
 * Decode throughput/GPU under an ITL target at a context length.
 * - original (`monotone = false`): the first cell under the target scanning KV usage downward;
 *   since interpolated ITL is not monotone in KV usage, a looser target can return a lower
 *   throughput.
 * - monotone: the highest throughput among all cells of the row under the target, so a looser
 *   target never lowers capacity. Falls back to the original's answer when no cell qualifies.
 */
export function bestDecodeThroughput(decode: DecodeInterpolator, itlTargetMs: number, contextLength: number, monotone: boolean): DecodeBest {
  const first = decode.findBestThroughputPerGpu(itlTargetMs, contextLength);
  if (!monotone || !(contextLength > 0)) return first;
  let best: DecodeBest | undefined;
  for (let ix = 0; ix < KV_GRID_POINTS; ix++) {
    const kvUsage = ix / (KV_GRID_POINTS - 1);
    // Query the cell through concurrency = kv_usage × max_kv_tokens / context.
    const concurrency = (kvUsage * decode.maxKvTokens) / contextLength;
    const itl = decode.itlMs(concurrency, contextLength);
    if (!(itl <= itlTargetMs)) continue;
    const thpt = decode.thptPerGpu(concurrency, contextLength);
    if (best === undefined || thpt > best.thptPerGpu) best = { thptPerGpu: thpt, itlMs: itl, kvUsage };
  }
  return best !== undefined && best.thptPerGpu > first.thptPerGpu ? best : first;
}

function sizePool(demandTokensPerS: number, thptPerGpu: number, gpusPerReplica: number, minEndpoint: number): PoolPlan {
  // No profiled capacity (or a NaN from a broken profile): the original falls back to min_endpoint.
  if (!(thptPerGpu > 0)) return { replicas: minEndpoint, binding: 'no_capacity', demandTokensPerS, thptPerGpu };
  const needed = Math.ceil(demandTokensPerS / thptPerGpu / gpusPerReplica);
  if (!(needed > minEndpoint)) return { replicas: minEndpoint, binding: 'min_endpoint', demandTokensPerS, thptPerGpu };
  return { replicas: needed, binding: 'demand', demandTokensPerS, thptPerGpu };
}

export interface AggPlanInput {
  prefill: Omit<PrefillPlanInput, 'gpusPerReplica' | 'minEndpoint'>;
  decode: Omit<DecodePlanInput, 'gpusPerReplica' | 'minEndpoint'>;
  gpusPerReplica: number;
  minEndpoint: number;
}

export interface AggPlan {
  replicas: number;
  binding: ReplicaBinding;
  prefillGpus: number;
  decodeGpus: number;
}

/**
 * Agg mode (an sla-planner extension: the original refuses throughput scaling in agg). One engine
 * runs both phases, interleaving prefill chunks with decode steps, so a GPU busy prefilling is not
 * decoding: the GPU-seconds per second each phase needs at its profiled rate ADD UP. Taking the
 * max of the two pool sizes would count the same GPU time twice and under-provision whenever both
 * phases carry real load. The decode rate is the one under the (corrected) ITL target, so the
 * latency headroom also covers the prefill chunks interleaved into decode steps only as far as the
 * profile does; the load-scaling floor remains the safety net for that.
 */
export function planAgg(input: AggPlanInput): AggPlan {
  const prefillDemand = prefillDemandTokensPerS(input.prefill);
  const prefillThpt = input.prefill.prefill.thptPerGpu(input.prefill.forecast.isl);
  const decodeThpt = decodeCapacity(input.decode).thptPerGpu;
  const decodeDemand = decodeDemandTokensPerS(input.decode.forecast, input.decode.intervalS);
  if (!(prefillThpt > 0) || !(decodeThpt > 0)) {
    return { replicas: input.minEndpoint, binding: 'no_capacity', prefillGpus: NaN, decodeGpus: NaN };
  }
  const prefillGpus = prefillDemand / prefillThpt;
  const decodeGpus = decodeDemand / decodeThpt;
  const needed = Math.ceil((prefillGpus + decodeGpus) / input.gpusPerReplica);
  if (!(needed > input.minEndpoint)) return { replicas: input.minEndpoint, binding: 'min_endpoint', prefillGpus, decodeGpus };
  return { replicas: needed, binding: 'demand', prefillGpus, decodeGpus };
}
