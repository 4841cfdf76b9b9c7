// Datasheet figures of common data-centre GPUs (dense BF16, no sparsity). memoryBytes is what
// the framework sees (torch total_memory), which is below the marketing size.
import type { GpuSpec } from '../types.js';

const MiB = 1024 * 1024;

export const SHIPPED_GPUS: Record<string, GpuSpec> = {
  'h100-sxm': {
    name: 'h100-sxm',
    description: 'NVIDIA H100 80GB HBM3 (SXM)',
    bf16Tflops: 989.4,
    memBandwidthGBs: 3350,
    memoryBytes: 85_017_493_504, // as measured on our H100 (test/fixtures/h100)
    interconnectGBs: 450, // NVLink 4: 900 GB/s bidirectional
    interconnect: 'nvlink',
    maxGpusPerNode: 8,
  },
  h200: {
    name: 'h200',
    description: 'NVIDIA H200 141GB HBM3e (SXM)',
    bf16Tflops: 989.4,
    memBandwidthGBs: 4800,
    memoryBytes: 143_771 * MiB,
    interconnectGBs: 450,
    interconnect: 'nvlink',
    maxGpusPerNode: 8,
  },
  'a100-80gb': {
    name: 'a100-80gb',
    description: 'NVIDIA A100 80GB (SXM)',
    bf16Tflops: 312,
    memBandwidthGBs: 2039,
    memoryBytes: 81_092 * MiB,
    interconnectGBs: 300, // NVLink 3: 600 GB/s bidirectional
    interconnect: 'nvlink',
    maxGpusPerNode: 8,
  },
  l40s: {
    name: 'l40s',
    description: 'NVIDIA L40S 48GB (PCIe)',
    bf16Tflops: 362.05,
    memBandwidthGBs: 864,
    memoryBytes: 46_068 * MiB,
    interconnectGBs: 32, // PCIe Gen4 x16, no NVLink
    interconnect: 'pcie',
    maxGpusPerNode: 8,
  },
  b200: {
    name: 'b200',
    description: 'NVIDIA B200 180GB HBM3e (SXM)',
    bf16Tflops: 2250,
    memBandwidthGBs: 8000,
    memoryBytes: 183_359 * MiB,
    interconnectGBs: 900, // NVLink 5: 1.8 TB/s bidirectional
    interconnect: 'nvlink',
    maxGpusPerNode: 8,
  },
};

/** Other spellings users type for the shipped GPUs. */
export const GPU_ALIASES: Record<string, string> = {
  h100: 'h100-sxm',
  h100_sxm: 'h100-sxm',
  'h100-80gb': 'h100-sxm',
  h200_sxm: 'h200',
  'h200-sxm': 'h200',
  a100: 'a100-80gb',
  'a100-sxm': 'a100-80gb',
  a100_sxm: 'a100-80gb',
  b200_sxm: 'b200',
  'b200-sxm': 'b200',
};
