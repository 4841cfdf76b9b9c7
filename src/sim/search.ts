// `--policy static:cheapest`: the fixed allocation with the fewest GPUs that reaches the SLA
// attainment of the run's reference policy (the first policy that scales), found by simulating
// every allocation of each GPU count in turn, fewest first.
import type { PlannerConfig } from '../config/schema.js';
import { InputError } from '../util/errors.js';
import { gpusPerReplica, runSimulations, type RunOptions } from './index.js';
import type { SimulationResult } from './simulator.js';
import type { PoolCounts } from './types.js';

export const CHEAPEST_STATIC = 'static:cheapest';

/** Most allocations simulated in one search (each is a full run of the trace). */
export const MAX_SEARCHED_ALLOCATIONS = 64;
/** GPUs searched up to when the config sets no budget. */
const UNBUDGETED_MAX_GPUS = 32;

export interface CheapestStatic {
  result: SimulationResult;
  /** The attainment it had to reach, and the policy that set it. */
  goal: number;
  reference: string;
  /** Allocations simulated, and whether one reached the goal (else the best seen is returned). */
  tried: number;
  reached: boolean;
}

/** Every allocation of at least one replica per managed pool within the budget, by GPUs then prefill. */
export function staticCandidates(config: PlannerConfig, gpus: PoolCounts): Array<{ counts: PoolCounts; gpus: number }> {
  const maxGpus = config.max_gpu_budget >= 0 ? config.max_gpu_budget : UNBUDGETED_MAX_GPUS;
  const floor = Math.max(1, config.min_endpoint);
  const out: Array<{ counts: PoolCounts; gpus: number }> = [];
  const prefills = config.mode === 'agg' ? [0] : Array.from({ length: Math.floor(maxGpus / gpus.prefill) }, (_, i) => i + 1).filter((p) => p >= floor);
  for (const p of prefills) {
    for (let d = floor; p * gpus.prefill + d * gpus.decode <= maxGpus; d++) out.push({ counts: { prefill: p, decode: d }, gpus: p * gpus.prefill + d * gpus.decode });
  }
  return out.sort((a, b) => a.gpus - b.gpus || a.counts.prefill - b.counts.prefill);
}

const specOf = (c: PoolCounts, agg: boolean) => (agg ? `static:${c.decode}` : `static:${c.prefill},${c.decode}`);

/**
 * Simulate allocations GPU count by GPU count (fewest first) until one reaches `goal`; of that
 * count, the one with the highest attainment wins. Stops after MAX_SEARCHED_ALLOCATIONS runs.
 */
export async function searchCheapestStatic(opts: Omit<RunOptions, 'policy'>, goal: number, reference: string): Promise<CheapestStatic> {
  const gpus = gpusPerReplica(opts.config, () => undefined);
  const agg = opts.config.mode === 'agg';
  const candidates = staticCandidates(opts.config, gpus);
  if (candidates.length === 0) throw new InputError(`--policy ${CHEAPEST_STATIC}: no allocation of one replica per pool fits max_gpu_budget ${opts.config.max_gpu_budget}; raise the budget.`);
  let best: SimulationResult | undefined;
  let tried = 0;
  for (let i = 0; i < candidates.length && tried < MAX_SEARCHED_ALLOCATIONS;) {
    const g = candidates[i].gpus;
    const group: PoolCounts[] = [];
    while (i < candidates.length && candidates[i].gpus === g && tried + group.length < MAX_SEARCHED_ALLOCATIONS) group.push(candidates[i++].counts);
    while (i < candidates.length && candidates[i].gpus === g) i++;
    const results = await runSimulations({ ...opts, policies: group.map((c) => specOf(c, agg)) });
    tried += group.length;
    const top = results.reduce((a, b) => (b.summary.sla_attainment > a.summary.sla_attainment ? b : a));
    if (top.summary.sla_attainment >= goal) return { result: top, goal, reference, tried, reached: true };
    if (!best || top.summary.sla_attainment > best.summary.sla_attainment) best = top;
  }
  return { result: best!, goal, reference, tried, reached: false };
}

/** The sentence the report shows under the searched row. */
export function searchNote(s: CheapestStatic): string {
  const goal = `${(s.goal * 100).toFixed(2)}%`;
  return s.reached
    ? `static:cheapest: the fewest GPUs reaching ${goal} (the attainment of ${s.reference}); ${s.tried} allocations simulated.`
    : `static:cheapest: no allocation within the budget reaches ${goal} (the attainment of ${s.reference}); the best of ${s.tried} simulated.`;
}
