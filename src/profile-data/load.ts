// Locate, read and validate the profiler's output (both layouts it writes), as the original does:
// the npz files win, the ConfigMap JSON files are the fallback, and neither is fatal.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../util/errors.js';
import { yamlNestingProblem, yamlPackage } from '../util/yaml-limits.js';
import { readNpz } from './npz.js';
import type { DecodeProfile, PrefillProfile, ProfileData } from './types.js';

export const PREFILL_NPZ = join('selected_prefill_interpolation', 'raw_data.npz');
export const DECODE_NPZ = join('selected_decode_interpolation', 'raw_data.npz');
export const PREFILL_JSON = 'prefill_raw_data.json';
export const DECODE_JSON = 'decode_raw_data.json';

/**
 * KV usage is a fraction of the engine's KV capacity, but the profiler estimates it as
 * (isl + osl/2) * requests / max_kv_tokens with osl fixed at 500, so a point can land a little
 * above 1. We accept up to this much beyond [0, 1]; such a point still counts in the
 * triangulation, while the grid only spans [0, 1].
 */
export const KV_USAGE_SLACK = 0.01;

/** The smallest prefill sweep a not-a-knot cubic spline (scipy interp1d kind="cubic") accepts. */
export const MIN_PREFILL_POINTS = 4;

/**
 * Largest values a profile can hold, far beyond any engine: a value past these is a unit mistake
 * or corruption, and would overflow the interpolators (an ISL of 1e300 squares to Infinity).
 */
export const PROFILE_LIMITS = {
  tokens: 1e8, // ISL, context length (100M tokens)
  maxKvTokens: 1e12,
  latencyMs: 1e7, // TTFT, ITL (almost 3 hours)
  thptPerGpu: 1e9, // tokens/s/GPU
} as const;

/**
 * Most measured points accepted. Interpolation work grows faster than linearly with them (the
 * prefill spline solves a dense system; the decode triangulation and its fit), and the profiler
 * writes at most ~1,000 prefill and ~2,600 decode points.
 */
export const MAX_PREFILL_POINTS = 2048;
export const MAX_DECODE_POINTS = 5000;

/** Largest text file (JSON/YAML) read as profile data. */
export const PROFILE_TEXT_MAX_BYTES = 64 * 1024 * 1024;

type Raw = Record<string, unknown>;

/** Where a key came from, for messages: a file, or a ConfigMap entry inside a file. */
interface Origin {
  label: string; // e.g. "/x/prefill_raw_data.json" or "/x/cm.json data.prefill_raw_data.json"
}

function numberArray(raw: Raw, key: string, origin: Origin, opts: { allowScalar?: boolean } = {}): number[] {
  if (!(key in raw)) {
    throw new InputError(`${origin.label}: missing key '${key}'; the profiler writes it (found keys: ${Object.keys(raw).join(', ') || 'none'}).`);
  }
  const value = raw[key];
  const arr = Array.isArray(value) ? value : opts.allowScalar ? [value] : null;
  if (arr === null) throw new InputError(`${origin.label}: key '${key}' must be a list of numbers, got ${typeof value}.`);
  arr.forEach((v, i) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      let shown: string;
      try { shown = (JSON.stringify(v) ?? String(v)).slice(0, 60); } catch { shown = 'a deeply nested value'; }
      throw new InputError(`${origin.label}: key '${key}' has a non-finite value ${shown} at index ${i}; every value must be a finite number (remove failed measurements).`);
    }
    if (v < 0) {
      throw new InputError(`${origin.label}: key '${key}' has a negative value ${v} at index ${i}; profile values are latencies, lengths and throughputs, all >= 0.`);
    }
  });
  return arr as number[];
}

function sameLength(origin: Origin, base: [string, number[]], others: Array<[string, number[]]>): void {
  for (const [key, arr] of others) {
    if (arr.length !== base[1].length) {
      throw new InputError(`${origin.label}: key '${key}' has ${arr.length} values but '${base[0]}' has ${base[1].length}; the arrays must have one value per measured point.`);
    }
  }
}

function positive(origin: Origin, key: string, arr: number[]): void {
  const i = arr.findIndex((v) => v <= 0);
  if (i >= 0) throw new InputError(`${origin.label}: key '${key}' is ${arr[i]} at index ${i}; it must be > 0 (a zero latency, length or throughput is a failed measurement).`);
}

function atMost(origin: Origin, key: string, arr: number[], limit: number, unit: string): void {
  const i = arr.findIndex((v) => v > limit);
  if (i >= 0) throw new InputError(`${origin.label}: key '${key}' is ${arr[i]} at index ${i}, beyond any engine (at most ${limit} ${unit}); check the units or regenerate the profile.`);
}

