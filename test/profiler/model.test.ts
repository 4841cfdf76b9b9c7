// The rapid profiler's performance model, calibration, TP selection and input checks.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { calibrate, errorReport, loadMeasurements, nelderMead } from '../../src/profiler/calibration.js';
import { DEFAULT_EFFICIENCY } from '../../src/profiler/defaults.js';
import { gpuFromSpec, resolveGpu, resolveModel, shapeFromHfConfig } from '../../src/profiler/inputs.js';
import {
  decodeWork,
  elementwisePerTokenPerLayer,
  itlMs,
  kvBytesPerTokenPerGpu,
  kvHeadsPerGpu,
  layerLinearParamsPerGpu,
  maxKvTokens,
  prefillWork,
  ttftMs,
  weightBytesPerGpu,
  type Engine,
} from '../../src/profiler/perf.js';
import { largestBatchUnder, selectParallelism } from '../../src/profiler/select.js';
import { decodeSweep, numRequestRange, prefillSweep, pyRange } from '../../src/profiler/sweep.js';
import { SHIPPED_GPUS } from '../../src/profiler/specs/gpus.js';
import { SHIPPED_MODELS } from '../../src/profiler/specs/models.js';
import type { ModelShape } from '../../src/profiler/types.js';
import { InputError } from '../../src/util/errors.js';

const FIXTURES = 'test/fixtures/h100';

// hidden 8, 2 layers, 2 query heads sharing 1 KV head of dim 4, MLP 16, vocab 32, bf16.
const tiny: ModelShape = {
  name: 'tiny', hfId: 'test/tiny', hiddenSize: 8, numLayers: 2, numHeads: 2, numKvHeads: 1, headDim: 4,
  intermediateSize: 16, vocabSize: 32, tiedEmbeddings: false, maxContextLength: 4096, bytesPerParam: 2,
};

describe('FLOP and byte counts of a tiny model, worked by hand', () => {
  it('counts weights per layer and per GPU, with KV heads replicated past their number', () => {
    // q 8x8 + k,v 2x(8x4) + o 8x8 + gate,up,down 3x(8x16) = 64 + 64 + 64 + 384
    expect(layerLinearParamsPerGpu(tiny, 1)).toBe(576);
    // TP2: q, o and MLP halve (32 + 32 + 192); the single KV head is replicated (64)
    expect(kvHeadsPerGpu(tiny, 2)).toBe(1);
    expect(layerLinearParamsPerGpu(tiny, 2)).toBe(320);
    // (2 layers x 576 + embedding 256 + LM head 256 + 5 norms x 8) x 2 bytes
    expect(weightBytesPerGpu(tiny, 1)).toBe((1152 + 256 + 256 + 40) * 2);
    expect(weightBytesPerGpu({ ...tiny, tiedEmbeddings: true }, 1)).toBe((1152 + 256 + 40) * 2);
    // K and V, 2 layers, 1 head of 4, 2 bytes
    expect(kvBytesPerTokenPerGpu(tiny, 1)).toBe(32);
  });

  it('counts a 3-token prefill', () => {
    const w = prefillWork(tiny, 1, 3);
    // 2 FLOPs per weight per token over the layers, LM head on the last token only
    expect(w.gemmFlops).toBe(2 * 3 * 1152 + 2 * 256);
    // causal: 1 + 2 + 3 = 6 query-key pairs per head and layer, 8 FLOPs each for QK^T and again for
    // PV: 96 per head and layer, x 2 heads x 2 layers
    expect(w.attentionFlops).toBe(384);
    expect(w.attentionBytes).toBe(3 * 32); // KV written once per token
    expect(w.gemmWeightBytes).toBe((1152 + 256) * 2);
    // per token and layer: norms 2x2x8, residual adds 2x3x8, rotary 2x(8+4), SiLU-mul 3x16
    expect(elementwisePerTokenPerLayer(tiny, 1)).toBe(32 + 48 + 24 + 48);
    expect(w.elementwiseBytes).toBe(3 * 2 * 152 * 2);
  });

  it('counts a decode step of 2 sequences holding 5 tokens each', () => {
    const w = decodeWork(tiny, 1, 2, 5);
    expect(w.gemmFlops).toBe(2 * 2 * (1152 + 256));
    expect(w.attentionBytes).toBe(2 * 5 * 32); // every cached token read once
    expect(w.attentionFlops).toBe(4 * 2 * 5 * 2 * 4 * 2); // QK and PV, 2 heads of 4, 2 layers
    expect(w.allReduceTokens).toBe(2);
  });

  it('prices a large memory-bound decode on the roofline: KV read time at peak bandwidth', () => {
    const gpu = SHIPPED_GPUS['h100-sxm'];
    const eff = { ...DEFAULT_EFFICIENCY, stepOverheadMs: 0, perSequenceUs: 0, memory: 1 };
    const model = SHIPPED_MODELS['llama-3.1-8b'];
    const e: Engine = { model, gpu, tp: 1, eff };
    // 32 sequences x 16384 tokens x 128 KiB = 68.7 GB at 3350 GB/s = 20.5 ms of KV reads
    const kvMs = (32 * 16384 * 131072) / 3.35e9;
    const t = itlMs(e, 32, 16384) - itlMs(e, 32, 0);
    expect(t).toBeCloseTo(kvMs, 6);
  });
});

