// The `validate` command end to end: spawns the built CLI (`npx tsc -p tsconfig.json` first;
// `npm test` does that).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CONFIG_KEYS } from '../../src/config/index.js';
import { profileSummary } from '../../src/commands/validate.js';

const CLI = 'dist/src/cli.js';

function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.DYN_NAMESPACE;
  delete env.PROMETHEUS_ENDPOINT;
  delete env.PLANNER_PROMETHEUS_PORT;
  delete env.SLA_PLANNER_DEBUG;
  return { ...env, ...extra };
}

function validate(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [CLI, 'validate', ...args], { encoding: 'utf8', env: cleanEnv(env) });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function tempFile(name: string, text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'sla-planner-validate-')), name);
  writeFileSync(path, text);
  return path;
}

/** A bad-input run: exit 2, one line on stderr, no stack trace, nothing on stdout. */
function expectRejected(run: ReturnType<typeof validate>, ...fragments: string[]) {
  expect(run.code, run.stderr).toBe(2);
  expect(run.stdout).toBe('');
  const lines = run.stderr.trimEnd().split('\n');
  expect(lines.length, run.stderr).toBe(1);
  expect(run.stderr).not.toMatch(/\n\s+at /);
  expect(lines[0].startsWith('sla-planner validate: ')).toBe(true);
  for (const fragment of fragments) expect(run.stderr).toContain(fragment);
}

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing; run 'npx tsc -p tsconfig.json' before these tests.`);
});

describe('sla-planner validate', () => {
  const shipped = ['config/planner-config.json', ...readdirSync('config/examples').map((f) => `config/examples/${f}`)];
  for (const file of shipped) {
    it(`${file}: exit 0, the full effective config on stdout, nothing on stderr`, () => {
      const run = validate(['--config', file]);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toBe('');
      const effective = JSON.parse(run.stdout);
      expect(Object.keys(effective).sort()).toEqual([...CONFIG_KEYS].sort());
    });
  }

  it('inline JSON works like the original --config, with derived rules visible', () => {
    const run = validate(['--config', '{"enable_load_scaling": true, "no_correction": false, "ttft_ms": 180}']);
    expect(run.code, run.stderr).toBe(0);
    const effective = JSON.parse(run.stdout);
    expect(effective.no_correction).toBe(true);
    expect(effective.ttft).toBe(180);
    expect(effective.namespace).toBe('dynamo');
    expect(run.stderr).toContain('warning: inline --config JSON: no_correction set to true');
    expect(run.stderr).toContain("warning: inline --config JSON: key 'ttft_ms' is the newer upstream (Gen C) name of 'ttft'");
  });

  it('environment defaults reach the effective config', () => {
    const run = validate(['--config', '{}'], { DYN_NAMESPACE: 'team-b', PLANNER_PROMETHEUS_PORT: '9085' });
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ namespace: 'team-b', metric_reporting_prometheus_port: 9085 });
  });

  it('unknown key: exit 2 with the nearest valid key', () => {
    const file = tempFile('typo.json', '{"ttft": 200, "itl_target": 20}');
    expectRejected(validate(['--config', file]), `${file}: unknown key 'itl_target' (did you mean 'itl'?)`);
  });

  it('wrong type: exit 2 naming the field, the value and the type', () => {
    expectRejected(validate(['--config', '{"max_gpu_budget": "lots"}']), "field 'max_gpu_budget' must be an integer, got 'lots'");
  });

  it('out of range: exit 2 with the range', () => {
    expectRejected(validate(['--config', '{"metric_reporting_prometheus_port": 99999}']), "field 'metric_reporting_prometheus_port' must be an integer from 0 to 65535, got 99999");
  });

  it('enum typo: exit 2 with the allowed values and a suggestion', () => {
    expectRejected(validate(['--config', '{"load_predictor": "kalmann"}']), "one of 'constant', 'arima', 'kalman', 'prophet', got 'kalmann' (did you mean 'kalman'?)");
  });

  it('bad file path: exit 2', () => {
    expectRejected(validate(['--config', 'no/such/planner.yaml']), "--config 'no/such/planner.yaml': no such file");
  });

  it('bad JSON syntax: exit 2 with the line', () => {
    const file = tempFile('broken.json', '{\n  "ttft": 200\n  "itl": 20\n}\n');
    expectRejected(validate(['--config', file]), `${file}: invalid JSON at line 3, column 3`);
  });

  it('bad YAML syntax: exit 2 with the line', () => {
    const file = tempFile('broken.yaml', 'ttft: 200\nitl: "20\n');
    expectRejected(validate(['--config', file]), `${file}: invalid YAML at line`);
  });

  it('rule violation: exit 2 with the original message', () => {
    expectRejected(
      validate(['--config', '{"enable_load_scaling": true, "load_adjustment_interval": 200, "throughput_adjustment_interval": 180}']),
      'load_adjustment_interval (200s) must be shorter than throughput_adjustment_interval (180s).',
    );
    expectRejected(validate(['--config', '{"environment": "global-planner", "prefill_engine_num_gpu": 1, "decode_engine_num_gpu": 1}']), 'global_planner_namespace is required');
  });

  it('startup-fatal combination the original only finds at startup: validate rejects it', () => {
    expectRejected(validate(['--config', '{"environment": "virtual"}']), 'prefill_engine_num_gpu is required outside kubernetes', 'decode_engine_num_gpu is required outside kubernetes');
  });

  it('missing --config and unknown flags: exit 2 with usage hint', () => {
    expectRejected(validate([]), '--config is required');
    expectRejected(validate(['--config', '{}', '--frobnicate']), "run 'sla-planner validate --help'");
  });

  it('--help: exit 0 with usage', () => {
    const run = validate(['--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Usage: sla-planner validate --config');
  });
});

describe('validate --profile-dir', () => {

  it('the summary line gives points, ISL range, context range and max_kv_tokens', () => {
    const line = profileSummary('p', {
      prefill: { isl: [128, 4096, 512], ttftMs: [1, 2, 3], thptPerGpu: [1, 2, 3] },
      decode: { kvUsage: [0.1, 0.2], contextLength: [256, 16384], itlMs: [5, 6], thptPerGpu: [10, 20], maxKvTokens: 400018 },
      source: { prefill: 'a', decode: 'b' },
    });
    expect(line).toBe('profile p: prefill 3 points, ISL 128-4096; decode 2 points, context 256-16384, max_kv_tokens 400018');
  });

  it('loads the H100 fixture (ConfigMap layout) and prints its summary to stderr', () => {
    const run = validate(['--config', 'config/planner-config.json', '--profile-dir', 'test/fixtures/h100/llama-3.1-8b/configmap']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('profile test/fixtures/h100/llama-3.1-8b/configmap: prefill 11 points, ISL 128-16384; decode');
    expect(run.stderr).toContain('max_kv_tokens 400018');
    // The shipped config's SLA is tuned by its owner; what matters here is that the file's value comes through.
    expect(JSON.parse(run.stdout).ttft).toBe(JSON.parse(readFileSync('config/planner-config.json', 'utf8')).ttft);
  });

  it('a directory without profile data: exit 2', () => {
    const run = validate(['--config', '{}', '--profile-dir', mkdtempSync(join(tmpdir(), 'empty-profile-'))]);
    expect(run.code, run.stderr).toBe(2);
  });
});
