// Stage "learn the correction factors" (the original's, on when no_correction is false and load
// scaling is off): how much slower the deployment ran than its profile in the interval just
// observed. The prefill factor scales the prefill demand, the decode factor tightens the ITL target.
import type { DecodeInterpolator, PrefillInterpolator } from '../profile-data/types.js';
import type { Pool, ReplicaCounts } from './decision.js';
import type { ObservedInterval } from './screen.js';

export interface CorrectionFactor {
  prefill: number;
  decode: number;
}

/** No correction: the profile is taken as measured. */
export const NO_CORRECTION: Readonly<CorrectionFactor> = Object.freeze({ prefill: 1, decode: 1 });

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
  obs: Pick<ObservedInterval, 'numReq' | 'isl' | 'osl' | 'itlMs' | 'requestDurationS'>,
  decodeWorkers: number,
  intervalS: number,
  decode: DecodeInterpolator,
): number | undefined {
  if (decodeWorkers === 0) return undefined;
  const concurrency = ((obs.numReq / decodeWorkers) * obs.requestDurationS) / intervalS;
  const contextLength = obs.isl + obs.osl / 2;
  return obs.itlMs / decode.itlMs(concurrency, contextLength);
}

export class CorrectionFactors {
  private readonly current: CorrectionFactor = { ...NO_CORRECTION };

  /**
   * @param phases which phases the managed pools run (agg runs both on its one pool, whose workers
   *   are counted as decode workers).
   */
  constructor(
    private readonly profile: { prefill: PrefillInterpolator; decode: DecodeInterpolator },
    private readonly phases: Readonly<Record<Pool, boolean>>,
    private readonly intervalS: number,
  ) {}

  get factors(): CorrectionFactor {
    return { ...this.current };
  }

  /**
   * Learn from a valid interval. A non-finite factor (e.g. a zero profiled latency) is returned
   * for the hold and not kept, as the original aborts the tick when the correction raises.
   */
  learn(observed: ObservedInterval, counts: ReplicaCounts): { failed: CorrectionFactor } | undefined {
    let prefill = this.current.prefill;
    let decode = this.current.decode;
    if (this.phases.prefill) prefill = prefillCorrectionFactor(observed.ttftMs, observed.isl, this.profile.prefill);
    if (this.phases.decode) decode = decodeCorrectionFactor(observed, counts.decode, this.intervalS, this.profile.decode) ?? decode;
    if (!Number.isFinite(prefill) || !Number.isFinite(decode)) return { failed: { prefill, decode } };
    this.current.prefill = prefill;
    this.current.decode = decode;
    return undefined;
  }
}
