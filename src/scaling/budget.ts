// Stage "lower bound / budget": max_gpu_budget over all managed pools, min_endpoint per pool. Pure
// functions: replica targets in, capped targets out, plus which rule bound the result so a
// decision can explain itself.
import { POOLS, type Binding, type Plan, type ReplicaCounts } from './decision.js';

export interface BudgetLimits {
  /** Most GPUs the managed pools may use together; negative = no budget. */
  maxGpuBudget: number;
  minEndpoint: number;
}

export type BudgetBinding = 'none' | Extract<Binding, 'gpu_budget' | 'gpu_budget_below_min_endpoint'>;

export interface PoolBudgetResult {
  replicas: number;
  binding: BudgetBinding;
}

export interface GlobalBudgetResult {
  prefill: number;
  decode: number;
  binding: BudgetBinding;
}

/**
 * Prefill and decode share one budget. When the targets do not fit, both shrink by the same
 * factor (floored), prefill is capped so that `minEndpoint` decode replicas still fit, and
 * whatever GPUs remain go to decode. When even `minEndpoint` of each pool does not fit, the budget
 * wins and both pools get 0: the original does this, and a decision must never exceed the budget.
 */
export function applyGlobalBudget(
  prefill: number,
  decode: number,
  gpus: { prefill: number; decode: number },
  limits: BudgetLimits,
): GlobalBudgetResult {
  const budget = limits.maxGpuBudget;
  if (budget < 0) return { prefill, decode, binding: 'none' };
  const required = prefill * gpus.prefill + decode * gpus.decode;
  if (required <= budget) return { prefill, decode, binding: 'none' };
  const minRequired = limits.minEndpoint * (gpus.prefill + gpus.decode);
  if (budget < minRequired) return { prefill: 0, decode: 0, binding: 'gpu_budget_below_min_endpoint' };
  const scale = budget / required;
  const maxPrefill = Math.floor((budget - limits.minEndpoint * gpus.decode) / gpus.prefill);
  const cappedPrefill = Math.max(limits.minEndpoint, Math.min(maxPrefill, Math.floor(prefill * scale)));
  const remaining = budget - cappedPrefill * gpus.prefill;
  const cappedDecode = Math.max(limits.minEndpoint, Math.floor(remaining / gpus.decode));
  return { prefill: cappedPrefill, decode: cappedDecode, binding: 'gpu_budget' };
}

/**
 * One managed pool (prefill, decode or agg mode): as many replicas as fit, never fewer than
 * `minEndpoint` unless even those do not fit (then 0, the budget wins).
 */
export function applyPoolBudget(replicas: number, gpusPerReplica: number, limits: BudgetLimits): PoolBudgetResult {
  const budget = limits.maxGpuBudget;
  if (budget < 0) return { replicas, binding: 'none' };
  const required = replicas * gpusPerReplica;
  if (required <= budget) return { replicas, binding: 'none' };
  if (budget < limits.minEndpoint * gpusPerReplica) return { replicas: 0, binding: 'gpu_budget_below_min_endpoint' };
  // Same float operations as the original (scale first, then multiply) so rounding matches.
  const scale = budget / required;
  const capped = Math.max(limits.minEndpoint, Math.floor(replicas * scale));
  return { replicas: capped, binding: 'gpu_budget' };
}

/** GPUs the counts use. */
export function gpusOf(counts: ReplicaCounts, gpusPerReplica: ReplicaCounts): number {
  return counts.prefill * gpusPerReplica.prefill + counts.decode * gpusPerReplica.decode;
}

/** Every managed pool at least min_endpoint (the original's load path floors at 1 only). */
export function atLeastMinEndpoint(plan: Plan, minEndpoint: number): Plan {
  const out: Plan = {};
  for (const pool of POOLS) {
    const now = plan[pool];
    if (now !== undefined) out[pool] = minEndpoint > now.replicas ? { replicas: minEndpoint, binding: 'min_endpoint' } : now;
  }
  return out;
}

