// hold_on_missing_data (sla-planner, on by default). Upstream reads what it did not observe as 0:
// no Prometheus series for the request count or duration, and a worker whose load gauge the router
// did not report. A 0 there looks like an idle deployment and can scale it down during an outage.
// With this option such a value is unknown: the throughput tick holds, and on a load tick the
// worker cannot vote for a scale-down.
import type { PlannerConfig } from '../../config/schema.js';
import type { ObservedTraffic } from '../decision.js';
import type { IntervalObservation } from '../observation.js';
import { isObserved } from '../screen.js';

/** What upstream reads for a worker's missing load gauge: an idle worker. */
export const UPSTREAM_MISSING_LOAD_GAUGE = 0;

/** The fields Prometheus may return no series for that upstream then reads as 0. */
const COUNTED_FIELDS = ['num_req', 'request_duration'] as const;

export class HoldOnMissingData {
  /** A missing load gauge is unknown, which blocks a scale-down (and, as 0 does, a scale-up). */
  readonly missingLoadGauge = Number.NaN;

  static fromConfig(config: PlannerConfig): HoldOnMissingData | undefined {
    return config.hold_on_missing_data ? new HoldOnMissingData() : undefined;
  }

  /**
   * The observation with the request count and duration unobserved (null) when Prometheus had no
   * series for them, instead of the 0 upstream reads.
   */
  unobserved(obs: IntervalObservation, emptyFields: readonly string[]): IntervalObservation {
    const out = { ...obs };
    for (const f of COUNTED_FIELDS) if (emptyFields.includes(f)) out[f] = null;
    return out;
  }

  /** The hold for an interval whose request count or duration was not observed, if it is one. */
  check(obs: IntervalObservation, observed: ObservedTraffic): { code: 'hold_missing_data'; observed: ObservedTraffic; missing: string[] } | undefined {
    const missing = missingTrafficFields(obs);
    return missing.length > 0 ? { code: 'hold_missing_data', observed, missing } : undefined;
  }
}

/**
 * The request count or duration not observed; a zero duration while requests were counted is one
 * too (no request can have finished in no time).
 */
export function missingTrafficFields(obs: IntervalObservation): string[] {
  const missing: string[] = [];
  if (!isObserved(obs.num_req)) missing.push('num_req');
  if (!isObserved(obs.request_duration)) missing.push('request_duration');
  else if (obs.request_duration <= 0 && isObserved(obs.num_req) && obs.num_req > 0) missing.push('request_duration');
  return missing;
}
