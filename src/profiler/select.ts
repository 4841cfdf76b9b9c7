// Pick the tensor-parallel size of the prefill and of the decode engine: the best throughput per
// GPU among the sizes that meet the SLA (TTFT for prefill, ITL for decode), as the original
// profiler does; if none meets it, the size with the lowest latency, with a warning.
import { InputError } from '../util/errors.js';
import { itlMs, maxKvTokens, ttftMs, type Engine } from './perf.js';
import { DECODE_MAX_CONCURRENCY } from './sweep.js';
import type { Efficiency, GpuSpec, ModelShape } from './types.js';

export interface Workload {
  isl: number;
  osl: number;
  ttftMs: number;
  itlMs: number;
}

export interface PrefillCandidate {
  tp: number;
  maxKvTokens: number;
  ttftMs: number;
  thptPerGpu: number;
  meetsSla: boolean;
  /** Why this size cannot run at all (weights do not fit, heads do not split); else undefined. */
  infeasible?: string;
}

export interface DecodeCandidate {
  tp: number;
  maxKvTokens: number;
  /** Largest concurrency whose ITL meets the target (0 if even one sequence misses it). */
  batch: number;
  itlMs: number;
  thptPerGpu: number;
  meetsSla: boolean;
  infeasible?: string;
}

export interface Selection {
  prefill: { chosen: PrefillCandidate; candidates: PrefillCandidate[] };
  decode: { chosen: DecodeCandidate; candidates: DecodeCandidate[] };
  warnings: string[];
}

export const TP_SIZES = [1, 2, 4, 8];

function feasibility(model: ModelShape, gpu: GpuSpec, tp: number, kvTokens: number, contextNeeded: number): string | undefined {
  if (tp > gpu.maxGpusPerNode) return `more than ${gpu.maxGpusPerNode} GPUs per node`;
  if (model.numHeads % tp !== 0) return `${model.numHeads} attention heads do not split over ${tp} GPUs`;
  if (model.intermediateSize % tp !== 0) return `intermediate size ${model.intermediateSize} does not split over ${tp} GPUs`;
  if (kvTokens <= 0) return 'weights do not fit in GPU memory';
  if (kvTokens < contextNeeded) return `KV cache holds ${kvTokens} tokens, fewer than one request (${contextNeeded})`;
  return undefined;
}

