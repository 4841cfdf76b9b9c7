// GPU budget rules: max_gpu_budget over all managed pools, min_endpoint per pool. Pure functions: replica targets in, capped targets out,
// plus which rule bound the result so a decision can explain itself.

export interface BudgetLimits {
  /** Most GPUs the managed pools may use together; negative = no budget. */
  maxGpuBudget: number;
  minEndpoint: number;
}

export type BudgetBinding = 'none' | 'gpu_budget' | 'gpu_budget_below_min_endpoint';

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
