// Throughput sizing formulas of the original planner: replicas from a forecast of the next
// interval's request count, ISL and OSL, the profile and the correction factors. Pure functions;
// arithmetic is kept in the original's order so float rounding matches it. The pool sizers
// (pools.ts) call them with the extensions that change how the profile is read already built in.
import type { DecodeBest, DecodeInterpolator, PrefillInterpolator } from '../profile-data/types.js';
import type { Binding } from './decision.js';
import type { Forecast } from './forecast.js';

export type SizingBinding = Extract<Binding, 'demand' | 'min_endpoint' | 'no_capacity'>;

export interface PoolPlan {
  replicas: number;
  binding: SizingBinding;
  /** Tokens/s the pool must serve (prefill: input tokens, decode: output tokens). */
  demandTokensPerS: number;
  /** Profiled tokens/s/GPU used to size the pool. */
  thptPerGpu: number;
}

export interface PrefillPlanInput {
  forecast: Forecast;
  intervalS: number;
  /** The prefill correction factor as applied (upstream caps it at 1 before it gets here). */
  correctionFactor: number;
  prefill: PrefillInterpolator;
  gpusPerReplica: number;
  minEndpoint: number;
}

export function prefillDemandTokensPerS(forecast: Forecast, intervalS: number, correctionFactor: number): number {
  return ((forecast.numReq * forecast.isl) / intervalS) * correctionFactor;
}

export function planPrefill(input: PrefillPlanInput): PoolPlan {
  const demand = prefillDemandTokensPerS(input.forecast, input.intervalS, input.correctionFactor);
  const thptPerGpu = input.prefill.thptPerGpu(input.forecast.isl);
  return sizePool(demand, thptPerGpu, input.gpusPerReplica, input.minEndpoint);
}

/** How a decode search picks the profile cell under an ITL target (the original's, or an extension's). */
export interface DecodeSearch {
  best(decode: DecodeInterpolator, itlTargetMs: number, contextLength: number): DecodeBest;
}

/** Tokens/s/GPU to plan with at the picked cell (the cell's own, or less, e.g. decode_max_kv_usage). */
export interface DecodeCapacityLimit {
  thptPerGpu(best: DecodeBest): number;
}

/** Decode tokens/s/GPU under an ITL target at a context length, and the profile cell it came from. */
export type DecodeCapacity = (itlTargetMs: number, contextLength: number) => { best: DecodeBest; thptPerGpu: number };

/** The decode capacity with the optional search and limit built in; neither = the original's. */
export function decodeCapacity(decode: DecodeInterpolator, search?: DecodeSearch, limit?: DecodeCapacityLimit): DecodeCapacity {
  return (itlTargetMs, contextLength) => {
    const best = search?.best(decode, itlTargetMs, contextLength) ?? decode.findBestThroughputPerGpu(itlTargetMs, contextLength);
    return { best, thptPerGpu: limit?.thptPerGpu(best) ?? best.thptPerGpu };
  };
}

export interface DecodePlanInput {
  forecast: Forecast;
  intervalS: number;
  correctionFactor: number;
  itlTargetMs: number;
  capacity: DecodeCapacity;
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

/** The decode capacity at the forecast's context length under the corrected ITL target. */
function decodeCapacityFor(input: Pick<DecodePlanInput, 'forecast' | 'correctionFactor' | 'itlTargetMs' | 'capacity'>): { best: DecodeBest; thptPerGpu: number } {
  const target = correctedItlTarget(input.itlTargetMs, input.correctionFactor);
  const contextLength = input.forecast.isl + input.forecast.osl / 2;
  return input.capacity(target, contextLength);
}

export function planDecode(input: DecodePlanInput): PoolPlan & { best: DecodeBest } {
  const { best, thptPerGpu } = decodeCapacityFor(input);
  const demand = decodeDemandTokensPerS(input.forecast, input.intervalS);
  return { ...sizePool(demand, thptPerGpu, input.gpusPerReplica, input.minEndpoint), best };
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
  binding: SizingBinding;
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
  const prefillDemand = prefillDemandTokensPerS(input.prefill.forecast, input.prefill.intervalS, input.prefill.correctionFactor);
  const prefillThpt = input.prefill.prefill.thptPerGpu(input.prefill.forecast.isl);
  const decodeThpt = decodeCapacityFor(input.decode).thptPerGpu;
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
