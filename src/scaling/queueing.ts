// SLA-aware pool sizing (an sla-planner extension, `prefill_sizing: "queueing"`).
//
// Upstream sizes prefill at 100% of the profiled throughput: replicas = demand / capacity. A pool
// run at utilisation 1 has an unbounded queue, so TTFT blows past any target as soon as arrivals
// are not perfectly smooth. Here each prefill replica is a single server (one prompt at a time at
// its profiled rate, which is what the profile measures and what the capacity formula assumes),
// the pool is a c-server queue, and we pick the fewest c whose waiting time leaves the TTFT target
// met for a chosen fraction of requests.
//
// Model: M/G/c with the Allen-Cunneen approximation
//   E[Wq] ≈ C(c, a) / (cμ − λ) · (ca² + cs²) / 2
// where C is the Erlang-C probability of waiting, a = λ/μ the offered load in Erlangs, ca² and cs²
// the squared coefficients of variation of inter-arrival and service times. Allen-Cunneen is exact
// for M/M/c, within a few percent for M/G/c and G/G/c at moderate-to-high load, and only needs two
// moments, which is all the planner can know (it sees interval means, not distributions). For the
// tail we use the matching exponential: P(Wq > t) ≈ C · exp(−(cμ − λ) t / B) with
// B = (ca² + cs²)/2; this is exact for M/M/c (B = 1) and is Kingman's heavy-traffic exponential law
// scaled to the Allen-Cunneen mean in general.
//
// B (the "burstiness") is not observable directly. The planner does observe the mean TTFT of the
// last interval, the load that produced it and the replicas that served it, so it can compare the
// observed queueing delay with the M/M/c prediction (B = 1) at that load: their ratio is the B that
// would have explained the interval. That lumps together arrival bursts inside the interval
// (ca² > 1), the spread of prompt lengths (cs²) and model error, which is what we want to correct.
// See `observedBurstiness`.

export interface QueueSizingInput {
  /** Forecast arrivals per second. */
  arrivalRatePerS: number;
  /** Mean service time of one request on one replica, s (1/μ). */
  serviceS: number;
  /** TTFT of a request at the forecast ISL on an idle replica, ms (the profile's). */
  idleTtftMs: number;
  ttftTargetMs: number;
  /** Fraction of requests whose queueing wait must fit in the slack (target − idle TTFT), 0..1. */
  quantile: number;
  /** Allen-Cunneen B = (ca² + cs²) / 2; 1 = Poisson arrivals, exponential service. */
  burstiness: number;
  /** Highest utilisation λ/(cμ) allowed whatever the tail says, (0, 1). */
  maxUtilization: number;
  /** Search bound (e.g. what the GPU budget allows); the answer never exceeds it, and it bounds the work. */
  maxReplicas: number;
}

export type QueueBinding = 'sla' | 'utilization_cap' | 'sla_unreachable' | 'idle' | 'max_replicas';

export interface QueueSizing {
  replicas: number;
  binding: QueueBinding;
  /** Offered load λ/μ, Erlangs. */
  offeredErlangs: number;
  /** Predicted mean TTFT at `replicas` (idle TTFT + Allen-Cunneen wait), ms; Infinity if unstable. */
  predictedTtftMs: number;
  /** Predicted fraction of requests waiting longer than the slack at `replicas`. */
  predictedMissFraction: number;
}

/**
 * Erlang-C probability that an arrival waits, for c servers at offered load a (Erlangs), via the
 * Erlang-B recursion B_k = a·B_{k−1} / (k + a·B_{k−1}) (numerically stable for any c), then
 * C = B / (1 − ρ(1 − B)). 1 when the queue is unstable (a ≥ c).
 */
export function erlangC(c: number, a: number): number {
  if (!(a > 0)) return 0;
  if (a >= c) return 1;
  let b = 1;
  // Once B underflows to 0 it stays 0, so the loop ends there: beyond the offered load a it takes
  // a few multiples of sqrt(a) more steps, however large c is.
  for (let k = 1; k <= c && b > 0; k++) b = (a * b) / (k + a * b);
  const rho = a / c;
  return b / (1 - rho * (1 - b));
}

/** Allen-Cunneen mean queueing wait, s (Infinity when unstable). */
export function meanWaitS(c: number, arrivalRatePerS: number, serviceS: number, burstiness: number): number {
  if (!(arrivalRatePerS > 0)) return 0;
  const spare = c / serviceS - arrivalRatePerS;
  if (!(spare > 0)) return Infinity;
  return (erlangC(c, arrivalRatePerS * serviceS) / spare) * burstiness;
}

