// decode_sizing: kv (sla-planner extension; on under strategy sla). Upstream sizes decode for the
// forecast output tokens/s at the best throughput under the ITL target, read at the mean context
// isl + osl/2; on a profile whose best cell sits at a full cache that parks the pool at the KV
// cliff, where the engine preempts and ITL goes to seconds. This stage sizes decode so that the
// KV the requests hold (Little's law over their residence, with a margin for how many are in
// flight) stays under decode_max_kv_usage of the pool, reading ITL at the residence-weighted
// context and at the per-engine concurrency that count gives (../kv-decode.ts). The length
// distribution's shape comes from the frontend's ISL/OSL histograms pooled over recent intervals
// (exponential lengths when the observation carries none), scaled to the forecast means. ISL and
// OSL are not independent in practice (clients with long prompts often ask for short answers), so
// when the load loop sees the router's KV gauges, the ratio of the KV the pool actually held to
// what the model predicts for the same interval corrects the model (kv_correction in the reason),
// and the most KV any scrape showed over burst_memory_s must fit under saturation_kv_usage: a
// client that sends dozens of long requests at once fills caches far beyond what the interval's
// mean rate predicts, and a replica asked for when that is seen serves after the burst.
import type { PlannerConfig } from '../../config/schema.js';
import type { DecodeInterpolator } from '../../profile-data/types.js';
import type { KvDecodeDetail, PoolCount } from '../decision.js';
import type { Forecast } from '../forecast.js';
import { residencyMoments, sizeDecodeForKv } from '../kv-decode.js';
import { EXPONENTIAL_SHAPE, histogramMoments, poolHistograms, shapeOf, withMean, type HistogramWindow, type LengthShape } from '../moments.js';
import type { IntervalObservation, RouterSnapshot } from '../observation.js';
import { DEFAULT_KV_BLOCK_TOKENS } from './saturation-feedback.js';
import { MAX_POOL_REPLICAS } from '../screen.js';

/** Intervals of histograms pooled for the shape: one interval holds too few long requests to see the tail. */
export const SHAPE_WINDOW_INTERVALS = 10;
/** Bounds of the KV correction: beyond them the gauges, not the traffic, are off. */
export const KV_CORRECTION_RANGE = [0.5, 2] as const;
/** Valid intervals before the correction learns: a pool that just started holds less than it will. */
export const KV_CORRECTION_WARMUP_INTERVALS = 3;

/** z of a one-sided normal quantile (Acklam's rational approximation; |error| < 1.2e-9 over (0, 1)). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) return p >= 1 ? Infinity : -Infinity;
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628274631];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const lowTail = 0.02425;
  if (p < lowTail) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - lowTail) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

export interface KvDecodeSettings {
  decode: DecodeInterpolator;
  intervalS: number;
  itlTargetMs: number;
  kvFill: number;
  /** KV usage the busiest scrape of an interval may reach (saturation_kv_usage). */
  kvHighMark: number;
  burstMemoryS: number;
  quantile: number;
  minEndpoint: number;
  maxReplicas: number;
}

export class KvDecodeSizing {
  private readonly islWindows: HistogramWindow[] = [];
  private readonly oslWindows: HistogramWindow[] = [];
  private islShape: LengthShape = EXPONENTIAL_SHAPE;
  /** Mean ISL and OSL over the pooled window (0 without histograms). */
  private pooledMean = { isl: 0, osl: 0 };
  private oslShape: LengthShape = EXPONENTIAL_SHAPE;
  private readonly z: number;
  private correction = 1;
  private validIntervals = 0;
  /** Resident KV (tokens) and step times (s) the router reported since the last throughput tick. */
  private kvTokensSum = 0;
  private kvScrapes = 0;
  /** The most resident KV (tokens) one scrape showed since the last throughput tick. */
  private kvTokensPeak = 0;
  /** Each interval's peak, newest last, over burst_memory_s. */
  private readonly peaks: number[] = [];
  private stepSSum = 0;
  private stepCount = 0;