describe('maximum KV tokens', () => {
  it('reproduces the measured capacity of the calibration model and predicts the other within 5%', () => {
    const llama = loadMeasurements(`${FIXTURES}/llama-3.1-8b.json`);
    const qwen = loadMeasurements(`${FIXTURES}/qwen3-0.6b.json`);
    const gpu = SHIPPED_GPUS['h100-sxm'];
    const at = (m: typeof llama) => maxKvTokens({ model: m.model, gpu: { ...gpu, memoryBytes: m.totalMemoryBytes }, tp: 1, eff: DEFAULT_EFFICIENCY });
    expect(Math.abs(at(llama) / 400018 - 1)).toBeLessThan(0.001);
    expect(Math.abs(at(qwen) / 607545 - 1)).toBeLessThan(0.05);
  });

  it('is 0 when the weights do not fit (70B bf16 on one 80 GB GPU)', () => {
    expect(maxKvTokens({ model: SHIPPED_MODELS['llama-3.1-70b'], gpu: SHIPPED_GPUS['h100-sxm'], tp: 1, eff: DEFAULT_EFFICIENCY })).toBe(0);
  });
});

describe('calibration', () => {
  const gpu = SHIPPED_GPUS['h100-sxm'];
  it('re-fitting on llama-3.1-8b reproduces the shipped factors (refit both together)', () => {
    const fit = calibrate(loadMeasurements(`${FIXTURES}/llama-3.1-8b.json`), gpu);
    for (const k of ['gemm', 'attention', 'memory', 'stepOverheadMs', 'perSequenceUs'] as const) {
      expect(Math.abs(fit.eff[k] / DEFAULT_EFFICIENCY[k] - 1), k).toBeLessThan(0.02);
    }
    expect(Math.abs(fit.eff.reserveBytes / DEFAULT_EFFICIENCY.reserveBytes - 1)).toBeLessThan(0.01);
  });

  it('predicts the held-out qwen3-0.6b within the target: median < 15%, worst < 35%', () => {
    const r = errorReport(loadMeasurements(`${FIXTURES}/qwen3-0.6b.json`), gpu, DEFAULT_EFFICIENCY);
    expect(r.ttft.count).toBe(11);
    expect(r.itl.count).toBe(54);
    expect(r.ttft.median).toBeLessThan(0.15);
    expect(r.itl.median).toBeLessThan(0.15);
    expect(r.ttft.worst).toBeLessThan(0.35);
    expect(r.itl.worst).toBeLessThan(0.35);
  });

  it('nelderMead finds the minimum of a shifted quadratic', () => {
    const { x } = nelderMead(([a, b]) => (a - 3) ** 2 + 10 * (b + 1) ** 2, [0, 0], { tolerance: 1e-14, maxIterations: 5000 });
    expect(x[0]).toBeCloseTo(3, 4);
    expect(x[1]).toBeCloseTo(-1, 4);
  });
});

