import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import {
  CONFIG_KEYS,
  DEFAULT_PROMETHEUS_ENDPOINT,
  EXTENSION_CONFIG_KEYS,
  KEY_ALIASES,
  SLA_STRATEGY,
  UPSTREAM_CONFIG_KEYS,
  applyDerivedRules,
  loadConfig,
  resolveConfig,
  type PlannerConfig,
} from '../../src/config/index.js';
import { keyDistance, levenshtein, nearest } from '../../src/config/suggest.js';
import { InputError } from '../../src/util/errors.js';

const FIXTURES = 'test/fixtures/dynamo/planner_config';
const DGD_DIR = 'test/fixtures/dynamo/dgd';
const NO_ENV = {} as NodeJS.ProcessEnv;

function readJson(path: string): any {
  return JSON.parse(readFileSync(path, 'utf8'));
}

/** The message of the InputError `fn` throws (fails the test if it throws anything else). */
function inputError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return (err as Error).message;
  }
  throw new Error('expected an InputError, nothing was thrown');
}

function tempFile(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'sla-planner-config-'));
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** The value after `--config` in any args list of a (multi-document) DGD YAML. */
function configArgs(yamlText: string): string[] {
  const found: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) {
      node.forEach((item, i) => {
        if (item === '--config' && typeof node[i + 1] === 'string') found.push(node[i + 1]);
        walk(item);
      });
    } else if (node && typeof node === 'object') Object.values(node).forEach(walk);
  };
  for (const doc of YAML.parseAllDocuments(yamlText)) walk(doc.toJS());
  return found;
}

/** A valid config object for tests, virtual so nothing is read from a DGD. */
function virtualConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { environment: 'virtual', prefill_engine_num_gpu: 1, decode_engine_num_gpu: 1, ...extra };
}