export function validatePrefill(raw: Raw, origin: Origin): PrefillProfile {
  const isl = numberArray(raw, 'prefill_isl', origin);
  const ttftMs = numberArray(raw, 'prefill_ttft', origin);
  const thptPerGpu = numberArray(raw, 'prefill_thpt_per_gpu', origin);
  sameLength(origin, ['prefill_isl', isl], [['prefill_ttft', ttftMs], ['prefill_thpt_per_gpu', thptPerGpu]]);
  if (isl.length > MAX_PREFILL_POINTS) {
    throw new InputError(`${origin.label}: ${isl.length} prefill points, more than the ${MAX_PREFILL_POINTS} the interpolator accepts (the profiler writes at most about 1,000); sweep fewer ISLs.`);
  }
  positive(origin, 'prefill_isl', isl);
  positive(origin, 'prefill_ttft', ttftMs);
  positive(origin, 'prefill_thpt_per_gpu', thptPerGpu);
  atMost(origin, 'prefill_isl', isl, PROFILE_LIMITS.tokens, 'tokens');
  atMost(origin, 'prefill_ttft', ttftMs, PROFILE_LIMITS.latencyMs, 'ms');
  atMost(origin, 'prefill_thpt_per_gpu', thptPerGpu, PROFILE_LIMITS.thptPerGpu, 'tokens/s/GPU');
  if (isl.length < MIN_PREFILL_POINTS) {
    throw new InputError(`${origin.label}: 'prefill_isl' has ${isl.length} points; the cubic prefill interpolator needs at least ${MIN_PREFILL_POINTS} distinct ISLs (re-run the profiler with a finer prefill sweep).`);
  }
  const seen = new Map<number, number>();
  isl.forEach((v, i) => {
    const j = seen.get(v);
    if (j !== undefined) throw new InputError(`${origin.label}: 'prefill_isl' has ${v} twice (indexes ${j} and ${i}); each ISL must appear once for the cubic interpolator.`);
    seen.set(v, i);
  });
  return { isl, ttftMs, thptPerGpu };
}

export function validateDecode(raw: Raw, origin: Origin): DecodeProfile {
  const kvUsage = numberArray(raw, 'x_kv_usage', origin);
  const contextLength = numberArray(raw, 'y_context_length', origin);
  const itlMs = numberArray(raw, 'z_itl', origin);
  const thptPerGpu = numberArray(raw, 'z_thpt_per_gpu', origin);
  // npz stores max_kv_tokens as shape (1,), the ConfigMap JSON as a scalar; [0] is used.
  const maxKv = numberArray(raw, 'max_kv_tokens', origin, { allowScalar: true });
  sameLength(origin, ['x_kv_usage', kvUsage], [['y_context_length', contextLength], ['z_itl', itlMs], ['z_thpt_per_gpu', thptPerGpu]]);
  if (kvUsage.length > MAX_DECODE_POINTS) {
    throw new InputError(`${origin.label}: ${kvUsage.length} decode points, more than the ${MAX_DECODE_POINTS} the interpolator accepts (the profiler writes at most about 2,600); sweep fewer concurrencies or context lengths.`);
  }
  if (maxKv.length < 1 || !(maxKv[0]! > 0)) {
    throw new InputError(`${origin.label}: 'max_kv_tokens' is ${JSON.stringify(maxKv[0] ?? null)}; it must be the engine's KV capacity in tokens, > 0.`);
  }
  atMost(origin, 'max_kv_tokens', maxKv.slice(0, 1), PROFILE_LIMITS.maxKvTokens, 'tokens');
  positive(origin, 'y_context_length', contextLength);
  positive(origin, 'z_itl', itlMs);
  positive(origin, 'z_thpt_per_gpu', thptPerGpu);
  atMost(origin, 'y_context_length', contextLength, PROFILE_LIMITS.tokens, 'tokens');
  atMost(origin, 'z_itl', itlMs, PROFILE_LIMITS.latencyMs, 'ms');
  atMost(origin, 'z_thpt_per_gpu', thptPerGpu, PROFILE_LIMITS.thptPerGpu, 'tokens/s/GPU');
  const bad = kvUsage.findIndex((v) => v > 1 + KV_USAGE_SLACK);
  if (bad >= 0) {
    throw new InputError(`${origin.label}: 'x_kv_usage' is ${kvUsage[bad]} at index ${bad}; KV usage is a fraction of max_kv_tokens and must lie in [0, 1] (up to ${KV_USAGE_SLACK} over is tolerated for the profiler's estimate).`);
  }
  if (!hasTriangle(kvUsage, contextLength)) {
    throw new InputError(`${origin.label}: the ${kvUsage.length} decode points (x_kv_usage, y_context_length) do not span an area (fewer than 3 distinct points, or all on one line); the decode interpolator needs a triangulation, so sweep at least two context lengths and two concurrencies.`);
  }
  return { kvUsage, contextLength, itlMs, thptPerGpu, maxKvTokens: maxKv[0]! };
}

