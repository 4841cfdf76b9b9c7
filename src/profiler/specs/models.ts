// Shapes of common dense models, from their Hugging Face config.json (bf16 weights).
import type { ModelShape } from '../types.js';

function shape(s: Omit<ModelShape, 'bytesPerParam'>): ModelShape {
  return { ...s, bytesPerParam: 2 };
}

export const SHIPPED_MODELS: Record<string, ModelShape> = {
  'llama-3.1-8b': shape({
    name: 'llama-3.1-8b', hfId: 'meta-llama/Llama-3.1-8B-Instruct',
    hiddenSize: 4096, numLayers: 32, numHeads: 32, numKvHeads: 8, headDim: 128,
    intermediateSize: 14336, vocabSize: 128256, tiedEmbeddings: false, maxContextLength: 131072,
  }),
  'llama-3.1-70b': shape({
    name: 'llama-3.1-70b', hfId: 'meta-llama/Llama-3.1-70B-Instruct',
    hiddenSize: 8192, numLayers: 80, numHeads: 64, numKvHeads: 8, headDim: 128,
    intermediateSize: 28672, vocabSize: 128256, tiedEmbeddings: false, maxContextLength: 131072,
  }),
  'qwen3-0.6b': shape({
    name: 'qwen3-0.6b', hfId: 'Qwen/Qwen3-0.6B',
    hiddenSize: 1024, numLayers: 28, numHeads: 16, numKvHeads: 8, headDim: 128,
    intermediateSize: 3072, vocabSize: 151936, tiedEmbeddings: true, maxContextLength: 40960,
  }),
  'qwen3-4b': shape({
    name: 'qwen3-4b', hfId: 'Qwen/Qwen3-4B',
    hiddenSize: 2560, numLayers: 36, numHeads: 32, numKvHeads: 8, headDim: 128,
    intermediateSize: 9728, vocabSize: 151936, tiedEmbeddings: true, maxContextLength: 40960,
  }),
  'qwen3-8b': shape({
    name: 'qwen3-8b', hfId: 'Qwen/Qwen3-8B',
    hiddenSize: 4096, numLayers: 36, numHeads: 32, numKvHeads: 8, headDim: 128,
    intermediateSize: 12288, vocabSize: 151936, tiedEmbeddings: false, maxContextLength: 40960,
  }),
  'qwen3-14b': shape({
    name: 'qwen3-14b', hfId: 'Qwen/Qwen3-14B',
    hiddenSize: 5120, numLayers: 40, numHeads: 40, numKvHeads: 8, headDim: 128,
    intermediateSize: 17408, vocabSize: 151936, tiedEmbeddings: false, maxContextLength: 40960,
  }),
  'qwen3-32b': shape({
    name: 'qwen3-32b', hfId: 'Qwen/Qwen3-32B',
    hiddenSize: 5120, numLayers: 64, numHeads: 64, numKvHeads: 8, headDim: 128,
    intermediateSize: 25600, vocabSize: 151936, tiedEmbeddings: false, maxContextLength: 40960,
  }),
};
