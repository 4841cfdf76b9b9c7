// What `sla-planner profile` writes: profile data in both layouts the planner reads (checked with
// our own reader and `sla-planner validate`), the ConfigMaps and DGD, and the plot page. The CLI
// cases spawn the built CLI (`npx tsc -p tsconfig.json` first; `npm test` does that).
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { findPoolService, gpusPerReplica, modelNameOf, type Dgd } from '../../src/actuate/dgd.js';
import { resolveConfig } from '../../src/config/index.js';
import { buildInterpolators, loadProfileConfigMap, loadProfileDir } from '../../src/profile-data/index.js';
import { pyJsonDumps } from '../../src/profiler/assemble.js';
import { rapidProfile, type RapidProfile } from '../../src/profiler/index.js';
import { SHIPPED_GPUS } from '../../src/profiler/specs/gpus.js';
import { SHIPPED_MODELS } from '../../src/profiler/specs/models.js';
import { openPage } from '../helpers/chromium.js';

const CLI = 'dist/src/cli.js';
const tmp = (p: string) => mkdtempSync(join(tmpdir(), `sla-planner-${p}-`));

function writeAll(dir: string, files: Record<string, string | Buffer>): void {
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), content);
  }
}

function cli(args: string[]) {
  const env = { ...process.env };
  for (const k of ['DYN_NAMESPACE', 'PROMETHEUS_ENDPOINT', 'PLANNER_PROMETHEUS_PORT', 'SLA_PLANNER_DEBUG']) delete env[k];
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('profile data files', () => {
  let result: RapidProfile;
  let dir: string;
  beforeAll(() => {
    result = rapidProfile({
      model: SHIPPED_MODELS['qwen3-8b'],
      gpu: SHIPPED_GPUS.h200,
      workload: { isl: 2000, osl: 200, ttftMs: 150, itlMs: 15 },
      prefillGranularity: 16,
      decodeGranularity: 6,
      runtimeImage: 'registry.example/vllm-runtime:1.0',
    });
    dir = tmp('profile-out');
    writeAll(dir, result.files);
  });

  it('the npz layout loads in our profile reader with the swept values', () => {
    const data = loadProfileDir(dir);
    expect(data.source.prefill).toMatch(/selected_prefill_interpolation\/raw_data\.npz$/);
    expect(data.prefill.isl).toEqual(result.prefill.prefill_isl);
    expect(data.prefill.ttftMs).toEqual(result.prefill.prefill_ttft);
    expect(data.decode.kvUsage).toEqual(result.decode.x_kv_usage);
    expect(data.decode.itlMs).toEqual(result.decode.z_itl);
    expect(data.decode.maxKvTokens).toBe(result.decode.max_kv_tokens);
    expect(data.prefill.isl.length).toBe(17);
  });

  it('the ConfigMap JSON layout (loose files, and the ConfigMap object) loads to the same numbers', () => {
    const jsonDir = tmp('profile-json');
    for (const f of ['prefill_raw_data.json', 'decode_raw_data.json']) copyFileSync(join(dir, f), join(jsonDir, f));
    const fromJson = loadProfileDir(jsonDir);
    const fromCm = loadProfileConfigMap(join(dir, 'planner-profile-data.configmap.json'));
    const fromNpz = loadProfileDir(dir);
    for (const d of [fromJson, fromCm]) {
      expect(d.prefill).toEqual(fromNpz.prefill);
      expect(d.decode).toEqual(fromNpz.decode);
    }
  });

  it('uses the same keys and value kinds as the original profiler output', () => {
    const ours = JSON.parse(readFileSync(join(dir, 'decode_raw_data.json'), 'utf8'));
    const theirs = JSON.parse(readFileSync('test/fixtures/h100/llama-3.1-8b/configmap/decode_raw_data.json', 'utf8'));
    expect(Object.keys(ours).sort()).toEqual(Object.keys(theirs).sort());
    expect(Number.isInteger(ours.max_kv_tokens)).toBe(true);
    const prefillOurs = JSON.parse(readFileSync(join(dir, 'prefill_raw_data.json'), 'utf8'));
    const prefillTheirs = JSON.parse(readFileSync('test/fixtures/h100/llama-3.1-8b/configmap/prefill_raw_data.json', 'utf8'));
    expect(Object.keys(prefillOurs).sort()).toEqual(Object.keys(prefillTheirs).sort());
    // json.dumps spacing, ints as ints, whole floats with .0 (y_context_length = isl + 250.0)
    const text = readFileSync(join(dir, 'decode_raw_data.json'), 'utf8');
    expect(text).toMatch(/^\{"x_kv_usage": \[/);
    expect(text).toMatch(/"y_context_length": \[350\.0, /);
    expect(readFileSync(join(dir, 'prefill_raw_data.json'), 'utf8')).toMatch(/^\{"prefill_isl": \[100, \d+, /);
  });

  it('writes numbers as Python json.dumps does', () => {
    expect(pyJsonDumps({ a: [1, 2.5, 1e-5, 123456789012345680000], b: 7 }, new Set(['b']))).toBe('{"a": [1.0, 2.5, 1e-05, 1.2345678901234568e+20], "b": 7}');
  });

  it('the interpolators built from the files pass through the swept prefill points', () => {
    const { prefill } = buildInterpolators(loadProfileDir(dir));
    const i = 5;
    expect(prefill.ttftMs(result.prefill.prefill_isl[i])).toBeCloseTo(result.prefill.prefill_ttft[i], 6);
  });

  it('final_config.yaml holds the two ConfigMaps, a DGD that wires them to the planner, and RBAC for that DGD only', () => {
    const docs = parseAllDocuments(readFileSync(join(dir, 'final_config.yaml'), 'utf8')).map((d) => d.toJS());
    expect(docs.map((d) => d.kind)).toEqual(['ConfigMap', 'ConfigMap', 'DynamoGraphDeployment', 'ServiceAccount', 'Role', 'RoleBinding']);
    const [cfgCm, dataCm, dgd, sa, role, binding] = docs;
    // Least privilege: the parent DGD and its own scaling adapters, by name.
    expect(role.rules).toEqual([
      { apiGroups: ['nvidia.com'], resources: ['dynamographdeployments'], resourceNames: [dgd.metadata.name], verbs: ['get', 'patch'] },
      { apiGroups: ['nvidia.com'], resources: ['dynamographdeploymentscalingadapters/scale'], resourceNames: [`${dgd.metadata.name}-vllmdecodeworker`, `${dgd.metadata.name}-vllmprefillworker`], verbs: ['patch'] },
      // Events on the DGD: their names are generated, so the rule cannot name them.
      { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] },
    ]);
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: sa.metadata.name }]);
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.metadata.name });
    // A generated deployment verifies an https Prometheus unless --no-prometheus-ssl-verify.
    expect(JSON.parse(cfgCm.data['planner_config.json']).metric_pulling_prometheus_ssl_verify).toBe(true);
    expect(cfgCm.metadata.name).toMatch(/^planner-config-[0-9a-f]{4}$/);
    expect(dataCm.metadata.name).toMatch(/^planner-profile-data-[0-9a-f]{4}$/);
    expect(dataCm.data['decode_raw_data.json']).toBe(readFileSync(join(dir, 'decode_raw_data.json'), 'utf8'));

    const { config, warnings } = resolveConfig(JSON.parse(cfgCm.data['planner_config.json']), { strict: true, env: {} });
    expect(warnings).toEqual([]);
    expect(config).toMatchObject({
      environment: 'kubernetes', backend: 'vllm', mode: 'disagg', ttft: 150, itl: 15,
      profile_results_dir: '/workspace/profiling_results', model_name: 'Qwen/Qwen3-8B',
      prefill_engine_num_gpu: result.prefillEngine.tp, decode_engine_num_gpu: result.decodeEngine.tp,
    });
    // namespace and the metrics port are left to the pod's environment (set by the operator)
    expect(Object.keys(JSON.parse(cfgCm.data['planner_config.json']))).not.toContain('namespace');

    expect(dgd.apiVersion).toBe('nvidia.com/v1alpha1');
    const planner = dgd.spec.services.Planner;
    expect(planner.componentType).toBe('planner');
    expect(planner.extraPodSpec.mainContainer.command).toEqual(['sla-planner', 'run', '--config', '/workspace/planner_config/planner_config.json']);
    expect(planner.extraPodSpec.mainContainer.volumeMounts).toEqual([
      { name: cfgCm.metadata.name, mountPath: '/workspace/planner_config', readOnly: true },
      { name: dataCm.metadata.name, mountPath: '/workspace/profiling_results', readOnly: true },
    ]);
    expect(planner.extraPodSpec.volumes.map((v: { configMap: { name: string } }) => v.configMap.name)).toEqual([cfgCm.metadata.name, dataCm.metadata.name]);
    for (const [svc, role, tp] of [['VllmPrefillWorker', 'prefill', result.prefillEngine.tp], ['VllmDecodeWorker', 'decode', result.decodeEngine.tp]] as const) {
      const w = dgd.spec.services[svc];
      expect(w.subComponentType).toBe(role);
      expect(w.resources.limits.gpu).toBe(String(tp));
      const args: string[] = w.extraPodSpec.mainContainer.args;
      expect(args[args.indexOf('--tensor-parallel-size') + 1]).toBe(String(tp));
      expect(args[args.indexOf('--model') + 1]).toBe('Qwen/Qwen3-8B');
      expect(w.extraPodSpec.mainContainer.image).toBe('registry.example/vllm-runtime:1.0');
    }
  });

  it("the planner's own DGD reader finds both pools, their GPUs and the model", () => {
    const dgd = result.assembly.dgd as Dgd;
    for (const [pool, tp] of [['prefill', result.prefillEngine.tp], ['decode', result.decodeEngine.tp]] as const) {
      const key = findPoolService(dgd, pool, 'vllm');
      const svc = dgd.spec!.services![key];
      expect(gpusPerReplica(svc)).toBe(tp);
      expect(modelNameOf(svc)).toBe('qwen/qwen3-8b');
    }
  });

  it('writes ssl_verify false only when asked (--no-prometheus-ssl-verify)', () => {
    const out = join(tmp('insecure'), 'out');
    const r = cli(['profile', '--model', 'qwen3-0.6b', '--gpu', 'h100-sxm', '--no-prometheus-ssl-verify', '--output-dir', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(out, 'planner_config.json'), 'utf8')).metric_pulling_prometheus_ssl_verify).toBe(false);
  });

  it('the plot page: the profile curves against the SLA targets, and one throughput-per-GPU vs latency curve per TP size', () => {
    const html = readFileSync(join(dir, 'plots.html'), 'utf8');
    expect(html).not.toMatch(/<link|\ssrc=|@import|url\(|href=/);
    expect(html.match(/<figure class="chart"/g)).toHaveLength(4);
    const contexts = new Set(result.decode.y_context_length).size;
    const figure = (id: string) => html.slice(html.indexOf(`id="${id}"`), html.indexOf('</figure>', html.indexOf(`id="${id}"`)));
    const paths = (id: string) => figure(id).match(/<path d="M/g)?.length ?? 0;
    expect(paths('ttft-isl')).toBe(1);
    expect(paths('itl-kv')).toBe(contexts);
    expect(html).toContain('context 350');
    expect(figure('ttft-isl')).toContain('TTFT target 150 ms');
    expect(figure('itl-kv')).toContain('ITL target 15 ms');
    // Every TP size that can run gets its curve; the chosen one is named.
    for (const [id, pool] of [['prefill-tp', 'prefill'], ['decode-tp', 'decode']] as const) {
      const feasible = result.selection[pool].candidates.filter((c) => !c.infeasible);
      expect(paths(id)).toBe(feasible.length);
      for (const c of feasible) expect(figure(id)).toContain(`TP${c.tp}`);
      expect(figure(id)).toContain(`TP${result.selection[pool].chosen.tp} (chosen)`);
    }
  });

  it('the plot page renders in headless Chromium without console errors or network', async () => {
    const page = await openPage(`file://${join(dir, 'plots.html')}`);
    try {
      expect(await page.evaluate<string>('document.body.getAttribute("data-charts-ready")')).toBe('4');
      const png = await page.screenshot();
      expect(png.length).toBeGreaterThan(30_000);
      writeFileSync(join(dir, 'plots.png'), png);
      expect(page.errors).toEqual([]);
      expect(page.remoteRequests).toEqual([]);
    } finally {
      await page.close();
    }
  }, 90_000);
});

describe('sla-planner profile (CLI)', () => {
  beforeAll(() => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run 'npx tsc -p tsconfig.json' first`);
  });

  it('writes an output dir that sla-planner validate accepts', () => {
    const out = join(tmp('cli'), 'out');
    const r = cli(['profile', '--model', 'llama-3.1-8b', '--gpu', 'h100-sxm', '--isl', '3000', '--osl', '150', '--ttft', '200', '--itl', '20', '--max-context-length', '32768', '--output-dir', out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.match(/<- chosen/g)).toHaveLength(2);
    expect(readdirSync(out).sort()).toEqual([
      'decode_raw_data.json', 'final_config.yaml', 'planner-profile-data.configmap.json', 'planner_config.json', 'plots.html',
      'prefill_raw_data.json', 'profiler_status.yaml', 'selected_decode_interpolation', 'selected_prefill_interpolation', 'selection.txt',
    ]);
    const v = cli(['validate', '--config', join(out, 'planner_config.json'), '--profile-dir', out]);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stderr).toMatch(/prefill 17 points, ISL 100-/);
    // the workers are told the shorter context the profile covers
    expect(readFileSync(join(out, 'final_config.yaml'), 'utf8')).toMatch(/--max-model-len\n\s+- "32768"/);
  });

  it('--dry-run prints the choice and writes nothing', () => {
    const out = join(tmp('dry'), 'out');
    const r = cli(['profile', '--model', 'qwen3-0.6b', '--gpu', 'b200', '--output-dir', out, '--dry-run']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/dry run: would write 10 files/);
    expect(existsSync(out)).toBe(false);
  });

  it('refuses a mixture-of-experts config.json with one line and exit 2', () => {
    const cfg = join(tmp('moe'), 'config.json');
    writeFileSync(cfg, JSON.stringify({ architectures: ['Qwen3MoeForCausalLM'], num_experts: 128, hidden_size: 2048 }));
    const r = cli(['profile', '--model', cfg, '--gpu', 'h100', '--output-dir', tmp('moe-out')]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/mixture-of-experts/);
  });

  it('rejects bad flags with exit 2', () => {
    expect(cli(['profile', '--model', 'qwen3-8b', '--gpu', 'h100', '--output-dir', tmp('g'), '--prefill-interpolation-granularity', '3']).code).toBe(2);
    expect(cli(['profile', '--model', 'qwen3-8b', '--gpu', 'h100']).stderr).toMatch(/--output-dir is required/);
    expect(cli(['profile', '--model', 'qwen3-8b', '--gpu', 'h100', '--output-dir', tmp('i'), '--isl', 'abc']).code).toBe(2);
    // A huge granularity used to overflow the stack in the plot page (exit 1, no sentence).
    const huge = cli(['profile', '--model', 'qwen3-8b', '--gpu', 'h100', '--output-dir', tmp('h'), '--decode-interpolation-granularity', '100000']);
    expect(huge.code).toBe(2);
    expect(huge.stderr).toMatch(/--decode-interpolation-granularity must be at most 100/);
  });
});