// Random dense shapes (hidden 2048 and up: the sizes anyone splits over GPUs; below that the
// all-reduce can outweigh a layer's compute, see the PCIe case) with heads that split over 8 GPUs.
const denseShape = fc
  .record({
    heads: fc.constantFrom(8, 16, 32, 48, 64),
    kvHeads: fc.constantFrom(1, 2, 4, 8, 16),
    layers: fc.integer({ min: 8, max: 80 }),
    hiddenPerHead: fc.constantFrom(64, 128),
    mlpRatio: fc.double({ min: 2.5, max: 4, noNaN: true }),
    vocab: fc.integer({ min: 32000, max: 152000 }),
  })
  .filter((s) => s.heads % s.kvHeads === 0 && s.heads * s.hiddenPerHead >= 2048)
  .map((s): ModelShape => {
    const hidden = s.heads * s.hiddenPerHead;
    return {
      name: 'random', hfId: 'random', hiddenSize: hidden, numLayers: s.layers, numHeads: s.heads, numKvHeads: s.kvHeads,
      headDim: s.hiddenPerHead, intermediateSize: Math.round((hidden * s.mlpRatio) / 64) * 64, vocabSize: s.vocab,
      tiedEmbeddings: false, maxContextLength: 32768, bytesPerParam: 2,
    };
  });

const NVLINK_GPUS = Object.values(SHIPPED_GPUS).filter((g) => g.interconnect === 'nvlink');

/** Tokens/s of a saturated decode engine: the largest batch its KV cache holds. */
function decodeCapacity(e: Engine, context: number): number {
  const batch = Math.floor(maxKvTokens(e) / context);
  return batch < 1 ? 0 : (batch / itlMs(e, batch, context)) * 1000;
}

// Domain: NVLink GPUs, and KV heads that still split over the larger engine (past that, vLLM
// replicates KV heads and a bigger engine can really be slower: every rank reads the whole cache).
describe('more GPUs never predict lower throughput per engine (NVLink, KV heads split)', () => {
  it('prefill: tokens/s of a long prompt does not fall from TP n to TP 2n', () => {
    fc.assert(
      fc.property(denseShape, fc.constantFrom(...NVLINK_GPUS), fc.constantFrom(1, 2, 4), fc.integer({ min: 2048, max: 32768 }), (model, gpu, tp, isl) => {
        fc.pre(model.numKvHeads >= 2 * tp);
        const small: Engine = { model, gpu, tp, eff: DEFAULT_EFFICIENCY };
        const big: Engine = { ...small, tp: 2 * tp };
        fc.pre(maxKvTokens(small) >= isl); // the smaller engine must hold the prompt at all
        expect(isl / ttftMs(big, isl)).toBeGreaterThanOrEqual(isl / ttftMs(small, isl));
      }),
      { numRuns: 300 },
    );
  });

  it('decode: saturated tokens/s does not fall from TP n to TP 2n', () => {
    fc.assert(
      fc.property(denseShape, fc.constantFrom(...NVLINK_GPUS), fc.constantFrom(1, 2, 4), fc.integer({ min: 256, max: 16384 }), (model, gpu, tp, context) => {
        fc.pre(model.numKvHeads >= 2 * tp);
        const small: Engine = { model, gpu, tp, eff: DEFAULT_EFFICIENCY };
        const big: Engine = { ...small, tp: 2 * tp };
        expect(decodeCapacity(big, context)).toBeGreaterThanOrEqual(decodeCapacity(small, context));
      }),
      { numRuns: 300 },
    );
  });

  it('latency never rises with batch or context (the selection binary search relies on it)', () => {
    fc.assert(
      fc.property(denseShape, fc.constantFrom(1, 2, 4, 8), fc.integer({ min: 1, max: 1999 }), fc.integer({ min: 1, max: 30000 }), (model, tp, b, ctx) => {
        const e: Engine = { model, gpu: SHIPPED_GPUS.h200, tp, eff: DEFAULT_EFFICIENCY };
        expect(itlMs(e, b + 1, ctx)).toBeGreaterThanOrEqual(itlMs(e, b, ctx));
        expect(itlMs(e, b, ctx + 1)).toBeGreaterThanOrEqual(itlMs(e, b, ctx));
        expect(ttftMs(e, ctx + 1)).toBeGreaterThan(ttftMs(e, ctx));
      }),
      { numRuns: 200 },
    );
  });

  it('over PCIe a tiny model can lose from TP1 to TP2 (all-reduce dominates), and the model says so', () => {
    const model = SHIPPED_MODELS['qwen3-0.6b'];
    const gpu = SHIPPED_GPUS.l40s;
    expect(ttftMs({ model, gpu, tp: 2, eff: DEFAULT_EFFICIENCY }, 3000)).toBeGreaterThan(ttftMs({ model, gpu, tp: 1, eff: DEFAULT_EFFICIENCY }, 3000));
  });
});

