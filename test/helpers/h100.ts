// The H100 profiles of test/fixtures (Llama-3.1-8B and Qwen3-0.6B), loaded once, and a config
// builder for planner tests on them (1 GPU per replica, no budget).
import { join } from 'node:path';
import { resolveConfig } from '../../src/config/index.js';
import type { PlannerConfig } from '../../src/config/schema.js';
import { buildInterpolators, loadProfileDir } from '../../src/profile-data/index.js';
import { H100 } from './fixtures.js';

export const h100Profiles = ['llama-3.1-8b', 'qwen3-0.6b'].map((m) => buildInterpolators(loadProfileDir(join(H100, m, 'configmap'))));

const base = { environment: 'virtual', mode: 'disagg', prefill_engine_num_gpu: 1, decode_engine_num_gpu: 1, min_endpoint: 1, max_gpu_budget: -1 };

export function h100Config(extra: Record<string, unknown>): PlannerConfig {
  return resolveConfig({ ...base, ...extra }, { env: {} }).config;
}
