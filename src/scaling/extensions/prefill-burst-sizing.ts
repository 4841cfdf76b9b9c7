// prefill_burst_sizing (sla-planner extension; off by default and under strategy sla: on the
// shared traces it spends more GPU-hours than ttft_feedback for the same attainment, README
// "strategy: sla"). Prompts that arrive together queue behind each other however low the
// interval's mean rate is, and a replica asked for when such a burst is seen serves a cold start
// later. So this stage keeps standing prefill sized from the bursts themselves. Each load tick
// reads the most prompt tokens the router showed queued on every prefill worker at once (workers
// × the least-loaded one's queue: one long prompt on one worker is no burst, more replicas would
// not prefill it sooner); a burst of W tokens on p replicas prefilling r tokens/s each meets the
// TTFT target for its first p·r·slack tokens and misses it for the rest. Per cold start of load
// ticks (a group), the count is the fewest replicas whose missed tokens stay within
// prefill_burst_miss_share of the prompt tokens such a span brings; the standing count is the
// most any group of burst_memory_s needed, so a burst's capacity is released once it leaves the
// window, and the load loop asks for it at once when a new burst needs more.
import type { PlannerConfig } from '../../config/schema.js';
import type { PrefillInterpolator } from '../../profile-data/types.js';
import type { Plan, PrefillBurstBinding, PrefillBurstDetail } from '../decision.js';
import type { IntervalObservation, PrefillWorkerSample, RouterSnapshot } from '../observation.js';
import { MAX_POOL_REPLICAS } from '../screen.js';

/** One load tick's burst: the prompt tokens it queued and what one replica prefills within the TTFT slack. */
export interface TickBurst {
  /** Most prompt tokens queued on every worker of the pool in one scrape of the tick (workers × the least-loaded one's queue). */
  burstTokens: number;
  /** Tokens one replica prefills within the TTFT slack (tokens/s × (target − idle TTFT)). */
  slackTokensPerReplica: number;
}

export interface BurstSizingSettings {
  prefill: PrefillInterpolator;
  gpusPerReplica: number;
  ttftTargetMs: number;
  loadIntervalS: number;
  /** Seconds of load ticks one count is sized over (a cold start: what a new replica takes to help). */
  groupS: number;
  memoryS: number;
  /** Share of a group's prompt tokens its bursts may leave past the slack. */
  missShare: number;
  maxReplicas: number;
}

/**
 * The burst of one load tick's scrapes (undefined when no scrape shows the prefill pool). `isl` is
 * the mean prompt length the rates are read at.
 */
export function tickBurst(samples: readonly RouterSnapshot[], isl: number, s: Pick<BurstSizingSettings, 'prefill' | 'gpusPerReplica' | 'ttftTargetMs'>): TickBurst | undefined {
  let peak = -1;
  for (const snap of samples) {
    if (snap.prefill === undefined) continue;
    const workers = Object.values(snap.prefill) as PrefillWorkerSample[];
    if (workers.length === 0) continue;
    let least = Infinity;
    for (const g of workers) least = Math.min(least, g.active_prefill_tokens);
    // The part of the queue spread over every worker: one long prompt on one worker is no burst
    // (more replicas would not prefill it sooner).
    peak = Math.max(peak, least * workers.length);
  }
  if (peak < 0) return undefined;
  const lengthTokens = Math.min(Math.max(isl, s.prefill.minIsl), s.prefill.maxIsl);
  const rate = s.prefill.thptPerGpu(lengthTokens) * s.gpusPerReplica;
  if (!(rate > 0)) return undefined;
  const idleMs = s.prefill.ttftMs(lengthTokens);
  // With no slack left the target itself bounds the wait (such prompts are infeasible anyway).
  const slackS = (s.ttftTargetMs > idleMs ? s.ttftTargetMs - idleMs : s.ttftTargetMs) / 1000;
  return { burstTokens: peak, slackTokensPerReplica: rate * slackS };
}

/** Prompt tokens of the window's bursts that queue past the TTFT slack on `replicas` replicas. */
export function missedTokens(bursts: readonly TickBurst[], replicas: number): number {
  let missed = 0;
  for (const b of bursts) missed += Math.max(0, b.burstTokens - replicas * b.slackTokensPerReplica);
  return missed;
}

/**
 * The fewest replicas (1..max) whose missed burst tokens are within `allowed` tokens; 'burst_size'
 * when that needs more than one replica, 'burst_budget' when even `max` misses more.
 */
export function replicasForBursts(bursts: readonly TickBurst[], allowed: number, max: number): { replicas: number; binding: PrefillBurstBinding } {
  if (missedTokens(bursts, 1) <= allowed) return { replicas: 1, binding: 'no_burst' };
  if (missedTokens(bursts, max) > allowed) return { replicas: max, binding: 'burst_budget' };
  let lo = 1; // misses too much
  let hi = max; // within the allowance
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (missedTokens(bursts, mid) <= allowed) hi = mid;
    else lo = mid;
  }
  return { replicas: hi, binding: 'burst_size' };
}

/** Entries of a sliding window, each stamped with the clock (s) it was recorded at. */
class Window<T> {
  private readonly items: Array<{ atS: number; value: T }> = [];
  private head = 0;