describe('TP selection', () => {
  const model = SHIPPED_MODELS['llama-3.1-8b'];
  const gpu = SHIPPED_GPUS['h100-sxm'];
  const w = { isl: 3000, osl: 150, ttftMs: 200, itlMs: 20 };

  it('picks the best throughput per GPU among the sizes that meet the SLA', () => {
    const s = selectParallelism(model, gpu, DEFAULT_EFFICIENCY, w);
    const meeting = s.prefill.candidates.filter((c) => c.meetsSla);
    expect(meeting.length).toBeGreaterThan(1);
    expect(s.prefill.chosen.thptPerGpu).toBe(Math.max(...meeting.map((c) => c.thptPerGpu)));
    expect(s.prefill.chosen.ttftMs).toBeLessThanOrEqual(200);
    const dMeeting = s.decode.candidates.filter((c) => c.meetsSla);
    expect(s.decode.chosen.thptPerGpu).toBe(Math.max(...dMeeting.map((c) => c.thptPerGpu)));
    expect(s.decode.chosen.itlMs).toBeLessThanOrEqual(20);
    expect(s.warnings).toEqual([]);
  });

  it('a tighter TTFT pushes prefill to more GPUs; an impossible one picks the fastest and warns', () => {
    const relaxed = selectParallelism(model, gpu, DEFAULT_EFFICIENCY, w).prefill.chosen;
    const tight = selectParallelism(model, gpu, DEFAULT_EFFICIENCY, { ...w, ttftMs: relaxed.ttftMs * 0.6 }).prefill.chosen;
    expect(tight.tp).toBeGreaterThan(relaxed.tp);
    const impossible = selectParallelism(model, gpu, DEFAULT_EFFICIENCY, { ...w, ttftMs: 1 });
    const fastest = Math.min(...impossible.prefill.candidates.map((c) => c.ttftMs));
    expect(impossible.prefill.chosen.ttftMs).toBe(fastest);
    expect(impossible.warnings.join(' ')).toMatch(/no prefill engine meets TTFT 1 ms/);
  });

  it('rules out sizes whose weights do not fit and refuses a model that fits nowhere', () => {
    const s = selectParallelism(SHIPPED_MODELS['llama-3.1-70b'], gpu, DEFAULT_EFFICIENCY, w);
    expect(s.prefill.candidates.find((c) => c.tp === 1)?.infeasible).toMatch(/do not fit/);
    expect(s.prefill.chosen.tp).toBeGreaterThanOrEqual(2);
    expect(() => selectParallelism(SHIPPED_MODELS['llama-3.1-70b'], SHIPPED_GPUS.l40s, DEFAULT_EFFICIENCY, w, 1)).toThrow(InputError);
  });

  it('largestBatchUnder agrees with a linear scan on non-decreasing latencies', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 5, noNaN: true }), { minLength: 1, maxLength: 60 }), fc.double({ min: 0, max: 100, noNaN: true }), (steps, target) => {
        const lat = steps.reduce<number[]>((acc, s) => [...acc, (acc.at(-1) ?? 0) + s], []);
        const at = (b: number) => lat[b - 1];
        let expected = 0;
        for (let b = 1; b <= lat.length && at(b) <= target; b++) expected = b;
        expect(largestBatchUnder(at, lat.length, target)).toBe(expected);
      }),
    );
  });
});

describe('sweeps follow the original profiler grids', () => {
  it('range and concurrency grids match Python range() and get_num_request_range', () => {
    expect(pyRange(100, 1000, 300)).toEqual([100, 400, 700]);
    expect(numRequestRange(4, 6)).toEqual([1, 2, 3, 4]);
    // 6 values over 1..1001: step 200
    expect(numRequestRange(1001, 6)).toEqual([1, 201, 401, 601, 801, 1001]);
    expect(numRequestRange(5000, 6).at(-1)).toBe(2000); // capped like the original
  });

  it('prefill ISLs run from 100 to context-512 in granularity steps; decode KV usage stays within [0, 1]', () => {
    const e: Engine = { model: SHIPPED_MODELS['qwen3-8b'], gpu: SHIPPED_GPUS.h200, tp: 1, eff: DEFAULT_EFFICIENCY };
    const p = prefillSweep(e, 16384, 16);
    expect(p.prefill_isl[0]).toBe(100);
    expect(p.prefill_isl[1] - p.prefill_isl[0]).toBe(Math.floor((16384 - 512 - 100) / 16));
    expect(Math.max(...p.prefill_isl)).toBeLessThan(16384 - 512);
    p.prefill_isl.forEach((isl, i) => expect(p.prefill_thpt_per_gpu[i]).toBeCloseTo((isl / p.prefill_ttft[i]) * 1000, 6));
    const kv = maxKvTokens(e);
    const d = decodeSweep(e, 16384, 6, kv);
    expect(Math.max(...d.x_kv_usage)).toBeLessThanOrEqual(1);
    expect(new Set(d.y_context_length).size).toBe(6);
    expect(d.y_context_length.every((c) => (c - 250) % 1 === 0 && c >= 350)).toBe(true);
  });
});