  constructor(private readonly s: KvDecodeSettings) {
    this.z = Math.max(0, normalQuantile(s.quantile));
  }

  /** Exists when decode_sizing is kv and the mode has a decode pool of its own (not agg yet). */
  static fromConfig(config: PlannerConfig, decode: DecodeInterpolator | undefined, gpusPerReplica: number): KvDecodeSizing | undefined {
    if (config.decode_sizing !== 'kv' || decode === undefined || !(config.mode === 'disagg' || config.mode === 'decode')) return undefined;
    const budgetReplicas = config.max_gpu_budget >= 0 ? Math.floor(config.max_gpu_budget / gpusPerReplica) : MAX_POOL_REPLICAS;
    return new KvDecodeSizing({
      decode,
      intervalS: config.throughput_adjustment_interval,
      itlTargetMs: config.itl,
      kvFill: config.decode_max_kv_usage,
      kvHighMark: config.saturation_kv_usage,
      burstMemoryS: config.burst_memory_s,
      quantile: config.decode_kv_quantile,
      minEndpoint: config.min_endpoint,
      maxReplicas: Math.max(1, Math.min(budgetReplicas, MAX_POOL_REPLICAS)),
    });
  }

  /** The length shapes in use (ISL, OSL). */
  get shapes(): { isl: LengthShape; osl: LengthShape } {
    return { isl: this.islShape, osl: this.oslShape };
  }

  /** The most resident KV one scrape showed over burst_memory_s (0 without scrapes). */
  get peakTokens(): number {
    let most = 0;
    for (const p of this.peaks) most = Math.max(most, p);
    return most;
  }

  /** The ratio of observed to modelled resident KV in use (1 until the router's gauges taught it). */
  get kvCorrection(): number {
    return this.correction;
  }

  /** A load tick's scrapes: the decode pool's resident KV (tokens) and the engines' step time. */
  observeLoad(samples: readonly RouterSnapshot[]): void {
    const profileTokens = this.s.decode.maxKvTokens;
    for (const snap of samples) {
      if (snap.decode === undefined) continue;
      let tokens = 0;
      for (const g of Object.values(snap.decode)) {
        // Blocks in the profile's tokens: its capacity over the engine's, else vLLM's 16-token block.
        const perBlock = typeof g.kv_total_blocks === 'number' && g.kv_total_blocks > 0 ? profileTokens / g.kv_total_blocks : DEFAULT_KV_BLOCK_TOKENS;
        tokens += g.active_decode_blocks * perBlock;
        if (g.last_itl > 0) {
          this.stepSSum += g.last_itl;
          this.stepCount++;
        }
      }
      this.kvTokensSum += tokens;
      this.kvScrapes++;
      this.kvTokensPeak = Math.max(this.kvTokensPeak, tokens);
    }
  }

  /**
   * A valid interval: keep its histograms (pooled over the last SHAPE_WINDOW_INTERVALS), refresh
   * the shapes, and compare the resident KV the router reported with the model's for this interval.
   */
  learn(obs: IntervalObservation): void {
    const isl = remember(this.islWindows, obs.isl_histogram);
    const osl = remember(this.oslWindows, obs.osl_histogram);
    if (isl) {
      this.islShape = isl.shape;
      this.pooledMean.isl = isl.mean;
    }
    if (osl) {
      this.oslShape = osl.shape;
      this.pooledMean.osl = osl.mean;
    }
    this.validIntervals++;
    const measured = this.kvScrapes > 0 ? this.kvTokensSum / this.kvScrapes : Number.NaN;
    const stepS = this.stepCount > 0 ? this.stepSSum / this.stepCount : (obs.itl ?? Number.NaN) / 1000;
    this.peaks.push(this.kvTokensPeak);
    while (this.peaks.length > Math.max(1, Math.ceil(this.s.burstMemoryS / this.s.intervalS))) this.peaks.shift();
    this.kvTokensSum = this.kvScrapes = this.stepSSum = this.stepCount = this.kvTokensPeak = 0;
    if (this.validIntervals <= KV_CORRECTION_WARMUP_INTERVALS || !(measured > 0) || !(stepS > 0)) return;
    const rate = (obs.num_req ?? 0) / this.s.intervalS;
    const { a } = residencyMoments(withMean(this.islShape, obs.isl ?? 0), withMean(this.oslShape, Math.max(1, obs.osl ?? 1)));
    const modelled = rate * stepS * a;
    if (!(modelled > 0)) return;
    const ratio = Math.min(KV_CORRECTION_RANGE[1], Math.max(KV_CORRECTION_RANGE[0], measured / modelled));
    // EWMA: one interval is one noisy sample of a slowly moving traffic mix.
    this.correction = 0.7 * this.correction + 0.3 * ratio;
  }