  constructor(
    private readonly spanS: number,
    private readonly maxItems: number,
  ) {}

  push(atS: number, value: T): void {
    this.items.push({ atS, value });
    while (this.head < this.items.length && (this.items[this.head].atS <= atS - this.spanS || this.items.length - this.head > this.maxItems)) this.head++;
    // Compact once the dropped prefix dominates, so memory stays bounded by maxItems.
    if (this.head > this.maxItems) {
      this.items.splice(0, this.head);
      this.head = 0;
    }
  }

  values(): T[] {
    return this.items.slice(this.head).map((e) => e.value);
  }
}

export class PrefillBurstSizing {
  /** Each closed group's count, over burst_memory_s. */
  private readonly needed: Window<number>;
  /** The bursts of the group still open. */
  private group: TickBurst[] = [];
  private groupStartS = 0;
  private loadClockS = 0;
  /** Prompt tokens/s and mean ISL of the last valid interval (0 until one). */
  private arrivalTokensPerS = 0;
  private isl = 0;
  private peakBurstTokens = 0;

  constructor(private readonly s: BurstSizingSettings) {
    this.needed = new Window(Math.max(s.memoryS, s.groupS), Math.ceil(Math.max(s.memoryS, s.groupS) / s.groupS) + 1);
  }

  /** Exists when prefill_burst_sizing is on, load scaling feeds it scrapes, and the mode has a prefill pool. */
  static fromConfig(config: PlannerConfig, prefill: PrefillInterpolator | undefined, gpusPerReplica: number): PrefillBurstSizing | undefined {
    if (!config.prefill_burst_sizing || !config.enable_load_scaling || prefill === undefined || !(config.mode === 'disagg' || config.mode === 'prefill')) return undefined;
    const budgetReplicas = config.max_gpu_budget >= 0 ? Math.floor(config.max_gpu_budget / gpusPerReplica) : MAX_POOL_REPLICAS;
    return new PrefillBurstSizing({
      prefill,
      gpusPerReplica,
      ttftTargetMs: config.ttft,
      loadIntervalS: config.load_adjustment_interval,
      groupS: Math.max(config.cold_start_s, config.load_adjustment_interval),
      memoryS: config.burst_memory_s,
      missShare: config.prefill_burst_miss_share,
      maxReplicas: Math.max(1, Math.min(budgetReplicas, MAX_POOL_REPLICAS)),
    });
  }

  /** A valid interval: the rate prompt tokens arrive at (what the miss share is a share of) and their mean length. */
  learn(obs: IntervalObservation, intervalS: number): void {
    const n = obs.num_req ?? 0;
    const isl = obs.isl ?? 0;
    if (n > 0 && isl > 0 && Number.isFinite(n * isl)) {
      this.arrivalTokensPerS = (n * isl) / intervalS;
      this.isl = isl;
    }
  }

  /** A load tick's scrapes; a group closes every groupS. */
  observeLoad(samples: readonly RouterSnapshot[]): void {
    this.loadClockS += this.s.loadIntervalS;
    const burst = tickBurst(samples, this.isl > 0 ? this.isl : meanLastIsl(samples), this.s);
    if (burst !== undefined) this.group.push(burst);
    if (this.loadClockS - this.groupStartS >= this.s.groupS) {
      this.needed.push(this.loadClockS, this.groupCount());
      this.peakBurstTokens = 0;
      for (const b of this.group) this.peakBurstTokens = Math.max(this.peakBurstTokens, b.burstTokens);
      this.group = [];
      this.groupStartS = this.loadClockS;
    }
  }

  /** The open group's count: its bursts within the miss share of the tokens a group's span brings. */
  private groupCount(): number {
    return replicasForBursts(this.group, this.s.missShare * this.arrivalTokensPerS * this.s.groupS, this.s.maxReplicas).replicas;
  }

  /** The standing count: the most any group of burst_memory_s (the open one too) needed. */
  size(): PrefillBurstDetail {
    let replicas = this.groupCount();
    let groups = 1;
    for (const n of this.needed.values()) {
      replicas = Math.max(replicas, n);
      groups++;
    }
    const binding: PrefillBurstBinding = replicas >= this.s.maxReplicas ? 'burst_budget' : replicas > 1 ? 'burst_size' : 'no_burst';
    return { replicas, binding, last_peak_burst_tokens: this.peakBurstTokens, groups, arrival_prompt_tokens_per_s: this.arrivalTokensPerS };
  }

  /** The plan with prefill at least at the count the bursts need. */
  raise(plan: Plan): { plan: Plan; detail: PrefillBurstDetail } {
    const detail = this.size();
    const p = plan.prefill;
    if (p === undefined || detail.replicas <= p.replicas) return { plan, detail };
    return { plan: { ...plan, prefill: { replicas: detail.replicas, binding: 'prefill_burst' } }, detail };
  }
}

/** Mean last_isl the prefill workers report (0 when none has one). */
function meanLastIsl(samples: readonly RouterSnapshot[]): number {
  let sum = 0;
  let n = 0;
  for (const snap of samples) {
    for (const g of Object.values(snap.prefill ?? {}) as PrefillWorkerSample[]) {
      if (g.last_isl > 0) {
        sum += g.last_isl;
        n++;
      }
    }
  }
  return n > 0 ? sum / n : 0;
}
