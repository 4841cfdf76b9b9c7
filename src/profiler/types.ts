// Inputs of the rapid profiler: a GPU's datasheet figures, a dense transformer's shape, and the
// efficiency factors that turn peak figures into achieved ones.

export interface GpuSpec {
  /** Shipped name, e.g. "h100-sxm". */
  name: string;
  /** Human name for tables and plots. */
  description: string;
  /** Dense (no sparsity) BF16 tensor-core peak, TFLOP/s. */
  bf16Tflops: number;
  /** HBM/GDDR peak bandwidth, GB/s (1e9 bytes). */
  memBandwidthGBs: number;
  /** Memory the framework sees (torch total_memory), bytes. */
  memoryBytes: number;
  /** GPU-to-GPU bandwidth per direction per GPU, GB/s (NVLink or PCIe): drives all-reduce time. */
  interconnectGBs: number;
  interconnect: 'nvlink' | 'pcie';
  /** Largest tensor-parallel group on one node. */
  maxGpusPerNode: number;
}

export interface ModelShape {
  /** Shipped name or the config file it came from. */
  name: string;
  /** What to pass to the engine's --model (Hugging Face id), also the served model name. */
  hfId: string;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  intermediateSize: number;
  vocabSize: number;
  tiedEmbeddings: boolean;
  /** max_position_embeddings: the longest context the sweeps cover. */
  maxContextLength: number;
  /** Bytes per weight and per KV element (2 for bf16/fp16). */
  bytesPerParam: number;
}

/**
 * Achieved fraction of peak per kind of work, plus the costs a roofline does not see. Calibrated
 * on measurements of one model (see calibration.ts) and applied to every model and GPU.
 */
export interface Efficiency {
  /** Dense matmul (QKV, O, MLP, LM head) share of peak FLOP/s. */
  gemm: number;
  /** Prefill attention (flash attention, causal) share of peak FLOP/s. */
  attention: number;
  /** Share of peak memory bandwidth for KV-cache and activation traffic. */
  memory: number;
  /** Share of peak memory bandwidth a memory-bound matmul (GEMV-like, small batch) reaches on its weights. */
  weightStreaming: number;
  /** Share of interconnect bandwidth an all-reduce achieves. */
  network: number;
  /** Per forward pass: scheduler, sampling, launch; ms. */
  stepOverheadMs: number;
  /** Per sequence in a decode batch: bookkeeping, sampling, detokenisation; microseconds. */
  perSequenceUs: number;
  /** Per all-reduce call: launch and synchronisation; microseconds. */
  allReduceLatencyUs: number;
  /** Share of GPU memory the engine may use (vLLM --gpu-memory-utilization). */
  memoryUtilization: number;
  /** Memory held back from the KV cache per GPU besides weights (CUDA context, graphs, allocator), bytes. */
  reserveBytes: number;
  /** Tokens of the engine's activation-profiling batch (max_num_batched_tokens). */
  maxBatchedTokens: number;
}