  /**
   * Decode replicas for the forecast. The mean lengths are the forecast's or the pooled window's,
   * whichever is longer: an interval's OSL is that of the requests that finished in it, which right
   * after a rise in traffic are the short ones, while the long ones still hold their KV.
   */
  propose(forecast: Forecast): { count: PoolCount; detail: KvDecodeDetail } {
    const s = this.s;
    const isl = withMean(this.islShape, Math.max(0, forecast.isl, this.pooledMean.isl));
    const osl = withMean(this.oslShape, Math.max(1, forecast.osl, this.pooledMean.osl));
    const sized = sizeDecodeForKv({
      arrivalRatePerS: Math.max(0, forecast.numReq) / s.intervalS,
      isl,
      osl,
      itlTargetMs: s.itlTargetMs,
      kvFill: s.kvFill,
      z: this.z,
      maxKvTokens: s.decode.maxKvTokens,
      itlMs: (c, ctx) => s.decode.itlMs(c, ctx),
      kvCorrection: this.correction,
      minReplicas: s.minEndpoint,
      maxReplicas: s.maxReplicas,
    });
    let binding: PoolCount['binding'] = sized.binding === 'kv_cache' || sized.binding === 'max_replicas' ? 'kv_cache' : sized.binding === 'itl' ? 'demand' : 'min_endpoint';
    // What the pool held at its busiest scrape over burst_memory_s must fit under the saturation mark.
    const peakTokens = this.peakTokens;
    const peakReplicas = Math.min(s.maxReplicas, Math.ceil(peakTokens / (s.kvHighMark * s.decode.maxKvTokens)));
    let replicas = sized.replicas;
    if (peakReplicas > replicas) {
      replicas = peakReplicas;
      binding = 'kv_cache';
    }
    return {
      count: { replicas, binding },
      detail: {
        replicas: sized.replicas,
        binding: sized.binding,
        peak_kv_tokens: peakTokens,
        peak_replicas: peakReplicas,
        resident_kv_tokens: sized.residentKvTokens,
        resident_kv_sd_tokens: sized.residentKvSdTokens,
        context_tokens: sized.contextTokens,
        itl_ms: sized.itlMs,
        concurrency_per_replica: sized.concurrencyPerReplica,
        kv_usage: sized.kvUsage,
        osl_shape: this.oslShape,
        isl_shape: this.islShape,
        kv_correction: this.correction,
      },
    };
  }
}

/** Add a window (if any, and usable) and return the pooled shape and mean, or undefined when nothing usable is kept. */
function remember(windows: HistogramWindow[], h: HistogramWindow | undefined): { shape: LengthShape; mean: number } | undefined {
  if (h !== undefined && histogramMoments(h) !== undefined) {
    windows.push(h);
    if (windows.length > SHAPE_WINDOW_INTERVALS) windows.shift();
  }
  const pooled = poolHistograms(windows);
  const m = pooled && histogramMoments(pooled);
  return m && { shape: shapeOf(m), mean: m.m1 };
}
