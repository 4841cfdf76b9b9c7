// Resolve --model and --gpu: a shipped name, a Hugging Face config.json, or a GPU spec file. Every
// rejection names the file, the field and what to do instead.
import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { yamlNestingProblem } from '../util/yaml-limits.js';
import { z } from 'zod';
import { InputError } from '../util/errors.js';
import { GPU_ALIASES, SHIPPED_GPUS } from './specs/gpus.js';
import { SHIPPED_MODELS } from './specs/models.js';
import type { GpuSpec, ModelShape } from './types.js';

/** Dense decoder-only architectures whose layers are the Llama block this model counts. */
export const SUPPORTED_ARCHITECTURES = [
  'LlamaForCausalLM',
  'MistralForCausalLM',
  'Qwen2ForCausalLM',
  'Qwen3ForCausalLM',
  'GraniteForCausalLM',
  'Olmo2ForCausalLM',
  'InternLM3ForCausalLM',
];

const MOE_KEYS = ['num_experts', 'num_local_experts', 'n_routed_experts', 'moe_intermediate_size', 'num_experts_per_tok'];

function readStructured(file: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError(`${file}: cannot read the ${what} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}).`);
  }
  const nesting = /\.ya?ml$/i.test(file) ? yamlNestingProblem(text) : null;
  if (nesting) throw new InputError(`${file}: the ${what} is nested too deeply (${nesting}).`);
  try {
    return /\.ya?ml$/i.test(file) ? parseYaml(text, { maxAliasCount: 100 }) : JSON.parse(text);
  } catch (err) {
    throw new InputError(`${file}: the ${what} is not valid ${/\.ya?ml$/i.test(file) ? 'YAML' : 'JSON'} (${(err as Error).message}).`);
  }
}

function positiveInt(cfg: Record<string, unknown>, file: string, key: string, fallback?: number): number {
  const v = cfg[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new InputError(`${file}: field '${key}' must be a positive integer, got ${JSON.stringify(cfg[key])}; is this a Hugging Face config.json of a dense decoder model?`);
  }
  return v;
}

/**
 * A Hugging Face config.json as a ModelShape. Refuses what the Llama-block count would get wrong:
 * mixture-of-experts, multimodal wrappers, sliding-window attention, pre-quantised weights, and
 * unknown architectures.
 */
export function shapeFromHfConfig(raw: unknown, file: string, hfId?: string): ModelShape {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new InputError(`${file}: expected a JSON object (a Hugging Face config.json).`);
  const cfg = raw as Record<string, unknown>;
  const archs = Array.isArray(cfg.architectures) ? cfg.architectures.map(String) : [];
  const moeKey = MOE_KEYS.find((k) => cfg[k] !== undefined && cfg[k] !== null && cfg[k] !== 0);
  if (moeKey || archs.some((a) => /moe|mixtral|deepseek|dbrx|jamba|arctic/i.test(a))) {
    throw new InputError(
      `${file}: ${archs.join(', ') || 'this model'} is a mixture-of-experts model${moeKey ? ` (field '${moeKey}')` : ''}; the rapid profiler models dense transformers only (expert routing, expert parallelism and all-to-all are not modelled). Profile it on hardware instead.`,
    );
  }
  if (cfg.text_config !== undefined || archs.some((a) => /ForConditionalGeneration/.test(a))) {
    throw new InputError(`${file}: ${archs.join(', ')} is a multimodal model; only text decoder models are modelled. Pass the config of its language model instead.`);
  }
  if (archs.length === 0) {
    throw new InputError(`${file}: field 'architectures' is missing; expected one of ${SUPPORTED_ARCHITECTURES.join(', ')}.`);
  }
  const arch = archs[0];
  if (!SUPPORTED_ARCHITECTURES.includes(arch)) {
    throw new InputError(`${file}: architecture '${arch}' is not modelled; supported dense architectures: ${SUPPORTED_ARCHITECTURES.join(', ')}.`);
  }
  // Qwen2/3 configs carry a sliding_window size but switch it off with use_sliding_window: false;
  // Mistral v0.1 sets only sliding_window.
  const window = cfg.sliding_window;
  if (cfg.use_sliding_window === true || (typeof window === 'number' && cfg.use_sliding_window !== false && window < Number(cfg.max_position_embeddings ?? Infinity))) {
    throw new InputError(`${file}: sliding-window attention (fields 'sliding_window'/'use_sliding_window') is not modelled: its KV cache and attention cost are bounded by the window. Profile it on hardware instead.`);
  }
  if (cfg.quantization_config !== undefined && cfg.quantization_config !== null) {
    throw new InputError(`${file}: field 'quantization_config' is set; only bf16/fp16 weights are modelled (FP8/INT4 change both the bytes and the tensor-core peak). Use the config of the bf16 checkpoint.`);
  }
  const act = String(cfg.hidden_act ?? 'silu');
  if (!/silu|swish/i.test(act)) {
    throw new InputError(`${file}: field 'hidden_act' is '${act}'; only gated SiLU MLPs (Llama style) are modelled.`);
  }
  const dtype = String(cfg.torch_dtype ?? cfg.dtype ?? 'bfloat16');
  if (!['bfloat16', 'float16', 'float32'].includes(dtype)) {
    throw new InputError(`${file}: field 'torch_dtype' is '${dtype}'; expected bfloat16, float16 or float32 (served as bf16).`);
  }
  const hidden = positiveInt(cfg, file, 'hidden_size');
  const heads = positiveInt(cfg, file, 'num_attention_heads');
  const kvHeads = positiveInt(cfg, file, 'num_key_value_heads', heads);
  if (heads % kvHeads !== 0) throw new InputError(`${file}: num_attention_heads (${heads}) must be a multiple of num_key_value_heads (${kvHeads}).`);
  const headDim = cfg.head_dim === undefined || cfg.head_dim === null ? hidden / heads : positiveInt(cfg, file, 'head_dim');
  if (!Number.isInteger(headDim)) throw new InputError(`${file}: hidden_size (${hidden}) is not a multiple of num_attention_heads (${heads}); set 'head_dim'.`);
  const id = hfId ?? (typeof cfg._name_or_path === 'string' && cfg._name_or_path !== '' ? cfg._name_or_path : undefined);
  if (id === undefined) {
    throw new InputError(`${file}: no '_name_or_path' field to name the model the workers load; pass --model-id <hugging face id>.`);
  }
  return {
    name: id.split('/').pop()!.toLowerCase(),
    hfId: id,
    hiddenSize: hidden,
    numLayers: positiveInt(cfg, file, 'num_hidden_layers'),
    numHeads: heads,
    numKvHeads: kvHeads,
    headDim,
    intermediateSize: positiveInt(cfg, file, 'intermediate_size'),
    vocabSize: positiveInt(cfg, file, 'vocab_size'),
    tiedEmbeddings: cfg.tie_word_embeddings === true,
    maxContextLength: positiveInt(cfg, file, 'max_position_embeddings'),
    bytesPerParam: 2,
  };
}