/**
 * The budget over the plan's pools: both pools share it, one pool has it alone. A pool the budget
 * shrank is bound by it, with a warning for the operator.
 */
export function withinBudget(plan: Plan, gpusPerReplica: ReplicaCounts, limits: BudgetLimits): { plan: Plan; warning?: string } {
  const { prefill, decode } = plan;
  let capped: { prefill?: number; decode?: number; binding: BudgetBinding };
  if (prefill !== undefined && decode !== undefined) {
    capped = applyGlobalBudget(prefill.replicas, decode.replicas, gpusPerReplica, limits);
  } else if (prefill !== undefined) {
    const r = applyPoolBudget(prefill.replicas, gpusPerReplica.prefill, limits);
    capped = { prefill: r.replicas, binding: r.binding };
  } else {
    const r = applyPoolBudget(decode?.replicas ?? 0, gpusPerReplica.decode, limits);
    capped = { decode: r.replicas, binding: r.binding };
  }
  const binding = capped.binding;
  const out: Plan = {};
  for (const pool of POOLS) {
    const before = plan[pool];
    const replicas = capped[pool];
    if (before !== undefined && replicas !== undefined) out[pool] = binding === 'none' ? { ...before, replicas } : { replicas, binding };
  }
  if (binding === 'gpu_budget_below_min_endpoint') {
    return { plan: out, warning: `max_gpu_budget (${limits.maxGpuBudget}) is below the GPUs of min_endpoint (${limits.minEndpoint}) replicas per pool; the budget wins and the pools are set to 0 replicas.` };
  }
  if (binding === 'gpu_budget') return { plan: out, warning: `the targets need more than max_gpu_budget (${limits.maxGpuBudget}) GPUs; scaled down to fit.` };
  return { plan: out };
}

/**
 * The budget over a scale-out (a saturation load tick): replicas already running stay, and the GPUs
 * left over go to the growth one replica at a time, to the pool short of the larger share of what
 * it asked for. Shrinking a running pool to grow another would trade one overload for another, so
 * when the running counts themselves are over the budget the plain budget applies instead.
 */
export function growthWithinBudget(plan: Plan, running: ReplicaCounts, gpusPerReplica: ReplicaCounts, limits: BudgetLimits): { plan: Plan; warning?: string } {
  const pools = POOLS.filter((pool) => plan[pool] !== undefined);
  const base: ReplicaCounts = { prefill: 0, decode: 0 };
  const wanted: ReplicaCounts = { prefill: 0, decode: 0 };
  for (const pool of pools) {
    base[pool] = Math.min(running[pool], plan[pool]!.replicas);
    wanted[pool] = plan[pool]!.replicas;
  }
  const budget = limits.maxGpuBudget;
  if (budget < 0 || gpusOf(wanted, gpusPerReplica) <= budget) return { plan };
  if (gpusOf(base, gpusPerReplica) > budget) return withinBudget(plan, gpusPerReplica, limits);
  let spare = budget - gpusOf(base, gpusPerReplica);
  const granted = { ...base };
  // Each pass grants one replica, so the loop runs at most (wanted - running) times in all.
  for (;;) {
    let pick: (typeof POOLS)[number] | undefined;
    let shortShare = 0;
    for (const pool of pools) {
      const short = wanted[pool] - granted[pool];
      if (short <= 0 || gpusPerReplica[pool] > spare) continue;
      const share = short / wanted[pool];
      if (share > shortShare) [pick, shortShare] = [pool, share];
    }
    if (pick === undefined) break;
    granted[pick] += 1;
    spare -= gpusPerReplica[pick];
  }
  const out: Plan = {};
  for (const pool of pools) out[pool] = granted[pool] < wanted[pool] ? { replicas: granted[pool], binding: 'gpu_budget' } : plan[pool]!;
  return { plan: out, warning: `the scale-out needs more than max_gpu_budget (${limits.maxGpuBudget}) GPUs; running replicas kept and the rest granted as far as it goes.` };
}