describe('upstream fixtures', () => {
  it('defaults with the environment unset equal the original dump of PlannerConfig()', () => {
    const expected = readJson(`${FIXTURES}/planner_config.defaults.json`);
    const { config, warnings } = resolveConfig({}, { env: NO_ENV, strict: true });
    const upstreamPart = Object.fromEntries(UPSTREAM_CONFIG_KEYS.map((k) => [k, config[k]]));
    expect(upstreamPart).toEqual(expected);
    // Key order follows model_dump_json, so a diff against an upstream dump lines up.
    expect(Object.keys(config).slice(0, UPSTREAM_CONFIG_KEYS.length)).toEqual(Object.keys(expected));
    expect(warnings).toEqual([]);
  });

  it('sla-planner extensions default to off (upstream behaviour) except the missing-data hold', () => {
    const { config } = resolveConfig({}, { env: NO_ENV });
    expect(EXTENSION_CONFIG_KEYS.sort()).toEqual([
      'decode_max_kv_usage', 'dgd_decision_annotation', 'forecast_error_window', 'forecast_quantile', 'hold_on_missing_data', 'kubernetes_events',
      'metric_pulling_prometheus_ca_bundle', 'metric_pulling_prometheus_ssl_verify', 'metric_pulling_prometheus_token_file',
      'monotone_decode_search', 'num_req_source', 'planner_metric_names', 'prefill_burstiness', 'prefill_correction_can_scale_up', 'prefill_learn_burstiness',
      'prefill_max_utilization', 'prefill_sizing', 'prefill_ttft_quantile', 'scale_down_window',
      'burst_memory_s', 'cold_start_s', 'decode_kv_quantile', 'decode_sizing', 'during_rollout', 'load_scaling_rule', 'saturation_kv_usage', 'strategy', 'ttft_feedback',
      'prefill_burst_sizing', 'prefill_burst_miss_share',
    ].sort());
    // Reporting switches change no decision: Events and the annotation on, both metric name families exported.
    expect(config).toMatchObject({ kubernetes_events: true, dgd_decision_annotation: true, planner_metric_names: 'both' });
    expect(config.prefill_correction_can_scale_up).toBe(false);
    expect(config.monotone_decode_search).toBe(false);
    // The switches that change decisions are off; the rest only tune an option that is off.
    expect(config).toMatchObject({ prefill_sizing: 'throughput', decode_max_kv_usage: 1, num_req_source: 'finished', forecast_quantile: null, scale_down_window: 1 });
    expect(config).toMatchObject({ strategy: 'upstream', decode_sizing: 'throughput', load_scaling_rule: 'regression', ttft_feedback: false, during_rollout: 'drop', prefill_burst_sizing: false });
    // The original queries Prometheus without TLS verification or auth.
    expect(config).toMatchObject({ metric_pulling_prometheus_ssl_verify: false, metric_pulling_prometheus_ca_bundle: null, metric_pulling_prometheus_token_file: null });
  });

  it('the upstream JSON Schema lists exactly our upstream fields, with the same defaults', () => {
    const schema = readJson(`${FIXTURES}/planner_config.schema.json`);
    expect(Object.keys(schema.properties).sort()).toEqual([...UPSTREAM_CONFIG_KEYS].sort());
    const { config } = resolveConfig({}, { env: NO_ENV });
    for (const [key, prop] of Object.entries<any>(schema.properties)) {
      if ('default' in prop) expect(config[key as keyof PlannerConfig], key).toEqual(prop.default);
    }
  });

  for (const name of ['inline-vllm-disagg_planner', 'inline-scaling-load']) {
    it(`${name}: the input gives the original's effective config`, () => {
      const input = readJson(`${FIXTURES}/${name}.input.json`);
      const expected = readJson(`${FIXTURES}/${name}.effective.json`);
      const { config } = loadConfig(JSON.stringify(input), { env: NO_ENV, strict: true });
      expect(Object.fromEntries(Object.keys(expected).map((k) => [k, config[k as keyof PlannerConfig]]))).toEqual(expected);
    });
  }

  it('the profiler-written planner_config.json (every field) round-trips unchanged', () => {
    const path = `${FIXTURES}/planner_config.json`;
    const { config, warnings } = loadConfig(path, { env: NO_ENV, strict: true });
    expect(Object.fromEntries(UPSTREAM_CONFIG_KEYS.map((k) => [k, config[k]]))).toEqual(readJson(path));
    expect(config.backend).toBe('trtllm');
    expect(warnings).toEqual([]);
  });

  it('the planner-config ConfigMap value loads', () => {
    const cm = readJson(`${FIXTURES}/planner-config.configmap.json`);
    const { config } = loadConfig(cm.data['planner_config.json'], { env: NO_ENV, strict: true });
    expect(config.prefill_engine_num_gpu).toBe(1);
    expect(config.profile_results_dir).toBe('/workspace/profiling_results');
  });

  it('the rejected fixture is rejected with the original message', () => {
    const fixture = readJson(`${FIXTURES}/rejected-load-interval.json`);
    const original = /Value error, (.*?) \[type=/.exec(fixture.error.join('\n'))![1];
    expect(original).toContain('must be shorter than throughput_adjustment_interval (180s)');
    const message = inputError(() => resolveConfig(fixture.input, { env: NO_ENV, origin: 'rejected.json' }));
    expect(message).toBe(`rejected.json: ${original}`);
  });
});

describe('DGD-embedded --config values', () => {
  const files = readdirSync(DGD_DIR).filter((f) => f.endsWith('.yaml'));
  const pinFiles = files.filter((f) => !f.includes('HEAD') && !f.includes('legacy-argparse'));

  it('finds the pinned examples', () => {
    expect(pinFiles.length).toBe(5);
  });

  for (const file of pinFiles) {
    it(`${file}: its --config loads strictly with no warnings`, () => {
      const args = configArgs(readFileSync(join(DGD_DIR, file), 'utf8'));
      expect(args.length).toBe(1);
      const { config, warnings } = loadConfig(args[0], { env: NO_ENV, strict: true });
      expect(config.environment).toBe('kubernetes');
      expect(warnings).toEqual([]);
    });
  }

  it('load-only DGD: load scaling on, throughput off, no profile needed', () => {
    const args = configArgs(readFileSync(join(DGD_DIR, 'scaling-disagg_planner_load.v1alpha1.yaml'), 'utf8'));
    const { config } = loadConfig(args[0], { env: NO_ENV, strict: true });
    expect(config.enable_load_scaling).toBe(true);
    expect(config.enable_throughput_scaling).toBe(false);
    expect(config.pre_deployment_sweeping_mode).toBe('none');
  });

  it('HEAD (v1beta1) DGD: aliases are read, but throughput scaling with sweeping "none" is rejected as at the pin', () => {
    const args = configArgs(readFileSync(join(DGD_DIR, 'vllm-disagg_planner.v1beta1.HEAD-2026-08.yaml'), 'utf8'));
    expect(args.length).toBe(1);
    const message = inputError(() => loadConfig(args[0], { env: NO_ENV, strict: false }));
    expect(message).toContain("pre_deployment_sweeping_mode cannot be 'none' when enable_throughput_scaling is true");
    // Without that rule violation the rest of the HEAD config is readable: aliases map, the
    // Gen C key is an unknown-key warning.
    const fixed = { ...JSON.parse(args[0]), pre_deployment_sweeping_mode: 'rapid' };
    const { config, warnings } = resolveConfig(fixed, { env: NO_ENV });
    expect(config.throughput_adjustment_interval).toBe(60);
    expect(config.load_adjustment_interval).toBe(5);
    expect(warnings.some((w) => w.includes("unknown key 'optimization_target'"))).toBe(true);
    expect(warnings.some((w) => w.includes("'throughput_adjustment_interval_seconds' is the newer upstream (Gen C) name"))).toBe(true);
  });
});

describe('reading --config', () => {
  it('reads YAML files, with YAML 1.1 booleans as PyYAML does', () => {
    const path = tempFile('p.yaml', 'environment: kubernetes\nenable_load_scaling: yes\nttft: 300\n');
    const { config } = loadConfig(path, { env: NO_ENV });
    expect(config.enable_load_scaling).toBe(true);
    expect(config.ttft).toBe(300);
    expect(config.no_correction).toBe(true);
  });

  it('unknown suffix: JSON first, then YAML', () => {
    expect(loadConfig(tempFile('p.conf', '{"itl": 33}'), { env: NO_ENV }).config.itl).toBe(33);
    expect(loadConfig(tempFile('p.txt', 'itl: 34\n'), { env: NO_ENV }).config.itl).toBe(34);
  });

  it('a missing file names the path and the two accepted forms', () => {
    const message = inputError(() => loadConfig('configs/missing.json'));
    expect(message).toContain("--config 'configs/missing.json': no such file");
    expect(message).toContain('inline JSON');
  });

  it('a directory is refused', () => {
    expect(inputError(() => loadConfig(tmpdir()))).toContain('is a directory');
  });

  it('JSON syntax errors give the file, line and column', () => {
    const path = tempFile('bad.json', '{\n  "ttft": 200,\n  "itl": 20,\n}\n');
    const message = inputError(() => loadConfig(path));
    expect(message).toMatch(new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: invalid JSON at line 4, column 1`));
  });

  it('inline JSON syntax errors name the inline source', () => {
    const message = inputError(() => loadConfig('{"ttft": 200,, "itl": 20}'));
    expect(message).toMatch(/^inline --config JSON: invalid JSON at line 1, column 14/);
  });

  it('YAML syntax errors give the file and line', () => {
    const path = tempFile('bad.yaml', 'ttft: 200\nitl: [20\nmode: agg\n');
    const message = inputError(() => loadConfig(path));
    expect(message).toContain(`${path}: invalid YAML at line`);
  });

  it('a config that is not an object is refused', () => {
    expect(inputError(() => loadConfig('[1, 2]'))).toContain('must be an object of field names to values, got a list');
    expect(inputError(() => loadConfig(tempFile('empty.yaml', '')))).toContain('got null');
  });
});

describe('field errors', () => {
  it('unknown key: strict lists it with the nearest valid key', () => {
    const message = inputError(() => resolveConfig({ ttf: 200, load_predictr: 'kalman' }, { env: NO_ENV, strict: true, origin: 'p.json' }));
    expect(message).toContain("unknown key 'ttf' (did you mean 'ttft'?)");
    expect(message).toContain("unknown key 'load_predictr' (did you mean 'load_predictor'?)");
    expect(message.startsWith('p.json: ')).toBe(true);
  });

  it('unknown key: non-strict ignores it like the original, with one warning per key', () => {
    const { config, warnings } = resolveConfig({ ttf: 200, itll: 3 }, { env: NO_ENV, origin: 'p.json' });
    expect(config.ttft).toBe(500);
    expect(warnings).toEqual([
      "p.json: unknown key 'ttf' is ignored, as the original does; did you mean 'ttft'?",
      "p.json: unknown key 'itll' is ignored, as the original does; did you mean 'itl'?",
    ]);
  });

  it('wrong type names the field, the value and what is allowed', () => {
    expect(inputError(() => resolveConfig({ ttft: 'fast' }, { env: NO_ENV, origin: 'p.json' }))).toBe(
      "p.json: field 'ttft' must be a number > 0, got 'fast'.",
    );
    expect(inputError(() => resolveConfig({ no_operation: 'maybe' }, { env: NO_ENV }))).toContain("field 'no_operation' must be true or false, got 'maybe'");
    expect(inputError(() => resolveConfig({ min_endpoint: 1.5 }, { env: NO_ENV }))).toContain("field 'min_endpoint' must be an integer >= 0, got 1.5");
  });

  it('out of range gives the range', () => {
    expect(inputError(() => resolveConfig({ load_scaling_down_sensitivity: 150 }, { env: NO_ENV }))).toContain(
      "field 'load_scaling_down_sensitivity' must be an integer from 0 to 100, got 150",
    );
    expect(inputError(() => resolveConfig({ throughput_adjustment_interval: 0 }, { env: NO_ENV }))).toContain('must be an integer > 0, got 0');
  });

  it('enum typo lists the values and suggests the nearest', () => {
    expect(inputError(() => resolveConfig({ environment: 'kubernets' }, { env: NO_ENV }))).toContain(
      "field 'environment' must be one of 'kubernetes', 'virtual', 'global-planner', got 'kubernets' (did you mean 'kubernetes'?)",
    );
  });

  it('one sentence per field, all fields at once', () => {
    const message = inputError(() => resolveConfig({ ttft: -1, itl: -2, mode: 'x' }, { env: NO_ENV }));
    expect(message.match(/field '/g)?.length).toBe(3);
    expect(message).not.toContain('\n');
  });

  it('null where the original needs a value is refused; nullable fields accept null', () => {
    expect(inputError(() => resolveConfig({ ttft: null }, { env: NO_ENV }))).toContain("field 'ttft' must be a number > 0, got null");
    // YAML .inf / JSON 1e400 parse to Infinity; the message must not call it null.
    expect(inputError(() => resolveConfig({ ttft: Infinity }, { env: NO_ENV }))).toContain('got Infinity');
    expect(resolveConfig({ pre_deployment_sweeping_mode: null, enable_throughput_scaling: false, enable_load_scaling: true }, { env: NO_ENV }).config.pre_deployment_sweeping_mode).toBeNull();
  });

  it('quoted numbers and booleans are read as pydantic does, with a warning', () => {
    const { config, warnings } = resolveConfig({ throughput_adjustment_interval: '60', ttft: '250.5', no_operation: 'true' }, { env: NO_ENV });
    expect(config.throughput_adjustment_interval).toBe(60);
    expect(config.ttft).toBe(250.5);
    expect(config.no_operation).toBe(true);
    expect(warnings.filter((w) => w.includes('write it without quotes')).length).toBe(3);
  });
});

describe('aliases', () => {
  it('newer and older upstream names map to the canonical fields with a note', () => {
    const { config, warnings } = resolveConfig(
      { ttft_ms: 150, itl_ms: 15, adjustment_interval: 90, enable_loadbased_scaling: true, loadbased_adjustment_interval: 10 },
      { env: NO_ENV, strict: true },
    );
    expect([config.ttft, config.itl, config.throughput_adjustment_interval, config.enable_load_scaling, config.load_adjustment_interval]).toEqual([150, 15, 90, true, 10]);
    expect(warnings.filter((w) => w.includes('the pinned original would ignore it')).length).toBe(5);
  });

  it('a misspelt key is pointed at the canonical field, never at an alias', () => {
    expect(inputError(() => resolveConfig({ adjustmnt_interval: 30 }, { env: NO_ENV, strict: true }))).toContain("unknown key 'adjustmnt_interval' (did you mean 'load_adjustment_interval'?)");
    // Any one-letter slip in an alias still suggests a key of the schema.
    fc.assert(
      fc.property(fc.constantFrom(...Object.keys(KEY_ALIASES)), fc.nat(), (alias, at) => {
        const i = at % alias.length;
        const typo = alias.slice(0, i) + alias.slice(i + 1);
        fc.pre(!(typo in KEY_ALIASES) && !(CONFIG_KEYS as readonly string[]).includes(typo));
        const message = inputError(() => resolveConfig({ [typo]: 1 }, { env: NO_ENV, strict: true }));
        const suggested = /did you mean '([a-z0-9_]+)'/.exec(message)?.[1];
        expect(CONFIG_KEYS).toContain(suggested);
      }),
      { numRuns: 200 },
    );
  });

  it('an alias and its canonical key with different values is an error', () => {
    expect(inputError(() => resolveConfig({ ttft: 200, ttft_ms: 300 }, { env: NO_ENV }))).toContain("both 'ttft_ms' (300) and 'ttft' (200) are set");
  });
});

describe('environment defaults', () => {
  it('env fills namespace, Prometheus endpoint and port when the file omits them', () => {
    const env = { DYN_NAMESPACE: 'team-a', PROMETHEUS_ENDPOINT: 'http://prom:9090', PLANNER_PROMETHEUS_PORT: '9085' };
    const { config, warnings } = resolveConfig({}, { env });
    expect([config.namespace, config.metric_pulling_prometheus_endpoint, config.metric_reporting_prometheus_port]).toEqual(['team-a', 'http://prom:9090', 9085]);
    expect(warnings).toEqual([]);
  });

  it('without env: "dynamo", the in-cluster Prometheus URL and port 0', () => {
    const { config } = resolveConfig({}, { env: NO_ENV });
    expect([config.namespace, config.metric_pulling_prometheus_endpoint, config.metric_reporting_prometheus_port]).toEqual(['dynamo', DEFAULT_PROMETHEUS_ENDPOINT, 0]);
  });

  it('an explicit key wins over env; a namespace differing from DYN_NAMESPACE is warned about', () => {
    const env = { DYN_NAMESPACE: 'team-a', PLANNER_PROMETHEUS_PORT: '9085' };
    const { config, warnings } = resolveConfig({ namespace: 'dynamo', metric_reporting_prometheus_port: 0 }, { env, origin: 'cm.json' });
    expect(config.namespace).toBe('dynamo');
    expect(config.metric_reporting_prometheus_port).toBe(0);
    expect(warnings).toEqual([expect.stringContaining("cm.json: namespace 'dynamo' overrides DYN_NAMESPACE='team-a'")]);
  });

  it('a bad env value names the variable', () => {
    expect(inputError(() => resolveConfig({}, { env: { PLANNER_PROMETHEUS_PORT: 'metrics' } }))).toContain('environment variable PLANNER_PROMETHEUS_PORT must be an integer');
    expect(inputError(() => resolveConfig({}, { env: { PLANNER_PROMETHEUS_PORT: '70000' } }))).toContain('environment variable PLANNER_PROMETHEUS_PORT must be an integer from 0 to 65535, got 70000');
    expect(inputError(() => resolveConfig({}, { env: { PROMETHEUS_ENDPOINT: 'not a url' } }))).toContain('environment variable PROMETHEUS_ENDPOINT must be an http(s) URL');
  });
});

describe('strategy', () => {
  it('upstream (the default) leaves every option at the original\'s behaviour', () => {
    const { config } = resolveConfig({}, { env: {} });
    const { config: explicit } = resolveConfig({ strategy: 'upstream' }, { env: {} });
    expect(explicit).toEqual(config);
    expect(config).toMatchObject({ strategy: 'upstream', prefill_sizing: 'throughput', decode_sizing: 'throughput', enable_load_scaling: false, load_scaling_rule: 'regression', ttft_feedback: false, load_predictor: 'arima' });
  });

  it('sla fills every key of its set the file leaves out; keys set in the file win', () => {
    const { config } = resolveConfig({ strategy: 'sla' }, { env: {} });
    expect(config).toMatchObject({ ...SLA_STRATEGY, strategy: 'sla' });
    const { config: own } = resolveConfig({ strategy: 'sla', decode_max_kv_usage: 0.7, enable_load_scaling: false, load_predictor: 'constant' }, { env: {} });
    expect(own).toMatchObject({ decode_max_kv_usage: 0.7, enable_load_scaling: false, load_predictor: 'constant', decode_sizing: 'kv', ttft_feedback: true });
  });

  it('sla outside kubernetes needs the router URL for the load loop it turns on, and says how to do without', () => {
    expect(() => resolveConfig({ strategy: 'sla', environment: 'virtual' }, { env: {} })).toThrow(
      /load_router_metrics_url is required when load scaling is enabled outside kubernetes \(environment 'virtual'\) \(strategy sla turns load scaling on; set enable_load_scaling to false to run without it\)/,
    );
    expect(resolveConfig({ strategy: 'sla', environment: 'virtual', enable_load_scaling: false }, { env: {} }).config.enable_load_scaling).toBe(false);
  });

  it('rejects an unknown strategy and out-of-range new options with the allowed values', () => {
    expect(() => resolveConfig({ strategy: 'fast' }, { env: {} })).toThrow(/field 'strategy' must be one of 'upstream', 'sla', got 'fast'/);
    expect(() => resolveConfig({ decode_kv_quantile: 1 }, { env: {} })).toThrow(/field 'decode_kv_quantile' must be a number > 0 and < 1, got 1/);
    expect(() => resolveConfig({ saturation_kv_usage: 0 }, { env: {} })).toThrow(/field 'saturation_kv_usage'/);
    expect(() => resolveConfig({ burst_memory_s: -1 }, { env: {} })).toThrow(/field 'burst_memory_s'/);
    expect(() => resolveConfig({ cold_start_s: 0 }, { env: {} })).toThrow(/field 'cold_start_s'/);
    expect(() => resolveConfig({ load_scaling_rule: 'panic' }, { env: {} })).toThrow(/'regression', 'saturation'/);
  });
});

describe('derived rules', () => {
  it('load scaling forces no_correction, visible in the effective config, with a warning', () => {
    const { config, warnings } = resolveConfig({ enable_load_scaling: true, no_correction: false }, { env: NO_ENV });
    expect(config.no_correction).toBe(true);
    expect(warnings.some((w) => w.includes('no_correction set to true because load scaling is enabled'))).toBe(true);
  });

  it('no_correction false stays false without load scaling', () => {
    expect(resolveConfig({ no_correction: false }, { env: NO_ENV }).config.no_correction).toBe(false);
  });

  it('at least one scaling mode', () => {
    expect(inputError(() => resolveConfig({ enable_throughput_scaling: false }, { env: NO_ENV }))).toContain('at least one scaling mode must be enabled');
  });

  it('global-planner needs global_planner_namespace', () => {
    expect(inputError(() => resolveConfig(virtualConfig({ environment: 'global-planner' }), { env: NO_ENV }))).toContain(
      "global_planner_namespace is required when environment is 'global-planner'",
    );
  });

  it('throughput scaling needs a sweeping mode other than none', () => {
    expect(inputError(() => resolveConfig({ pre_deployment_sweeping_mode: 'none' }, { env: NO_ENV }))).toContain("pre_deployment_sweeping_mode cannot be 'none'");
    expect(inputError(() => resolveConfig({ pre_deployment_sweeping_mode: null }, { env: NO_ENV }))).toContain('pre_deployment_sweeping_mode cannot be null');
  });

  it('load scaling outside kubernetes needs the router metrics URL', () => {
    expect(inputError(() => resolveConfig(virtualConfig({ enable_load_scaling: true }), { env: NO_ENV }))).toContain(
      "load_router_metrics_url is required when load scaling is enabled outside kubernetes (environment 'virtual')",
    );
    expect(resolveConfig(virtualConfig({ enable_load_scaling: true, load_router_metrics_url: 'http://frontend:8000/metrics' }), { env: NO_ENV }).config.enable_load_scaling).toBe(true);
  });

  it('outside kubernetes, engine GPU counts: warning for run, error for validate', () => {
    const input = { environment: 'virtual', prefill_engine_num_gpu: 2 };
    const { warnings } = resolveConfig(input, { env: NO_ENV });
    expect(warnings).toEqual([expect.stringContaining('decode_engine_num_gpu is required outside kubernetes')]);
    expect(inputError(() => resolveConfig(input, { env: NO_ENV, strict: true }))).toContain('decode_engine_num_gpu is required outside kubernetes');
    // Only the pools the mode manages need a count; no_operation never scales, so none are needed.
    expect(resolveConfig({ environment: 'virtual', mode: 'prefill', prefill_engine_num_gpu: 1 }, { env: NO_ENV, strict: true }).warnings).toEqual([]);
    expect(resolveConfig({ environment: 'virtual', no_operation: true }, { env: NO_ENV, strict: true }).warnings).toEqual([]);
  });

  it('queueing prefill sizing in agg mode: a warning that it does not apply there', () => {
    const { warnings } = resolveConfig({ mode: 'agg', prefill_sizing: 'queueing', decode_engine_num_gpu: 1 }, { env: NO_ENV });
    expect(warnings.some((w) => w.includes("prefill_sizing 'queueing' does not apply in mode 'agg'"))).toBe(true);
    expect(resolveConfig({ mode: 'disagg', prefill_sizing: 'queueing' }, { env: NO_ENV }).warnings.some((w) => w.includes('prefill_sizing'))).toBe(false);
  });

  it('agg with throughput scaling: accepted as an extension, with a note in both modes', () => {
    const input = { mode: 'agg', enable_load_scaling: true, prefill_engine_num_gpu: 1, decode_engine_num_gpu: 1 };
    for (const strict of [false, true]) {
      const { config, warnings } = resolveConfig(input, { env: NO_ENV, strict });
      expect(config.enable_throughput_scaling).toBe(true);
      expect(warnings.some((w) => w.includes("mode 'agg' with throughput scaling is an sla-planner extension"))).toBe(true);
    }
  });

  it('applyDerivedRules is pure: it does not mutate its input', () => {
    const { config } = resolveConfig({}, { env: NO_ENV });
    const input = { ...config, enable_load_scaling: true, no_correction: false };
    const out = applyDerivedRules(input);
    expect(input.no_correction).toBe(false);
    expect(out.config.no_correction).toBe(true);
  });

  it('property: with both loops on, a config loads exactly when load interval < throughput interval', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 1000 }), (load, throughput) => {
        const input = { enable_load_scaling: true, load_adjustment_interval: load, throughput_adjustment_interval: throughput };
        let ok = true;
        try {
          resolveConfig(input, { env: NO_ENV, strict: true });
        } catch (err) {
          if (!(err instanceof InputError)) throw err;
          expect(err.message).toContain(`load_adjustment_interval (${load}s) must be shorter than throughput_adjustment_interval (${throughput}s)`);
          ok = false;
        }
        return ok === load < throughput;
      }),
    );
  });

  it('property: the effective config is a fixed point (resolving it again changes nothing)', () => {
    const arbitraryInput = fc.record(
      {
        mode: fc.constantFrom('disagg', 'prefill', 'decode'),
        backend: fc.constantFrom('vllm', 'sglang', 'trtllm', 'mocker'),
        ttft: fc.double({ min: 1, max: 5000, noNaN: true }),
        itl: fc.double({ min: 1, max: 500, noNaN: true }),
        enable_load_scaling: fc.boolean(),
        no_correction: fc.boolean(),
        // -1 (no budget) or enough for min_endpoint of both pools at 1+ GPU each: smaller budgets
        // are configs that cannot work, which strict mode refuses (tested below).
        max_gpu_budget: fc.oneof(fc.constant(-1), fc.integer({ min: 8, max: 64 })),
        min_endpoint: fc.integer({ min: 0, max: 4 }),
        load_predictor: fc.constantFrom('constant', 'arima', 'kalman', 'prophet'),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(arbitraryInput, (input) => {
        const first = resolveConfig(input, { env: NO_ENV, strict: true }).config;
        const second = resolveConfig(first, { env: NO_ENV, strict: true });
        expect(Object.keys(first)).toEqual([...UPSTREAM_CONFIG_KEYS, ...EXTENSION_CONFIG_KEYS]);
        expect(second.config).toEqual(first);
        expect(second.warnings).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });

  it('property: any unknown key is an error in strict mode and a warning otherwise', () => {
    const unknownKey = fc.string({ minLength: 1, maxLength: 30 }).filter((k) => !(CONFIG_KEYS as string[]).includes(k) && !k.includes('ms') && !k.startsWith('loadbased') && k !== 'adjustment_interval' && !k.endsWith('_seconds') && k !== 'enable_loadbased_scaling' && k !== '__proto__');
    fc.assert(
      fc.property(unknownKey, fc.jsonValue(), (key, value) => {
        const input = { [key]: value };
        expect(inputError(() => resolveConfig(input, { env: NO_ENV, strict: true }))).toContain(`unknown key '${key}'`);
        const { warnings } = resolveConfig(input, { env: NO_ENV });
        expect(warnings.length).toBe(1);
        expect(warnings[0]).toContain(`unknown key '${key}' is ignored`);
      }),
      { numRuns: 200 },
    );
  });
});

describe('every config shipped in config/', () => {
  const files = ['config/planner-config.json', ...readdirSync('config/examples').map((f) => `config/examples/${f}`)];

  it('has the examples the README promises', () => {
    expect(files.length).toBeGreaterThanOrEqual(5);
  });

  for (const file of files) {
    it(`${file} validates strictly with no warnings`, () => {
      const { warnings } = loadConfig(file, { env: NO_ENV, strict: true });
      expect(warnings).toEqual([]);
    });
  }

  it('the shipped default is disagg, virtual, 1 GPU per engine, H100 llama SLA, strategy sla with its set on', () => {
    const { config } = loadConfig('config/planner-config.json', { env: NO_ENV, strict: true });
    expect(config).toMatchObject({
      mode: 'disagg',
      environment: 'virtual',
      strategy: 'sla',
      enable_throughput_scaling: true,
      enable_load_scaling: true,
      load_scaling_rule: 'saturation',
      decode_sizing: 'kv',
      ttft_feedback: true,
      prefill_engine_num_gpu: 1,
      decode_engine_num_gpu: 1,
      profile_results_dir: 'config/profile',
      // 300 ms: the profile's TTFT at the demo trace's longest prompts (7.4k tokens) is 225 ms.
      ttft: 300,
      itl: 20,
      prefill_sizing: 'queueing',
      num_req_source: 'started',
      scale_down_window: 3,
    });
  });
});

describe('suggestions', () => {
  it('levenshtein counts edits', () => {
    expect(levenshtein('kitten', 'sitting')).toBe(3);
    expect(levenshtein('', 'abc')).toBe(3);
    expect(levenshtein('ttft', 'ttft')).toBe(0);
  });

  it('property: levenshtein is a metric (symmetric, triangle inequality)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 12 }), fc.string({ maxLength: 12 }), fc.string({ maxLength: 12 }), (a, b, c) => {
        expect(levenshtein(a, b)).toBe(levenshtein(b, a));
        expect(levenshtein(a, c)).toBeLessThanOrEqual(levenshtein(a, b) + levenshtein(b, c));
      }),
    );
  });

  it('nearest picks the closest key, by letters or by whole words', () => {
    expect(nearest('load_learning_windw', CONFIG_KEYS)).toBe('load_learning_window');
    expect(nearest('MODE', CONFIG_KEYS)).toBe('mode');
    // Plain edit distance would suggest 'ttft' for these; the words say otherwise.
    expect(nearest('itl_target', CONFIG_KEYS)).toBe('itl');
    expect(nearest('load_interval', CONFIG_KEYS)).toBe('load_adjustment_interval');
    expect(nearest('budget', CONFIG_KEYS)).toBe('max_gpu_budget');
    expect(keyDistance('throughput_interval', 'throughput_adjustment_interval')).toBe(1);
  });
});

describe('configs the reference vectors use', () => {
  const dir = 'test/fixtures/vectors/decisions';
  const files = readdirSync(dir);

  for (const file of files.filter((f) => f.endsWith('.config.json'))) {
    it(`${file} loads strictly`, () => {
      const raw = readJson(join(dir, file));
      const { config, warnings } = loadConfig(join(dir, file), { env: NO_ENV, strict: true });
      expect(warnings).toEqual([]);
      for (const [key, value] of Object.entries(raw)) expect(config[key as keyof PlannerConfig], key).toEqual(value);
    });
  }

  for (const file of files.filter((f) => f.endsWith('.input.json'))) {
    it(`${file}: its config loads strictly`, () => {
      const { config } = resolveConfig(readJson(join(dir, file)).config, { env: NO_ENV, strict: true });
      expect(config.prefill_engine_num_gpu).toBe(1);
    });
  }
});

describe('URLs', () => {
  it('only http(s) URLs are accepted for Prometheus and the router metrics', () => {
    expect(inputError(() => resolveConfig({ metric_pulling_prometheus_endpoint: 'prometheus:9090' }, { env: NO_ENV }))).toContain(
      "field 'metric_pulling_prometheus_endpoint' must be an http(s) URL, got 'prometheus:9090'",
    );
    const url = 'http://frontend.team-a.svc:8000/metrics';
    expect(resolveConfig({ enable_load_scaling: true, load_router_metrics_url: url }, { env: NO_ENV }).config.load_router_metrics_url).toBe(url);
  });
});