/** `--model`: a shipped name, or a path to a Hugging Face config.json. */
export function resolveModel(arg: string, hfId?: string): ModelShape {
  const shipped = SHIPPED_MODELS[arg.toLowerCase()];
  if (shipped) return hfId ? { ...shipped, hfId } : shipped;
  if (!existsSync(arg)) {
    throw new InputError(`--model: '${arg}' is neither a shipped model (${Object.keys(SHIPPED_MODELS).join(', ')}) nor an existing config.json file.`);
  }
  return shapeFromHfConfig(readStructured(arg, 'model config'), arg, hfId);
}

const gpuFileSchema = z.object({
  name: z.string().min(1),
  description: z.string().optional(),
  bf16_tflops: z.number().positive(),
  memory_bandwidth_gbs: z.number().positive(),
  memory_gib: z.number().positive().optional(),
  memory_bytes: z.number().positive().optional(),
  interconnect_gbs: z.number().positive(),
  interconnect: z.enum(['nvlink', 'pcie']),
  max_gpus_per_node: z.number().int().positive().default(8),
}).strict();

export const GPU_FILE_FIELDS =
  'name, bf16_tflops (dense), memory_bandwidth_gbs, memory_gib or memory_bytes, interconnect_gbs (per direction), interconnect (nvlink|pcie), optional max_gpus_per_node (default 8) and description';

/** A GPU spec file (JSON or YAML) with the fields in GPU_FILE_FIELDS. */
export function gpuFromSpec(raw: unknown, file: string): GpuSpec {
  const parsed = gpuFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue.path.join('.') || '(top level)';
    throw new InputError(`${file}: field '${field}': ${issue.message}; a GPU spec has ${GPU_FILE_FIELDS}.`);
  }
  const g = parsed.data;
  if ((g.memory_gib === undefined) === (g.memory_bytes === undefined)) {
    throw new InputError(`${file}: give exactly one of 'memory_gib' and 'memory_bytes'.`);
  }
  return {
    name: g.name,
    description: g.description ?? `${g.name} (from ${basename(file)})`,
    bf16Tflops: g.bf16_tflops,
    memBandwidthGBs: g.memory_bandwidth_gbs,
    memoryBytes: g.memory_bytes ?? Math.round(g.memory_gib! * 1024 ** 3),
    interconnectGBs: g.interconnect_gbs,
    interconnect: g.interconnect,
    maxGpusPerNode: g.max_gpus_per_node,
  };
}

/** `--gpu`: a shipped name (or alias), or a path to a spec file. */
export function resolveGpu(arg: string): GpuSpec {
  const key = arg.toLowerCase();
  const shipped = SHIPPED_GPUS[key] ?? SHIPPED_GPUS[GPU_ALIASES[key] ?? ''];
  if (shipped) return shipped;
  if (!existsSync(arg)) {
    throw new InputError(`--gpu: '${arg}' is neither a shipped GPU (${Object.keys(SHIPPED_GPUS).join(', ')}) nor an existing spec file.`);
  }
  return gpuFromSpec(readStructured(arg, 'GPU spec'), arg);
}
