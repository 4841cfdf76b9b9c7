// The sweeps the original profiler runs against a live engine, run against the performance model
// instead: the same ISL and concurrency grids, so the files look like the original's.
import { InputError } from '../util/errors.js';
import { itlMs, ttftMs, type Engine } from './perf.js';

/** Python's range(start, stop, step) for a positive step. */
export function pyRange(start: number, stop: number, step: number): number[] {
  const out: number[] = [];
  for (let v = start; v < stop; v += step) out.push(v);
  return out;
}

export interface PrefillSweep {
  prefill_isl: number[];
  prefill_ttft: number[];
  prefill_thpt_per_gpu: number[];
}

export interface DecodeSweep {
  x_kv_usage: number[];
  y_context_length: number[];
  z_itl: number[];
  z_thpt_per_gpu: number[];
  max_kv_tokens: number;
}

/** Decode output length the original sweeps with (long enough for a stable ITL). */
export const DECODE_OSL = 500;
/** The original caps decode concurrency here (limit of its load generator). */
export const DECODE_MAX_CONCURRENCY = 2000;

/**
 * Prefill: ISLs from 100 up to the context limit minus 512 (room for a chat template), in
 * `granularity` steps; TTFT at concurrency 1 and input tokens/s/GPU.
 */
export function prefillSweep(e: Engine, maxContextLength: number, granularity: number): PrefillSweep {
  const top = maxContextLength - 512;
  const step = Math.floor((top - 100) / granularity);
  if (top <= 100 || step <= 0) {
    throw new InputError(`the context length ${maxContextLength} (--max-context-length, else the model's max_position_embeddings) is too small to sweep prefill at granularity ${granularity}; need at least ${612 + granularity} tokens.`);
  }
  const out: PrefillSweep = { prefill_isl: [], prefill_ttft: [], prefill_thpt_per_gpu: [] };
  for (const isl of pyRange(100, top, step)) {
    const ttft = ttftMs(e, isl);
    out.prefill_isl.push(isl);
    out.prefill_ttft.push(ttft);
    out.prefill_thpt_per_gpu.push((isl / ttft / e.tp) * 1000);
  }
  return out;
}

/** The concurrencies the original tries at one ISL: `granularity` values spread over [1, max]. */
export function numRequestRange(maxConcurrency: number, granularity: number): number[] {
  const max = Math.min(maxConcurrency, DECODE_MAX_CONCURRENCY);
  if (max < granularity) return pyRange(1, max + 1, 1);
  const step = (max - 1) / (granularity - 1);
  return Array.from({ length: granularity }, (_, i) => 1 + Math.floor(i * step));
}

/**
 * Decode: for ISLs from 100 to the context limit minus the OSL, every concurrency in
 * numRequestRange up to what the KV cache holds; each point at the mean context isl + osl/2.
 */
export function decodeSweep(e: Engine, maxContextLength: number, granularity: number, maxKvTokens: number): DecodeSweep {
  const step = Math.floor((maxContextLength - DECODE_OSL) / granularity);
  if (step <= 0 || maxContextLength - DECODE_OSL <= 100) {
    throw new InputError(`--max-context-length ${maxContextLength} is too small to sweep decode (osl ${DECODE_OSL}) at granularity ${granularity}.`);
  }
  const out: DecodeSweep = { x_kv_usage: [], y_context_length: [], z_itl: [], z_thpt_per_gpu: [], max_kv_tokens: maxKvTokens };
  for (const isl of pyRange(100, maxContextLength - DECODE_OSL, step)) {
    const maxConcurrency = Math.floor(maxKvTokens / (isl + DECODE_OSL));
    if (maxConcurrency === 0) break;
    const context = isl + DECODE_OSL / 2;
    for (const n of numRequestRange(maxConcurrency, granularity)) {
      const itl = itlMs(e, n, context);
      out.x_kv_usage.push((context * n) / maxKvTokens);
      out.y_context_length.push(context);
      out.z_itl.push(itl);
      out.z_thpt_per_gpu.push((n / itl / e.tp) * 1000);
    }
  }
  return out;
}
