// KV-aware decode sizing (the sla strategy's `decode_sizing: kv`). A request holds its KV for as
// long as it decodes: at its k-th output token it holds isl + k tokens, one step (the ITL) each, so
// over its life it holds isl·osl + osl²/2 token-steps. With arrivals at rate λ (Poisson) and a step
// time t, the tokens resident in the pool are an M/G/∞ shot noise:
//   E[L]   = λ·t·E[isl·osl + osl²/2]
//   Var[L] = λ·t·E[isl²·osl + isl·osl² + osl³/3]       (∫ (isl + τ/t)² dτ over the request's life)
// ISL and OSL are taken as independent (the frontend's histograms are separate). The pool must
// keep E[L] + z·sd[L] under `kv_fill` of its engines' KV; the requests in flight per engine are
// λ·E[osl]·t / d (Little), and t is the profile's ITL at that concurrency and at the context the
// cache actually carries, weighted by residence time: E[osl·(isl + osl/2)] / E[osl]. t depends on
// d and d on t, so each d is checked at its own fixed point; feasibility only improves with d, so
// the fewest replicas is a bisection.
import type { Moments } from './moments.js';

export interface KvDecodeInput {
  /** Forecast arrivals per second (λ). */
  arrivalRatePerS: number;
  isl: Moments;
  osl: Moments;
  itlTargetMs: number;
  /** Highest planned fill of an engine's KV cache, (0, 1]. */
  kvFill: number;
  /** Standard deviations of resident KV kept free for the random number of requests in flight. */
  z: number;
  /** KV capacity of one engine (replica), tokens. */
  maxKvTokens: number;
  /** The profile's ITL (ms) at a per-engine concurrency and context length. */
  itlMs(concurrency: number, contextTokens: number): number;
  /** Ratio of the observed resident KV to this model's prediction (1 = trust the model); scales each request's context. */
  kvCorrection: number;
  minReplicas: number;
  /** Search bound: the answer never exceeds it. */
  maxReplicas: number;
}

export type KvDecodeBinding = 'kv_cache' | 'itl' | 'idle' | 'max_replicas' | 'min_endpoint';

export interface KvDecodeSizing {
  replicas: number;
  binding: KvDecodeBinding;
  /** Mean resident KV at `replicas` (tokens, corrected). */
  residentKvTokens: number;
  /** Its standard deviation (tokens). */
  residentKvSdTokens: number;
  /** The residence-weighted context, E[osl·(isl + osl/2)] / E[osl] (tokens, corrected). */
  contextTokens: number;
  /** Step time at `replicas` (the fixed point), ms. */
  itlMs: number;
  /** Requests in flight per engine at `replicas`. */
  concurrencyPerReplica: number;
  /** Planned KV fill at `replicas`: (E[L] + z·sd) / (replicas × capacity). */
  kvUsage: number;
}

/** Token-steps one request holds (E[isl·osl + osl²/2]) and its second moment term, ISL and OSL independent. */
export function residencyMoments(isl: Moments, osl: Moments): { a: number; b: number } {
  const a = isl.m1 * osl.m1 + osl.m2 / 2;
  const b = isl.m2 * osl.m1 + isl.m1 * osl.m2 + osl.m3 / 3;
  return { a, b };
}

/** E[osl·(isl + osl/2)] / E[osl]: the context an engine carries, weighted by how long it carries it. */
export function residenceWeightedContext(isl: Moments, osl: Moments): number {
  return osl.m1 > 0 ? residencyMoments(isl, osl).a / osl.m1 : isl.m1;
}

/** Most fixed-point iterations per replica count (the profile is a grid, so it settles in a few). */
const FIXED_POINT_ITERATIONS = 50;

interface AtReplicas {
  feasibleItl: boolean;
  feasibleKv: boolean;
  itlMs: number;
  concurrency: number;
  meanKv: number;
  sdKv: number;
}

/** The step time and resident KV at d replicas (t from the greatest fixed point under the ITL target). */
export function decodeAt(input: KvDecodeInput, d: number): AtReplicas {
  const { a, b } = residencyMoments(input.isl, input.osl);
  // The correction scales each request's held context, so the mean, the spread and the context the ITL is read at.
  const k = input.kvCorrection;
  const context = k * residenceWeightedContext(input.isl, input.osl);
  const inFlightPerSecondOfStep = input.arrivalRatePerS * input.osl.m1; // requests in flight = this × t (s)
  const step = (tS: number) => input.itlMs((inFlightPerSecondOfStep * tS) / d, context) / 1000;
  const targetS = input.itlTargetMs / 1000;
  // The map t → ITL(λ·E[osl]·t/d) is non-decreasing, so from the target downward it settles at the
  // greatest fixed point; if the target maps above itself, no step time under it is consistent.
  let t = step(targetS);
  const feasibleItl = t <= targetS;
  if (feasibleItl) {
    for (let i = 0; i < FIXED_POINT_ITERATIONS; i++) {
      const next = step(t);
      if (!(next < t)) break;
      t = next;
    }
  }
  const meanKv = k * input.arrivalRatePerS * t * a;
  const sdKv = k * Math.sqrt(input.arrivalRatePerS * t * b);
  const feasibleKv = meanKv + input.z * sdKv <= input.kvFill * input.maxKvTokens * d;
  return { feasibleItl, feasibleKv, itlMs: t * 1000, concurrency: (inFlightPerSecondOfStep * t) / d, meanKv, sdKv };
}

/** The fewest decode replicas that keep the ITL target and the resident KV under the planned fill. */
export function sizeDecodeForKv(input: KvDecodeInput): KvDecodeSizing {
  const context = input.kvCorrection * residenceWeightedContext(input.isl, input.osl);
  const min = Math.max(1, input.minReplicas);
  const max = Math.max(min, input.maxReplicas);
  const report = (d: number, binding: KvDecodeBinding): KvDecodeSizing => {
    const at = decodeAt(input, Math.max(1, d));
    return {
      replicas: d,
      binding,
      residentKvTokens: at.meanKv,
      residentKvSdTokens: at.sdKv,
      contextTokens: context,
      itlMs: at.itlMs,
      concurrencyPerReplica: at.concurrency,
      kvUsage: (at.meanKv + input.z * at.sdKv) / (Math.max(1, d) * input.maxKvTokens),
    };
  };
  if (!(input.arrivalRatePerS > 0) || !(input.osl.m1 > 0)) return report(input.minReplicas, 'idle');
  const ok = (d: number) => {
    const at = decodeAt(input, d);
    return at.feasibleItl && at.feasibleKv;
  };
  if (!ok(max)) return report(max, 'max_replicas');
  if (ok(min)) return report(input.minReplicas, 'min_endpoint');
  // Feasibility is monotone in d: the smallest feasible d in (min, max].
  let lo = min;
  let hi = max;
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if (ok(mid)) hi = mid;
    else lo = mid;
  }
  const below = decodeAt(input, hi - 1);
  return report(hi, below.feasibleKv ? 'itl' : 'kv_cache');
}
