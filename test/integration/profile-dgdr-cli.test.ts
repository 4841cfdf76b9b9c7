// `profile --dgdr` as a process: a DynamoGraphDeploymentRequest in; the DGD, ConfigMaps and the
// status the DGDR would carry out; refusals as exit 2 with a Failed status.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { describe, expect, it } from 'vitest';
import { SAMPLE_DGDR as SAMPLE, vllmRequest } from '../helpers/dgdr.js';
import { resolveConfig } from '../../src/config/index.js';
import { findPoolService, gpusPerReplica, type Dgd } from '../../src/actuate/dgd.js';

const dir = mkdtempSync(join(tmpdir(), 'sla-dgdr-cli-'));

function cli(args: string[]) {
  const r = spawnSync(process.execPath, ['dist/src/cli.js', 'profile', ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('sla-planner profile --dgdr (CLI)', () => {
  it('writes the DGD and ConfigMaps the request describes, and the status the DGDR would carry', () => {
    const out = join(dir, 'out');
    const r = cli(['--dgdr', vllmRequest(), '--output-dir', out]);
    expect(r.code, r.stderr).toBe(0);
    const docs = YAML.parseAllDocuments(readFileSync(join(out, 'final_config.yaml'), 'utf8')).map((d) => d.toJS());
    const [cfgCm, , dgd] = docs;
    expect(dgd.metadata.name).toBe('example-llm-sla');
    const { config } = resolveConfig(JSON.parse(cfgCm.data['planner_config.json']), { strict: true, env: {} });
    expect(config).toMatchObject({ max_gpu_budget: 8, min_endpoint: 2, load_predictor: 'kalman', throughput_adjustment_interval: 90, ttft: 300, itl: 20, model_name: 'Qwen/Qwen3-0.6B' });
    const status = YAML.parse(readFileSync(join(out, 'dgdr_status.yaml'), 'utf8'));
    expect(status.phase).toBe('Ready');
    expect(status.dgdName).toBe('example-llm-sla');
    expect(status.conditions.map((c: { type: string; status: string }) => `${c.type}=${c.status}`)).toEqual(['Validation=True', 'Profiling=True', 'SpecGenerated=True', 'Succeeded=True']);
    expect(status.profilingResults.selectedConfig).toEqual(dgd);
    for (const pool of ['prefill', 'decode'] as const) {
      const svc = (dgd as Dgd).spec!.services![findPoolService(dgd as Dgd, pool, 'vllm')];
      expect(gpusPerReplica(svc)).toBeLessThanOrEqual(8);
    }
  });

  it('a refusal is exit 2 with one sentence, and leaves the Failed status the DGDR would carry', () => {
    const out = join(dir, 'refused');
    const r = cli(['--dgdr', SAMPLE, '--output-dir', out]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/searchStrategy thorough/);
    const status = YAML.parse(readFileSync(join(out, 'dgdr_status.yaml'), 'utf8'));
    expect(status).toMatchObject({ phase: 'Failed', conditions: [{ type: 'Validation', status: 'False', reason: 'ValidationFailed' }, { type: 'Succeeded', status: 'False' }] });
    expect(existsSync(join(out, 'final_config.yaml'))).toBe(false);
    const clash = cli(['--dgdr', vllmRequest(), '--gpu', 'h100', '--output-dir', join(dir, 'clash')]);
    expect(clash.code).toBe(2);
    expect(clash.stderr).toMatch(/--dgdr takes --gpu from the request/);
  });
});
