// Profile data as the Dynamo profiler writes it (units as written: ms and tokens/s/GPU).

/** Prefill sweep: one point per ISL. */
export interface PrefillProfile {
  isl: number[]; // tokens
  ttftMs: number[]; // ms, at concurrency 1
  thptPerGpu: number[]; // input tokens / s / GPU
}

/** Decode sweep: scattered points over (KV usage, context length). */
export interface DecodeProfile {
  kvUsage: number[]; // fraction of max_kv_tokens, 0..1
  contextLength: number[]; // tokens (isl + osl/2)
  itlMs: number[]; // ms
  thptPerGpu: number[]; // output tokens / s / GPU
  maxKvTokens: number; // KV capacity of one engine, tokens
}

export interface ProfileData {
  prefill: PrefillProfile;
  decode: DecodeProfile;
  /** Where each part was read from, for messages. */
  source: { prefill: string; decode: string };
}

export interface PrefillInterpolator {
  /** TTFT (ms) at an ISL; the ISL is clamped to the measured range. */
  ttftMs(isl: number): number;
  /** Prefill throughput (input tokens/s/GPU) at an ISL, clamped like ttftMs. */
  thptPerGpu(isl: number): number;
  readonly minIsl: number;
  readonly maxIsl: number;
}

export interface DecodeBest {
  thptPerGpu: number; // output tokens/s/GPU
  itlMs: number;
  kvUsage: number;
}

export interface DecodeInterpolator {
  readonly maxKvTokens: number;
  readonly maxContextLength: number;
  /** ITL (ms) at a per-engine concurrency and context length (nearest grid cell). */
  itlMs(concurrency: number, contextLength: number): number;
  /** Throughput/GPU at a per-engine concurrency and context length (nearest grid cell). */
  thptPerGpu(concurrency: number, contextLength: number): number;
  /** The original's search: highest KV-usage cell in the context row with ITL <= target. */
  findBestThroughputPerGpu(itlTargetMs: number, contextLength: number): DecodeBest;
}
