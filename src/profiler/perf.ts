// First-principles performance model of one tensor-parallel engine running a dense decoder-only
// transformer: FLOPs and bytes per prefill and per decode step, against the GPU's peaks scaled by
// calibrated efficiencies. Pure functions; every count is per GPU of the engine.
import type { Efficiency, GpuSpec, ModelShape } from './types.js';

export interface Engine {
  model: ModelShape;
  gpu: GpuSpec;
  /** Tensor-parallel size = GPUs per engine. */
  tp: number;
  eff: Efficiency;
}

/** KV heads each GPU stores: split across ranks, replicated once there are more ranks than heads. */
export function kvHeadsPerGpu(model: ModelShape, tp: number): number {
  return Math.max(1, Math.ceil(model.numKvHeads / tp));
}

/** Matmul weights of one layer on one GPU (QKV, O, gated MLP), in parameters. */
export function layerLinearParamsPerGpu(model: ModelShape, tp: number): number {
  const { hiddenSize: h, numHeads, headDim, intermediateSize: inter } = model;
  const q = (h * numHeads * headDim) / tp;
  const kv = 2 * h * kvHeadsPerGpu(model, tp) * headDim;
  const o = (numHeads * headDim * h) / tp;
  const mlp = (3 * h * inter) / tp; // gate, up, down
  return q + kv + o + mlp;
}

/** Parameters of a vocab x hidden matrix (embedding or LM head) on one GPU (vocab-parallel). */
export function vocabMatrixParamsPerGpu(model: ModelShape, tp: number): number {
  return (model.vocabSize * model.hiddenSize) / tp;
}

/** Bytes of weights resident on one GPU: layers, embedding, LM head (unless tied), norms. */
export function weightBytesPerGpu(model: ModelShape, tp: number): number {
  const layers = model.numLayers * layerLinearParamsPerGpu(model, tp);
  const embedding = vocabMatrixParamsPerGpu(model, tp);
  const lmHead = model.tiedEmbeddings ? 0 : vocabMatrixParamsPerGpu(model, tp);
  const norms = (2 * model.numLayers + 1) * model.hiddenSize;
  return (layers + embedding + lmHead + norms) * model.bytesPerParam;
}

/** Bytes one cached token occupies on one GPU (K and V, every layer). */
export function kvBytesPerTokenPerGpu(model: ModelShape, tp: number): number {
  return 2 * model.numLayers * kvHeadsPerGpu(model, tp) * model.headDim * model.bytesPerParam;
}

/** One matrix multiply [m x k] @ [k x n], run `count` times per forward pass. */
export interface Gemm {
  name: string;
  m: number;
  k: number;
  n: number;
  count: number;
}

/**
 * The matmuls of a forward pass over `tokens` tokens on one GPU (column-parallel QKV and gate/up,
 * row-parallel O and down), plus the LM head over `logitTokens` tokens.
 */
export function gemms(model: ModelShape, tp: number, tokens: number, logitTokens: number): Gemm[] {
  const { hiddenSize: h, numHeads, headDim, intermediateSize: inter, numLayers: L } = model;
  const qDim = (numHeads * headDim) / tp;
  const kvDim = kvHeadsPerGpu(model, tp) * headDim;
  return [
    { name: 'qkv', m: tokens, k: h, n: qDim + 2 * kvDim, count: L },
    { name: 'o', m: tokens, k: qDim, n: h, count: L },
    { name: 'gate_up', m: tokens, k: h, n: (2 * inter) / tp, count: L },
    { name: 'down', m: tokens, k: inter / tp, n: h, count: L },
    { name: 'lm_head', m: logitTokens, k: h, n: model.vocabSize / tp, count: 1 },
  ];
}

/**
 * Elements each token reads and writes outside matmuls and attention in one layer: two RMSNorms
 * (read+write the hidden state), two residual adds (read two, write one), rotary embedding of Q and
 * K (read+write), and the SiLU-and-multiply of the MLP (read gate and up, write one).
 */
export function elementwisePerTokenPerLayer(model: ModelShape, tp: number): number {
  const h = model.hiddenSize;
  const qDim = (model.numHeads * model.headDim) / tp;
  const kDim = kvHeadsPerGpu(model, tp) * model.headDim;
  return 2 * 2 * h + 2 * 3 * h + 2 * (qDim + kDim) + (3 * model.intermediateSize) / tp;
}

export interface WorkCount {
  gemmFlops: number;
  /** Weight bytes streamed by the matmuls (activations excluded). */
  gemmWeightBytes: number;
  attentionFlops: number;
  /** KV-cache bytes read (decode) or written (prefill). */
  attentionBytes: number;
  /** Bytes of normalisation, residual, rotary and activation kernels. */
  elementwiseBytes: number;
  /** Tokens whose hidden state crosses an all-reduce (2 per layer). */
  allReduceTokens: number;
  gemms: Gemm[];
}

function count(model: ModelShape, tp: number, tokens: number, logitTokens: number, attentionFlops: number, attentionBytes: number): WorkCount {
  const list = gemms(model, tp, tokens, logitTokens);
  return {
    gemmFlops: list.reduce((s, g) => s + 2 * g.m * g.k * g.n * g.count, 0),
    gemmWeightBytes: list.reduce((s, g) => s + g.k * g.n * g.count, 0) * model.bytesPerParam,
    attentionFlops,
    attentionBytes,
    elementwiseBytes: tokens * model.numLayers * elementwisePerTokenPerLayer(model, tp) * model.bytesPerParam,
    allReduceTokens: tokens,
    gemms: list,
  };
}

/**
 * One prefill of `isl` tokens on one GPU. Causal attention does s(s+1)/2 query-key dot products per
 * head for QK^T and as many for PV, each 2·headDim FLOPs. Logits are computed for the last token only.
 */
