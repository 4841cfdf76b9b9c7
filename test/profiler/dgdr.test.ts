// A DynamoGraphDeploymentRequest as the profiler's input: read, and refused with reasons.
import { describe, expect, it } from 'vitest';
import { SAMPLE_DGDR as SAMPLE, vllmRequest } from '../helpers/dgdr.js';
import { readDgdr } from '../../src/profiler/dgdr.js';
import { InputError } from '../../src/util/errors.js';

const SPEC3 = 'test/fixtures/dynamo/dgdr/spec-3_rapid_supported_planner_rapid_sweep.yaml';

describe('reading a DGDR', () => {
  it('the upstream sample asks for a thorough search: refused, saying it needs a live endpoint and what to run', () => {
    expect(() => readDgdr(SAMPLE)).toThrow(InputError);
    expect(() => readDgdr(SAMPLE)).toThrow(/searchStrategy thorough .* live endpoint .*kubectl apply -f .*sample-dgdr\.v1beta1\.yaml.* or set searchStrategy: rapid/);
  });

  it('a bare spec for trtllm is refused naming the backend', () => {
    expect(() => readDgdr(SPEC3)).toThrow(/backend trtllm: the rapid profiler here writes vLLM deployments only/);
  });

  it('maps model, hardware, workload, SLA and features.planner (aliases read as the planner reads them)', () => {
    const r = readDgdr(vllmRequest());
    expect(r).toMatchObject({
      name: 'example-llm-sla', totalGpus: 8, autoApply: true,
      workload: { isl: 3000, osl: 500, ttftMs: 300, itlMs: 20 },
      plannerOverrides: { min_endpoint: 2, load_predictor: 'kalman', throughput_adjustment_interval: 90 },
    });
    expect(r.model.hfId).toBe('Qwen/Qwen3-0.6B');
    expect(r.gpu.name).toBe('h200');
    expect(r.gpu.maxGpusPerNode).toBe(8);
  });

  it('features.mocker.enabled asks for a mocker deployment (backend vllm, auto or mocker)', () => {
    expect(readDgdr(vllmRequest()).mocker).toBe(false);
    expect(readDgdr(vllmRequest((d) => { d.spec.features = { mocker: { enabled: true } }; })).mocker).toBe(true);
    expect(readDgdr(vllmRequest((d) => { d.spec.backend = 'mocker'; d.spec.features = { mocker: { enabled: true } }; })).mocker).toBe(true);
    expect(readDgdr(vllmRequest((d) => { d.spec.features = { mocker: { enabled: false } }; })).mocker).toBe(false);
  });

  it('refuses what the rapid path cannot do, one sentence each', () => {
    const cases: [(d: { spec: Record<string, unknown> }) => void, RegExp][] = [
      [(d) => { d.spec.backend = 'mocker'; }, /backend mocker: the rapid profiler here writes vLLM deployments only/],
      [(d) => { d.spec.features = { mocker: { enabled: true }, planner: { backend: 'vllm' } }; }, /features\.planner\.backend is vllm but the generated deployment is a mocker pool/],
      [(d) => { d.spec.overrides = { dgd: { apiVersion: 'nvidia.com/v1beta1', kind: 'DynamoGraphDeployment' } }; }, /overrides\.dgd is not merged/],
      [(d) => { d.spec.sla = { e2eLatency: 900 }; }, /sla\.e2eLatency is not supported/],
      [(d) => { d.spec.model = 'someorg/unknown-7b'; }, /not one of the shipped model shapes .* --model <config\.json>/],
      [(d) => { (d.spec.hardware as Record<string, unknown>).gpuSku = 'mi300'; }, /hardware\.gpuSku 'mi300' has no shipped GPU spec/],
      [(d) => { d.spec.workload = { isl: -3 }; }, /workload\.isl must be a positive integer/],
      [(d) => { d.spec.features = { planner: { ttft: 'fast' } }; }, /features\.planner.*ttft/],
      [(d) => { d.spec.features = { planner: { backend: 'sglang' } }; }, /features\.planner\.backend is sglang/],
    ];
    for (const [edit, msg] of cases) expect(() => readDgdr(vllmRequest(edit))).toThrow(msg);
  });
});

