// `profile --dgdr` as a process: a DynamoGraphDeploymentRequest in; the DGD, ConfigMaps and the
// status the DGDR would carry out; refusals as exit 2 with a Failed status.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { describe, expect, it } from 'vitest';
import { SAMPLE_DGDR as SAMPLE, vllmRequest } from '../helpers/dgdr.js';
import { resolveConfig } from '../../src/config/index.js';
import { findPoolService, gpusPerReplica, type Dgd } from '../../src/actuate/dgd.js';
import { freePort, waitFor } from '../helpers/procs.js';

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

  it('features.mocker writes a mocker DGD whose frontend command serves the mounted profile data, scaled by a virtual-environment planner', async () => {
    const out = join(dir, 'mocker');
    const r = cli(['--dgdr', vllmRequest((d) => { (d.spec.features as Record<string, unknown>).mocker = { enabled: true }; }), '--output-dir', out]);
    expect(r.code, r.stderr).toBe(0);
    const [cfgCm, dataCm, dgd, ...rest] = YAML.parseAllDocuments(readFileSync(join(out, 'final_config.yaml'), 'utf8')).map((d) => d.toJS());
    const plannerConfig = JSON.parse(cfgCm.data['planner_config.json']);
    // strategy sla's load scaling reads the mock frontend's router gauges through the operator's <dgd>-frontend service.
    expect(resolveConfig(plannerConfig, { strict: true, env: {} }).config).toMatchObject({
      environment: 'virtual', backend: 'mocker', ttft: 300, itl: 20, max_gpu_budget: 8, strategy: 'sla', enable_load_scaling: true,
      load_router_metrics_url: `http://${dgd.metadata.name}-frontend:8000/metrics`,
    });
    expect(dgd.spec.backendFramework).toBe('mocker');
    expect(Object.keys(dgd.spec.services).sort()).toEqual(['Frontend', 'Planner']);
    // The virtual environment touches no Kubernetes object: no Role.
    expect(rest.map((d) => d.kind)).toEqual(['ServiceAccount']);
    const main = dgd.spec.services.Frontend.extraPodSpec.mainContainer;
    expect(main.command.slice(0, 2)).toEqual(['sla-planner', 'mocker']);
    // Run the frontend's command as the pod would, with the two ConfigMaps "mounted" where it expects them.
    const mounts = mkdtempSync(join(tmpdir(), 'sla-mocker-pod-'));
    const mountOf = (cm: { metadata: { name: string } }) => main.volumeMounts.find((m: { name: string }) => m.name === cm.metadata.name).mountPath as string;
    for (const cm of [cfgCm, dataCm]) {
      const at = join(mounts, mountOf(cm));
      mkdirSync(at, { recursive: true });
      for (const [k, v] of Object.entries(cm.data as Record<string, string>)) writeFileSync(join(at, k), v);
    }
    const port = await freePort();
    const args = (main.command.slice(1) as string[]).map((a, i, all) => (all[i - 1] === '--profile-dir' || all[i - 1] === '--config' ? join(mounts, a) : all[i - 1] === '--port' ? String(port) : all[i - 1] === '--host' ? '127.0.0.1' : a));
    const child = spawn(process.execPath, ['dist/src/cli.js', ...args], { stdio: 'ignore', env: { PATH: process.env.PATH ?? '' } });
    try {
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/health`)).ok, 15_000, 'the mocker pod up');
      const res = await fetch(`http://127.0.0.1:${port}/v1/completions`, { method: 'POST', body: JSON.stringify({ model: 'Qwen/Qwen3-0.6B', prompt_tokens: 3000, max_tokens: 5 }) });
      expect(res.status).toBe(200);
      expect((await res.json()).usage).toEqual({ prompt_tokens: 3000, completion_tokens: 5, total_tokens: 3005 });
    } finally {
      child.kill('SIGTERM');
    }
  }, 30_000);
});