export function prefillWork(model: ModelShape, tp: number, isl: number): WorkCount {
  const headsPerGpu = model.numHeads / tp;
  const attentionFlops = 2 * model.headDim * isl * (isl + 1) * headsPerGpu * model.numLayers;
  return count(model, tp, isl, 1, attentionFlops, isl * kvBytesPerTokenPerGpu(model, tp));
}

/** One decode step of `batch` sequences that each hold `context` tokens of KV cache. */
export function decodeWork(model: ModelShape, tp: number, batch: number, context: number): WorkCount {
  const headsPerGpu = model.numHeads / tp;
  const attentionFlops = 4 * batch * context * headsPerGpu * model.headDim * model.numLayers;
  return count(model, tp, batch, batch, attentionFlops, batch * context * kvBytesPerTokenPerGpu(model, tp));
}

const peakFlopsPerMs = (gpu: GpuSpec) => gpu.bf16Tflops * 1e9; // TFLOP/s -> FLOP/ms
const peakBytesPerMs = (gpu: GpuSpec) => gpu.memBandwidthGBs * 1e6; // GB/s -> B/ms

/**
 * A tiled matmul spends a fixed pipeline fill and epilogue per output tile, worth about this many
 * elements of its K loop (4 stages of 64 plus the tile write-back); short-K matmuls of small models
 * lose a visible share of peak to it.
 */
export const GEMM_FILL_K = 384;

/** One matmul on its roofline: the slower of compute (with the short-K loss) and memory traffic. */
export function gemmMs(e: Engine, g: Gemm): number {
  const flops = 2 * g.m * g.k * g.n;
  const weightBytes = g.k * g.n * e.model.bytesPerParam;
  const activationBytes = g.m * (g.k + g.n) * e.model.bytesPerParam;
  const compute = flops / (e.eff.gemm * (g.k / (g.k + GEMM_FILL_K)) * peakFlopsPerMs(e.gpu));
  const memory = weightBytes / (e.eff.weightStreaming * peakBytesPerMs(e.gpu)) + activationBytes / (e.eff.memory * peakBytesPerMs(e.gpu));
  return g.count * Math.max(compute, memory);
}

/** Ring all-reduce of `tokens` hidden states, twice per layer; 0 on one GPU. */
export function allReduceMs(e: Engine, tokens: number): number {
  if (e.tp <= 1) return 0;
  const bytes = tokens * e.model.hiddenSize * e.model.bytesPerParam;
  const wire = (((2 * (e.tp - 1)) / e.tp) * bytes) / (e.eff.network * e.gpu.interconnectGBs * 1e6);
  return 2 * e.model.numLayers * (e.eff.allReduceLatencyUs / 1000 + wire);
}

export interface TimeBreakdown {
  overheadMs: number;
  gemmMs: number;
  attentionMs: number;
  elementwiseMs: number;
  allReduceMs: number;
  totalMs: number;
}

function timeOf(e: Engine, w: WorkCount, overheadMs: number): TimeBreakdown {
  const bw = e.eff.memory * peakBytesPerMs(e.gpu);
  const gemm = w.gemms.reduce((s, g) => s + gemmMs(e, g), 0);
  const attentionMs = Math.max(w.attentionFlops / (e.eff.attention * peakFlopsPerMs(e.gpu)), w.attentionBytes / bw);
  const elementwiseMs = w.elementwiseBytes / bw;
  const comm = allReduceMs(e, w.allReduceTokens);
  return { overheadMs, gemmMs: gemm, attentionMs, elementwiseMs, allReduceMs: comm, totalMs: overheadMs + gemm + attentionMs + elementwiseMs + comm };
}

/** Time to first token of one request of `isl` tokens on an idle engine, ms. */
export function prefillTime(e: Engine, isl: number): TimeBreakdown {
  return timeOf(e, prefillWork(e.model, e.tp, isl), e.eff.stepOverheadMs);
}

/** Inter-token latency with `batch` sequences of `context` tokens each decoding together, ms. */
export function decodeTime(e: Engine, batch: number, context: number): TimeBreakdown {
  return timeOf(e, decodeWork(e.model, e.tp, batch, context), e.eff.stepOverheadMs + (e.eff.perSequenceUs * batch) / 1000);
}

export const ttftMs = (e: Engine, isl: number) => prefillTime(e, isl).totalMs;
export const itlMs = (e: Engine, batch: number, context: number) => decodeTime(e, batch, context).totalMs;

/**
 * KV capacity of the engine in tokens: the usable share of each GPU's memory minus its weights,
 * the fixed reserve and the activation peak of the profiling batch, divided by the bytes one token
 * takes on that GPU. 0 when the weights do not fit.
 */
export function maxKvTokens(e: Engine): number {
  const { model, gpu, tp, eff } = e;
  const usable = gpu.memoryBytes * eff.memoryUtilization;
  const free = usable - weightBytesPerGpu(model, tp) - eff.reserveBytes - activationPeakBytesPerGpu(model, tp, eff.maxBatchedTokens);
  return Math.max(0, Math.floor(free / kvBytesPerTokenPerGpu(model, tp)));
}

/**
 * The largest live activations of a forward pass over `tokens` tokens: the gate/up output of the
 * MLP plus the residual stream, the normalised input and the QKV output, in the weights' dtype.
 */
export function activationPeakBytesPerGpu(model: ModelShape, tp: number, tokens: number): number {
  const { hiddenSize: h, numHeads, headDim, intermediateSize: inter } = model;
  const perToken = (2 * inter) / tp + 2 * h + (numHeads * headDim) / tp + 2 * kvHeadsPerGpu(model, tp) * headDim;
  return tokens * perToken * model.bytesPerParam;
}