/** P(wait > t) under the exponential tail matched to the Allen-Cunneen mean. */
export function waitTailProbability(c: number, arrivalRatePerS: number, serviceS: number, burstiness: number, tS: number): number {
  if (!(arrivalRatePerS > 0)) return 0;
  const spare = c / serviceS - arrivalRatePerS;
  if (!(spare > 0)) return 1;
  return missFraction(erlangC(c, arrivalRatePerS * serviceS), spare, burstiness, tS);
}

/**
 * Fraction of arrivals waiting longer than t: P(wait) · exp(−spare · t / B). Tried against two
 * alternatives in the simulator: a distribution-free Markov bound E[W]/t (12-13% more GPU-hours
 * on the ServeGen days for +0.2 points) and putting √B into P(wait) (fewer GPU-hours, lower
 * attainment); the plain exponential sat between them, and prefill_ttft_quantile moves along the
 * same trade-off.
 */
function missFraction(waitProb: number, spareRatePerS: number, burstiness: number, tS: number): number {
  return waitProb * Math.exp((-spareRatePerS * Math.max(0, tS)) / burstiness);
}

/**
 * Fewest replicas (≥ 1 when there is any load) with utilisation ≤ maxUtilization and
 * P(wait > target − idle TTFT) ≤ 1 − quantile. When the idle TTFT alone misses the target no
 * replica count helps: the utilisation cap alone decides ('sla_unreachable').
 */
export function sizeQueueForSla(input: QueueSizingInput): QueueSizing {
  const lambda = input.arrivalRatePerS;
  const s = input.serviceS;
  const limit = Math.max(0, Math.floor(input.maxReplicas));
  if (!(lambda > 0) || !(s > 0)) {
    return { replicas: 0, binding: 'idle', offeredErlangs: 0, predictedTtftMs: input.idleTtftMs, predictedMissFraction: 0 };
  }
  const a = lambda * s;
  const burst = input.burstiness > 0 ? input.burstiness : 1;
  const slackS = (input.ttftTargetMs - input.idleTtftMs) / 1000;
  const allowedMiss = 1 - input.quantile;
  const capped = Math.max(1, Math.ceil(a / input.maxUtilization - 1e-9));
  const result = (c: number, binding: QueueBinding): QueueSizing => ({
    replicas: c,
    binding,
    offeredErlangs: a,
    predictedTtftMs: input.idleTtftMs + meanWaitS(c, lambda, s, burst) * 1000,
    predictedMissFraction: slackS > 0 ? waitTailProbability(c, lambda, s, burst, slackS) : 1,
  });
  if (capped >= limit) return result(Math.max(limit, 0), 'max_replicas');
  if (!(slackS > 0)) return result(capped, 'sla_unreachable');
  // Erlang-B grows incrementally with c, so the whole search is linear in the answer.
  let b = 1;
  for (let k = 1; k <= limit; k++) {
    b = (a * b) / (k + a * b);
    if (k < capped) continue;
    const rho = a / k;
    const waitProb = b / (1 - rho * (1 - b));
    const miss = missFraction(waitProb, k / s - lambda, burst, slackS);
    if (miss <= allowedMiss) return result(k, k === capped ? 'utilization_cap' : 'sla');
  }
  return result(limit, 'max_replicas');
}

/**
 * The B that explains an observed interval: observed mean queueing delay (observed TTFT − idle
 * TTFT at the observed ISL) over the M/M/c mean wait at the observed arrival rate and replicas.
 * Undefined when the interval says nothing (no load, no replicas, or a pool the model already
 * calls saturated, where the ratio would be meaningless).
 */
export function observedBurstiness(obs: {
  arrivalRatePerS: number;
  serviceS: number;
  replicas: number;
  observedTtftMs: number;
  idleTtftMs: number;
}): number | undefined {
  const { arrivalRatePerS: lambda, serviceS: s, replicas: c } = obs;
  if (!(lambda > 0) || !(s > 0) || !(c >= 1) || !Number.isFinite(obs.observedTtftMs)) return undefined;
  const rho = (lambda * s) / c;
  if (!(rho < 0.98)) return undefined;
  const modelWaitMs = meanWaitS(c, lambda, s, 1) * 1000;
  // Below ~1% of a service time the M/M/c wait is numerically noise; the ratio would explode.
  if (!(modelWaitMs > 0.01 * s * 1000)) return undefined;
  const observedWaitMs = Math.max(0, obs.observedTtftMs - obs.idleTtftMs);
  return observedWaitMs / modelWaitMs;
}
