// prefill_burst_sizing (sla-planner extension; off by default and under strategy sla, see the
// README's "strategy: sla" for its figures). Prompts that arrive together (an agent's fan-out, a
// client's batch) queue behind each other however low the interval's mean rate is, and a replica
// asked for when such a burst is seen serves a cold start later. So this stage keeps standing
// prefill sized from the bursts themselves. The load loop's scrapes, every
// load_adjustment_interval / load_metric_samples, carry the frontend's arrivals counter: the
// arrivals of each scrape interval, times the mean ISL, are its prompt tokens. For a candidate
// count p, a backlog replay (p replicas prefilling r tokens/s each) counts the tokens that would
// queue past what p replicas prefill within the TTFT slack (target − idle TTFT), taking
// BURST_AT_ONCE of each scrape interval's tokens to arrive together and the rest spread over it.
// Per cold start of scrapes (a group), the count is the fewest replicas whose late tokens stay
// within prefill_burst_miss_share of the group's tokens; the standing count is the most any group
// of burst_memory_s needed (the open group included, so the load loop asks at once), released
// when the group that needed it leaves the window. The router's queued-token gauges are no basis
// for this: a burst often drains between two scrapes, more so the more replicas run.
import type { PlannerConfig } from '../../config/schema.js';
import type { PrefillInterpolator } from '../../profile-data/types.js';
import type { Plan, PrefillBurstBinding, PrefillBurstDetail } from '../decision.js';
import type { IntervalObservation, RouterSnapshot } from '../observation.js';
import { MAX_POOL_REPLICAS } from '../screen.js';

/**
 * Share of a scrape interval's prompt tokens taken to arrive together. The frontend's counter
 * says how many arrived, not when within the interval: all at once over-sizes steady traffic, all
 * spread misses bursts shorter than the interval; one half is the middle the simulator supports.
 */
export const BURST_AT_ONCE = 0.5;

/** What one prefill replica does at the traffic's mean prompt length. */
export interface PrefillRates {
  /** Prompt tokens/s one replica prefills. */
  tokensPerS: number;
  /** Seconds a prompt may wait and still meet the TTFT target (target − idle TTFT). */
  slackS: number;
}

export interface BurstSizingSettings {
  prefill: PrefillInterpolator;
  gpusPerReplica: number;
  ttftTargetMs: number;
  /** Seconds between two router scrapes (load_adjustment_interval / load_metric_samples). */
  scrapeIntervalS: number;
  /** Seconds of scrapes one count is sized over (a cold start: what a new replica takes to help). */
  groupS: number;
  memoryS: number;
  /** Share of a group's prompt tokens that may queue past the slack. */
  missShare: number;
  maxReplicas: number;
}

/** The rates at the mean ISL (clamped to the profile); with no slack left, the target itself bounds the wait. */
export function prefillRates(prefill: PrefillInterpolator, gpusPerReplica: number, isl: number, ttftTargetMs: number): PrefillRates {
  const lengthTokens = Math.min(Math.max(isl, prefill.minIsl), prefill.maxIsl);
  const idleMs = prefill.ttftMs(lengthTokens);
  return { tokensPerS: prefill.thptPerGpu(lengthTokens) * gpusPerReplica, slackS: (ttftTargetMs > idleMs ? ttftTargetMs - idleMs : ttftTargetMs) / 1000 };
}

/**
 * Prompt tokens that queue past the slack on `replicas` replicas: a backlog replay over the scrape
 * intervals' tokens (`arrivals`, oldest first), BURST_AT_ONCE of each arriving together.
 */
export function lateTokens(arrivals: readonly number[], replicas: number, rates: PrefillRates, scrapeIntervalS: number): number {
  const withinSlack = replicas * rates.tokensPerS * rates.slackS;
  const perInterval = replicas * rates.tokensPerS * scrapeIntervalS;
  let backlog = 0;
  let late = 0;
  for (const tokens of arrivals) {
    late += Math.max(0, backlog + BURST_AT_ONCE * tokens - withinSlack) - Math.max(0, backlog - withinSlack);
    backlog = Math.max(0, backlog + tokens - perInterval);
  }
  return late;
}

/** The fewest replicas (1..max) whose late tokens are within `missShare` of the arrivals' tokens, and what bound it. */
export function replicasForArrivals(
  arrivals: readonly number[],
  rates: PrefillRates,
  scrapeIntervalS: number,
  missShare: number,
  max: number,
): { replicas: number; binding: PrefillBurstBinding } {
  let total = 0;
  for (const t of arrivals) total += t;
  const allowed = missShare * total;
  const ok = (p: number) => lateTokens(arrivals, p, rates, scrapeIntervalS) <= allowed;
  if (ok(1)) return { replicas: 1, binding: 'no_burst' };
  if (!ok(max)) return { replicas: max, binding: 'burst_budget' };
  let lo = 1; // too few
  let hi = max; // enough
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (ok(mid)) hi = mid;
    else lo = mid;
  }
  return { replicas: hi, binding: 'burst_size' };
}

