// DynamoGraphDeploymentRequests for tests: the upstream sample turned into one the rapid path serves.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';

export const SAMPLE_DGDR = 'test/fixtures/dynamo/dgdr/sample-dgdr.v1beta1.yaml';
const dir = mkdtempSync(join(tmpdir(), 'sla-dgdr-'));

/** The sample as vLLM, rapid, 8 GPUs, an SLA and planner features; `edit` changes it further. Returns the file. */
export function vllmRequest(edit: (d: { metadata: { name: string }; spec: Record<string, unknown> }) => void = () => {}): string {
  const d = YAML.parse(readFileSync(SAMPLE_DGDR, 'utf8'));
  d.spec.backend = 'vllm';
  d.spec.searchStrategy = 'rapid';
  d.spec.hardware.totalGpus = 8;
  d.spec.sla = { ttft: 300, itl: 20 };
  d.spec.workload = { isl: 3000, osl: 500 };
  d.spec.features = { planner: { min_endpoint: 2, load_predictor: 'kalman', throughput_adjustment_interval_seconds: 90 } };
  edit(d);
  const file = join(dir, `req-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, YAML.stringify(d));
  return file;
}