/** True when at least three of the points are not collinear. */
function hasTriangle(xs: number[], ys: number[]): boolean {
  const n = xs.length;
  if (n < 3) return false;
  // Anchor on the first point and the point farthest from it, then look for any off-line point.
  let far = 0;
  let farD = 0;
  for (let i = 1; i < n; i++) {
    const d = Math.hypot(xs[i]! - xs[0]!, ys[i]! - ys[0]!);
    if (d > farD) [far, farD] = [i, d];
  }
  if (farD === 0) return false;
  const ax = xs[far]! - xs[0]!;
  const ay = ys[far]! - ys[0]!;
  for (let i = 1; i < n; i++) {
    const cross = ax * (ys[i]! - ys[0]!) - ay * (xs[i]! - xs[0]!);
    const scale = Math.abs(ax * (ys[i]! - ys[0]!)) + Math.abs(ay * (xs[i]! - xs[0]!));
    if (Math.abs(cross) > 1e-12 * scale) return true;
  }
  return false;
}

/** A profile text file, refusing anything larger than profile data can be. */
function readProfileText(path: string): string {
  try {
    const size = statSync(path).size;
    if (size > PROFILE_TEXT_MAX_BYTES) {
      throw new InputError(`${path}: ${size} bytes, over the ${PROFILE_TEXT_MAX_BYTES}-byte limit for profile data; this is not a profiler output file.`);
    }
    return readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`${path}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? String(err)}).`);
  }
}

function readJsonObject(path: string): Raw {
  return parseObject(readProfileText(path), { label: path }, 'JSON');
}

function parseObject(text: string, origin: Origin, kind: 'JSON' | 'JSON or YAML'): Raw {
  let value: unknown;
  const nesting = kind === 'JSON' ? null : yamlNestingProblem(text);
  if (nesting) throw new InputError(`${origin.label}: YAML nested too deeply (${nesting}); expected the profiler's ConfigMap.`);
  try {
    value = kind === 'JSON' ? JSON.parse(text) : yamlPackage().parse(text, { maxAliasCount: 100 });
  } catch (err) {
    throw new InputError(`${origin.label}: not valid ${kind} (${(err as Error).message.split('\n')[0]}).`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InputError(`${origin.label}: expected a ${kind} object with the profiler's keys.`);
  }
  return value as Raw;
}

function npzAsRaw(path: string): Raw {
  const arrays = readNpz(path);
  const raw: Raw = {};
  for (const [k, a] of Object.entries(arrays)) raw[k] = a.data;
  return raw;
}

/** Profile data from a whole `planner-profile-data` ConfigMap object (JSON or YAML file). */
export function loadProfileConfigMap(path: string): ProfileData {
  const text = readProfileText(path);
  const cm = parseObject(text, { label: path }, 'JSON or YAML');
  const data = cm.data;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new InputError(`${path}: expected a planner-profile-data ConfigMap with a 'data' map holding '${PREFILL_JSON}' and '${DECODE_JSON}'.`);
  }
  const entries = data as Raw;
  const part = (key: string): Raw => {
    const origin = { label: `${path} data.${key}` };
    const value = entries[key];
    if (typeof value !== 'string') {
      throw new InputError(`${origin.label}: missing or not a string; the ConfigMap's data must hold '${PREFILL_JSON}' and '${DECODE_JSON}' as JSON strings.`);
    }
    return parseObject(value, origin, 'JSON');
  };
  return {
    prefill: validatePrefill(part(PREFILL_JSON), { label: `${path} data.${PREFILL_JSON}` }),
    decode: validateDecode(part(DECODE_JSON), { label: `${path} data.${DECODE_JSON}` }),
    source: { prefill: `${path} data.${PREFILL_JSON}`, decode: `${path} data.${DECODE_JSON}` },
  };
}

/**
 * Load profile data from a profiler output dir (npz layout), a mounted ConfigMap dir (JSON
 * layout), or a ConfigMap object file. Per part, the npz file wins when both exist.
 */
export function loadProfileDir(dir: string): ProfileData {
  if (!existsSync(dir)) {
    throw new InputError(`profile dir ${dir} does not exist; profiling results are required (set profile_results_dir / --profile-dir to the profiler's output or the mounted planner-profile-data ConfigMap).`);
  }
  if (statSync(dir).isFile()) return loadProfileConfigMap(dir);

  const pick = (npz: string, json: string) => {
    const npzPath = join(dir, npz);
    if (existsSync(npzPath)) return { path: npzPath, raw: npzAsRaw(npzPath) };
    const jsonPath = join(dir, json);
    if (existsSync(jsonPath)) return { path: jsonPath, raw: readJsonObject(jsonPath) };
    return null;
  };
  const prefill = pick(PREFILL_NPZ, PREFILL_JSON);
  const decode = pick(DECODE_NPZ, DECODE_JSON);
  const missing: string[] = [];
  if (!prefill) missing.push(`${PREFILL_NPZ} or ${PREFILL_JSON}`);
  if (!decode) missing.push(`${DECODE_NPZ} or ${DECODE_JSON}`);
  if (!prefill || !decode) {
    throw new InputError(`profiling results are required: ${dir} has no ${missing.join(', and no ')}; run the profiler, or mount the planner-profile-data ConfigMap there.`);
  }
  return {
    prefill: validatePrefill(prefill.raw, { label: prefill.path }),
    decode: validateDecode(decode.raw, { label: decode.path }),
    source: { prefill: prefill.path, decode: decode.path },
  };
}