/**
 * Prompt tokens of each scrape interval: the counter's increase times the mean ISL (a counter
 * that went down is a restarted frontend: that interval is skipped). `previous` is the counter
 * before the first scrape (undefined: none yet); returns the last counter seen too.
 */
export function arrivalTokens(samples: readonly RouterSnapshot[], previous: number | undefined, isl: number): { tokens: number[]; last: number | undefined } {
  const tokens: number[] = [];
  let last = previous;
  for (const snap of samples) {
    const count = snap.requests_started_total;
    if (count === undefined) continue;
    if (last !== undefined && count >= last) tokens.push((count - last) * isl);
    last = count;
  }
  return { tokens, last };
}

/** A group's count. */
interface GroupCount {
  endS: number;
  replicas: number;
}

export class PrefillBurstSizing {
  /** Closed groups' counts over burst_memory_s, oldest first. */
  private readonly groups: GroupCount[] = [];
  /** Prompt tokens per scrape interval of the open group. */
  private open: number[] = [];
  private clockS = 0;
  private openSinceS = 0;
  private lastCount: number | undefined;
  /** Mean ISL of the last valid interval (0 until one: nothing is sized before). */
  private isl = 0;

  constructor(private readonly s: BurstSizingSettings) {}

  /** Exists when prefill_burst_sizing is on, load scaling feeds it scrapes, and the mode has a prefill pool. */
  static fromConfig(config: PlannerConfig, prefill: PrefillInterpolator | undefined, gpusPerReplica: number): PrefillBurstSizing | undefined {
    if (!config.prefill_burst_sizing || !config.enable_load_scaling || prefill === undefined || !(config.mode === 'disagg' || config.mode === 'prefill')) return undefined;
    const budgetReplicas = config.max_gpu_budget >= 0 ? Math.floor(config.max_gpu_budget / gpusPerReplica) : MAX_POOL_REPLICAS;
    return new PrefillBurstSizing({
      prefill,
      gpusPerReplica,
      ttftTargetMs: config.ttft,
      scrapeIntervalS: config.load_adjustment_interval / config.load_metric_samples,
      groupS: Math.max(config.cold_start_s, config.load_adjustment_interval),
      memoryS: config.burst_memory_s,
      missShare: config.prefill_burst_miss_share,
      maxReplicas: Math.max(1, Math.min(budgetReplicas, MAX_POOL_REPLICAS)),
    });
  }

  /** A valid interval: its mean ISL, what each arrival is counted as. */
  learn(obs: IntervalObservation): void {
    const isl = obs.isl ?? 0;
    if (isl > 0 && Number.isFinite(isl)) this.isl = isl;
  }

  /** A load tick's scrapes (one load_adjustment_interval); a group closes every groupS. */
  observeLoad(samples: readonly RouterSnapshot[], loadIntervalS: number): void {
    this.clockS += loadIntervalS;
    const { tokens, last } = arrivalTokens(samples, this.lastCount, this.isl);
    this.lastCount = last;
    // Bounded: a group holds groupS / scrapeIntervalS entries, whatever a tick carries.
    const room = Math.ceil(this.s.groupS / this.s.scrapeIntervalS) - this.open.length;
    if (this.isl > 0) this.open.push(...tokens.slice(Math.max(0, tokens.length - Math.max(0, room))));
    if (this.clockS - this.openSinceS >= this.s.groupS) {
      this.groups.push({ endS: this.clockS, replicas: this.count(this.open).replicas });
      this.open = [];
      this.openSinceS = this.clockS;
      while (this.groups.length > 0 && this.groups[0].endS <= this.clockS - Math.max(this.s.memoryS, this.s.groupS)) this.groups.shift();
    }
  }

  private count(arrivals: readonly number[]): { replicas: number; binding: PrefillBurstBinding } {
    if (arrivals.length === 0 || !(this.isl > 0)) return { replicas: 1, binding: 'no_burst' };
    const rates = prefillRates(this.s.prefill, this.s.gpusPerReplica, this.isl, this.s.ttftTargetMs);
    if (!(rates.tokensPerS > 0)) return { replicas: 1, binding: 'no_burst' };
    return replicasForArrivals(arrivals, rates, this.s.scrapeIntervalS, this.s.missShare, this.s.maxReplicas);
  }

  /** The standing count: the most any group of burst_memory_s needed, the open one included. */
  size(): PrefillBurstDetail {
    let best = { ...this.count(this.open), group_end_s: this.clockS };
    for (const g of this.groups) if (g.replicas > best.replicas) best = { replicas: g.replicas, binding: g.replicas >= this.s.maxReplicas ? 'burst_budget' : 'burst_size', group_end_s: g.endS };
    return { replicas: best.replicas, binding: best.binding, groups: this.groups.length + 1, age_s: this.clockS - best.group_end_s };
  }

  /** The plan with prefill at least at the count the bursts need. */
  raise(plan: Plan): { plan: Plan; detail: PrefillBurstDetail } {
    const detail = this.size();
    const p = plan.prefill;
    if (p === undefined || detail.replicas <= p.replicas) return { plan, detail };
    return { plan: { ...plan, prefill: { replicas: detail.replicas, binding: 'prefill_burst' } }, detail };
  }
}