/** Largest b in [1, max] with itl(b) <= target, for an ITL that never falls as b grows; 0 if none. */
export function largestBatchUnder(itlAt: (batch: number) => number, max: number, targetMs: number): number {
  if (max < 1 || itlAt(1) > targetMs) return 0;
  let lo = 1;
  let hi = max;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (itlAt(mid) <= targetMs) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

export function evaluatePrefill(model: ModelShape, gpu: GpuSpec, eff: Efficiency, tp: number, w: Workload): PrefillCandidate {
  const e: Engine = { model, gpu, tp, eff };
  const kv = maxKvTokens(e);
  const infeasible = feasibility(model, gpu, tp, kv, w.isl);
  if (infeasible) return { tp, maxKvTokens: kv, ttftMs: NaN, thptPerGpu: NaN, meetsSla: false, infeasible };
  const ttft = ttftMs(e, w.isl);
  return { tp, maxKvTokens: kv, ttftMs: ttft, thptPerGpu: (w.isl / ttft / tp) * 1000, meetsSla: ttft <= w.ttftMs };
}

export function evaluateDecode(model: ModelShape, gpu: GpuSpec, eff: Efficiency, tp: number, w: Workload): DecodeCandidate {
  const e: Engine = { model, gpu, tp, eff };
  const kv = maxKvTokens(e);
  const infeasible = feasibility(model, gpu, tp, kv, w.isl + w.osl);
  if (infeasible) return { tp, maxKvTokens: kv, batch: 0, itlMs: NaN, thptPerGpu: NaN, meetsSla: false, infeasible };
  const context = w.isl + w.osl / 2;
  const maxBatch = Math.min(Math.floor(kv / (w.isl + w.osl)), DECODE_MAX_CONCURRENCY);
  const batch = largestBatchUnder((b) => itlMs(e, b, context), maxBatch, w.itlMs);
  const at = Math.max(batch, 1);
  const itl = itlMs(e, at, context);
  return { tp, maxKvTokens: kv, batch, itlMs: itl, thptPerGpu: (at / itl / tp) * 1000, meetsSla: batch > 0 };
}

function pick<C extends { tp: number; thptPerGpu: number; meetsSla: boolean; infeasible?: string }>(
  candidates: C[],
  latency: (c: C) => number,
): { chosen: C | undefined; metSla: boolean } {
  const feasible = candidates.filter((c) => !c.infeasible);
  const meeting = feasible.filter((c) => c.meetsSla);
  if (meeting.length > 0) {
    // Ties go to the smaller engine: finer scaling steps for the planner.
    return { chosen: meeting.reduce((b, c) => (c.thptPerGpu > b.thptPerGpu ? c : b)), metSla: true };
  }
  return { chosen: feasible.reduce<C | undefined>((b, c) => (b === undefined || latency(c) < latency(b) ? c : b), undefined), metSla: false };
}

/** Evaluate every TP size (or only `tpOverride`) and choose one per phase. */
export function selectParallelism(model: ModelShape, gpu: GpuSpec, eff: Efficiency, w: Workload, tpOverride?: number): Selection {
  const sizes = tpOverride !== undefined ? [tpOverride] : TP_SIZES;
  const prefillCandidates = sizes.map((tp) => evaluatePrefill(model, gpu, eff, tp, w));
  const decodeCandidates = sizes.map((tp) => evaluateDecode(model, gpu, eff, tp, w));
  const warnings: string[] = [];
  const p = pick(prefillCandidates, (c) => c.ttftMs);
  const d = pick(decodeCandidates, (c) => c.itlMs);
  if (!p.chosen || !d.chosen) {
    const reasons = [...prefillCandidates, ...decodeCandidates].filter((c) => c.infeasible).map((c) => `TP${c.tp}: ${c.infeasible}`);
    throw new InputError(`--model ${model.name} cannot run on --gpu ${gpu.name} at any tensor-parallel size tried (${[...new Set(reasons)].join('; ')}); pick a larger GPU or a shorter --isl/--osl.`);
  }
  if (!p.metSla) warnings.push(`no prefill engine meets TTFT ${w.ttftMs} ms at ISL ${w.isl}; chose TP${p.chosen.tp} with the lowest TTFT (${p.chosen.ttftMs.toFixed(1)} ms).`);
  if (!d.metSla) warnings.push(`no decode engine meets ITL ${w.itlMs} ms even with one request; chose TP${d.chosen.tp} with the lowest ITL (${d.chosen.itlMs.toFixed(2)} ms).`);
  return { prefill: { chosen: p.chosen, candidates: prefillCandidates }, decode: { chosen: d.chosen, candidates: decodeCandidates }, warnings };
}

const fmt = (v: number, digits: number) => (Number.isFinite(v) ? v.toFixed(digits) : '-');

/** The choice and its alternatives as two plain-text tables. */
export function selectionTable(s: Selection, w: Workload): string {
  const lines: string[] = [];
  lines.push(`Prefill engine (ISL ${w.isl}, TTFT target ${w.ttftMs} ms)`);
  lines.push('  TP  max KV tokens  TTFT ms  tok/s/GPU  meets SLA');
  for (const c of s.prefill.candidates) {
    const mark = c === s.prefill.chosen ? '  <- chosen' : c.infeasible ? `  (${c.infeasible})` : '';
    lines.push(`  ${String(c.tp).padStart(2)}  ${String(c.maxKvTokens).padStart(13)}  ${fmt(c.ttftMs, 1).padStart(7)}  ${fmt(c.thptPerGpu, 0).padStart(9)}  ${(c.infeasible ? '-' : c.meetsSla ? 'yes' : 'no').padStart(9)}${mark}`);
  }
  lines.push('');
  lines.push(`Decode engine (ISL ${w.isl}, OSL ${w.osl}, ITL target ${w.itlMs} ms)`);
  lines.push('  TP  max KV tokens  batch  ITL ms  tok/s/GPU  meets SLA');
  for (const c of s.decode.candidates) {
    const mark = c === s.decode.chosen ? '  <- chosen' : c.infeasible ? `  (${c.infeasible})` : '';
    lines.push(`  ${String(c.tp).padStart(2)}  ${String(c.maxKvTokens).padStart(13)}  ${String(c.batch).padStart(5)}  ${fmt(c.itlMs, 2).padStart(6)}  ${fmt(c.thptPerGpu, 0).padStart(9)}  ${(c.infeasible ? '-' : c.meetsSla ? 'yes' : 'no').padStart(9)}${mark}`);
  }
  return lines.join('\n');
}