describe('inputs', () => {
  const llamaConfig = {
    architectures: ['LlamaForCausalLM'], _name_or_path: 'org/my-llama', hidden_size: 2048, num_hidden_layers: 16,
    num_attention_heads: 32, num_key_value_heads: 8, intermediate_size: 8192, vocab_size: 128256,
    max_position_embeddings: 131072, tie_word_embeddings: true, torch_dtype: 'bfloat16', hidden_act: 'silu',
  };

  it('reads a Hugging Face config.json of a dense model (head_dim derived when absent)', () => {
    const m = shapeFromHfConfig(llamaConfig, 'config.json');
    expect(m).toMatchObject({ hfId: 'org/my-llama', name: 'my-llama', headDim: 64, numKvHeads: 8, tiedEmbeddings: true, maxContextLength: 131072 });
  });

  it('refuses mixture-of-experts, sliding-window, quantised and unknown architectures by name', () => {
    const moe = { ...llamaConfig, architectures: ['Qwen3MoeForCausalLM'], num_experts: 128 };
    expect(() => shapeFromHfConfig(moe, 'moe/config.json')).toThrow(/moe\/config.json: .*mixture-of-experts.*'num_experts'/);
    expect(() => shapeFromHfConfig({ ...llamaConfig, use_sliding_window: true }, 'c.json')).toThrow(/sliding-window/);
    expect(() => shapeFromHfConfig({ ...llamaConfig, architectures: ['MistralForCausalLM'], sliding_window: 4096 }, 'c.json')).toThrow(/sliding-window/);
    // Qwen-style: a window size that is switched off is fine
    expect(shapeFromHfConfig({ ...llamaConfig, sliding_window: 4096, use_sliding_window: false }, 'c.json').numLayers).toBe(16);
    expect(() => shapeFromHfConfig({ ...llamaConfig, quantization_config: { quant_method: 'fp8' } }, 'c.json')).toThrow(/quantization_config/);
    expect(() => shapeFromHfConfig({ ...llamaConfig, architectures: ['GPT2LMHeadModel'] }, 'c.json')).toThrow(/GPT2LMHeadModel' is not modelled/);
    expect(() => shapeFromHfConfig({ ...llamaConfig, hidden_size: undefined }, 'c.json')).toThrow(/c.json: field 'hidden_size'/);
    expect(() => shapeFromHfConfig({ ...llamaConfig, _name_or_path: undefined }, 'c.json')).toThrow(/--model-id/);
  });

  it('resolves shipped names and aliases, and explains unknown ones', () => {
    expect(resolveGpu('H100').name).toBe('h100-sxm');
    expect(resolveModel('Qwen3-32B').numLayers).toBe(64);
    expect(() => resolveGpu('tpu-v5')).toThrow(/neither a shipped GPU \(h100-sxm, h200, a100-80gb, l40s, b200\)/);
    expect(() => resolveModel('no-such-model')).toThrow(InputError);
  });

  it('reads a GPU spec file and names the bad field', () => {
    const ok = gpuFromSpec({ name: 'x1', bf16_tflops: 500, memory_bandwidth_gbs: 2000, memory_gib: 64, interconnect_gbs: 100, interconnect: 'pcie' }, 'x1.yaml');
    expect(ok).toMatchObject({ bf16Tflops: 500, memoryBytes: 64 * 1024 ** 3, maxGpusPerNode: 8 });
    expect(() => gpuFromSpec({ name: 'x1', bf16_tflops: -1, memory_bandwidth_gbs: 2000, memory_gib: 64, interconnect_gbs: 100, interconnect: 'pcie' }, 'x1.yaml')).toThrow(/x1.yaml: field 'bf16_tflops'/);
    expect(() => gpuFromSpec({ name: 'x1', bf16_tflops: 5, memory_bandwidth_gbs: 2000, interconnect_gbs: 100, interconnect: 'pcie' }, 'x1.yaml')).toThrow(/exactly one of 'memory_gib'/);
  });
});
