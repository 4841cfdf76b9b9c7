// Loading a PlannerConfig the way the original's `--config` does (file path or inline JSON),
// then filling environment defaults and applying the derived rules. Reading files is the only I/O;
// `resolveConfig` and `applyDerivedRules` are pure apart from the env object they are given.
import { readFileSync, statSync, type Stats } from 'node:fs';
import { extname } from 'node:path';
import type { z } from 'zod';
import { InputError } from '../util/errors.js';
import { FIELD_SPECS, describeAllowed } from './fields.js';
import {
  CONFIG_KEYS,
  DEFAULT_PROMETHEUS_ENDPOINT,
  EXTENSION_CONFIG_KEYS,
  KEY_ALIASES,
  SLA_STRATEGY,
  UPSTREAM_CONFIG_KEYS,
  plannerConfigSchema,
  type PlannerConfig,
} from './schema.js';
import { nearest } from './suggest.js';
import { isPlainObject } from '../util/objects.js';
import { yamlNestingProblem, yamlPackage } from '../util/yaml-limits.js';

export interface ConfigOptions {
  /** true (validate): unknown keys and startup-fatal combinations are errors. false (run): warnings. */
  strict?: boolean;
  /** Environment for the env-derived defaults; process.env when omitted. */
  env?: NodeJS.ProcessEnv;
  /** How messages name the input: a file path, or "inline --config JSON". */
  origin?: string;
}

export interface ResolvedConfig {
  config: PlannerConfig;
  warnings: string[];
  /**
   * Non-strict only: combinations that pass every field check but cannot work (also in
   * warnings; strict mode reports them as errors). `run` logs them at error level and still
   * starts, as the original.
   */
  unworkable: string[];
}

/** Largest config file read; a PlannerConfig is a few kB. */
export const CONFIG_MAX_BYTES = 1024 * 1024;

export const INLINE_ORIGIN = 'inline --config JSON';

/** `--config <X>`: X is an existing file (.json, .yaml/.yml, else JSON then YAML) or inline JSON. */
export function loadConfig(source: string, opts: ConfigOptions = {}): ResolvedConfig {
  const { data, origin } = readConfigSource(source);
  return resolveConfig(data, { ...opts, origin: opts.origin ?? origin });
}

export function readConfigSource(source: string): { data: unknown; origin: string } {
  if (source.trim() === '') {
    throw new InputError('--config is empty; give a PlannerConfig file (.json or .yaml) or inline JSON such as \'{"ttft": 200}\'.');
  }
  let stat: Stats | undefined;
  try {
    stat = statSync(source);
  } catch {
    stat = undefined;
  }
  if (stat?.isDirectory()) {
    throw new InputError(`--config '${source}' is a directory; give a PlannerConfig file (.json or .yaml) or inline JSON.`);
  }
  if (stat?.isFile()) {
    if (stat.size > CONFIG_MAX_BYTES) {
      throw new InputError(`config file '${source}' is ${stat.size} bytes, over the ${CONFIG_MAX_BYTES}-byte limit; a PlannerConfig is a few kB, so check the path.`);
    }
    let text: string;
    try {
      text = readFileSync(source, 'utf8').replace(/^\uFEFF/, '');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      throw new InputError(`cannot read config file '${source}' (${code}); check the path and its permissions.`);
    }
    const suffix = extname(source).toLowerCase();
    if (suffix === '.json') return { data: parseJsonText(text, source), origin: source };
    if (suffix === '.yaml' || suffix === '.yml') return { data: parseYamlText(text, source), origin: source };
    // Unknown suffix: JSON first, then YAML, as the original does.
    try {
      return { data: JSON.parse(text), origin: source };
    } catch {
      return { data: parseYamlText(text, source), origin: source };
    }
  }
  if (/^\s*[{[]/.test(source)) return { data: parseJsonText(source, INLINE_ORIGIN), origin: INLINE_ORIGIN };
  throw new InputError(
    `--config '${source}': no such file, and it is not inline JSON; give the path of a PlannerConfig file (.json or .yaml) or a JSON object such as '{"ttft": 200}'.`,
  );
}

function lineColumn(text: string, position: number): { line: number; column: number } {
  const before = text.slice(0, position);
  const line = before.split('\n').length;
  const column = position - before.lastIndexOf('\n');
  return { line, column };
}

export function parseJsonText(text: string, origin: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const raw = err instanceof Error ? err.message : String(err);
    let where = '';
    const byLine = /\(line (\d+) column (\d+)\)/.exec(raw);
    const byPosition = /at position (\d+)/.exec(raw);
    if (byLine) where = ` at line ${byLine[1]}, column ${byLine[2]}`;
    else if (byPosition) {
      const { line, column } = lineColumn(text, Number(byPosition[1]));
      where = ` at line ${line}, column ${column}`;
    } else if (/end of JSON input/i.test(raw)) {
      const { line, column } = lineColumn(text, text.length);
      where = ` at line ${line}, column ${column} (the text ends early)`;
    }
    const reason = raw.replace(/\s*in JSON at position \d+.*$/s, '').replace(/\s*\(line \d+ column \d+\)/, '');
    throw new InputError(`${origin}: invalid JSON${where}: ${reason}; fix the syntax (JSON needs double quotes and no trailing commas).`);
  }
}

export function parseYamlText(text: string, origin: string): unknown {
  const nesting = yamlNestingProblem(text);
  if (nesting) throw new InputError(`${origin}: YAML nested too deeply (${nesting}); a PlannerConfig is a flat map of fields.`);
  // YAML 1.1 like PyYAML's safe_load, so `yes`/`no`/`on`/`off` read as booleans there and here.
  const doc = yamlPackage().parseDocument(text, { version: '1.1', prettyErrors: true });
  const first = doc.errors[0];
  if (first) {
    const pos = first.linePos?.[0];
    const where = pos ? ` at line ${pos.line}, column ${pos.col}` : '';
    const reason = first.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
    throw new InputError(`${origin}: invalid YAML${where}: ${reason}; fix the syntax.`);
  }
  try {
    // The yaml package refuses aliases that expand beyond a small multiple of the document
    // (the "billion laughs" bomb) and throws a ReferenceError; it is an input mistake too.
    return doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new InputError(`${origin}: YAML aliases expand too far (${(err as Error).message.split('\n')[0]}); write the values out instead of nesting aliases.`);
  }
}

function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  // JSON.stringify writes Infinity/NaN (YAML .inf, JSON 1e400) as null, which would misname the mistake.
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  let text: string;
  try {
    text = typeof value === 'string' ? `'${value}'` : JSON.stringify(value);
  } catch {
    // Nested past the stack (thousands of levels): still one sentence, not a crash.
    text = Array.isArray(value) ? '[...] (deeply nested)' : '{...} (deeply nested)';
  }
  text = text.replace(/\s+/g, ' ');
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}


const TRUE_STRINGS = new Set(['true', 't', 'yes', 'y', 'on', '1']);
const FALSE_STRINGS = new Set(['false', 'f', 'no', 'n', 'off', '0']);

/**
 * The lax conversions pydantic applies to the original's fields (numeric strings, 0/1 and
 * "yes"/"no" for booleans). We accept what it accepts, but say so: a quoted number is usually
 * a templating slip.
 */
function coerceLax(key: keyof PlannerConfig, value: unknown): { value: unknown; changed: boolean } {
  const spec = FIELD_SPECS[key];
  if ((spec.kind === 'integer' || spec.kind === 'number') && typeof value === 'string') {
    const trimmed = value.trim();
    const pattern = spec.kind === 'integer' ? /^[+-]?\d+$/ : /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
    if (pattern.test(trimmed)) return { value: Number(trimmed), changed: true };
  }
  if (spec.kind === 'boolean') {
    if (typeof value === 'string') {
      const lower = value.trim().toLowerCase();
      if (TRUE_STRINGS.has(lower)) return { value: true, changed: true };
      if (FALSE_STRINGS.has(lower)) return { value: false, changed: true };
    }
    if (value === 0 || value === 1) return { value: value === 1, changed: true };
  }
  return { value, changed: false };
}

const ENV_SOURCES: Partial<Record<keyof PlannerConfig, string>> = {
  namespace: 'DYN_NAMESPACE',
  metric_pulling_prometheus_endpoint: 'PROMETHEUS_ENDPOINT',
  metric_reporting_prometheus_port: 'PLANNER_PROMETHEUS_PORT',
};

/**
 * The three env-derived defaults. An explicit key in the config wins over the environment, as in
 * the original (which bakes the profiler pod's values into generated configs).
 */
function fillEnvDefaults(
  data: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  origin: string,
  warnings: string[],
): Set<keyof PlannerConfig> {
  const fromEnv = new Set<keyof PlannerConfig>();
  if (data.namespace === undefined) {
    data.namespace = env.DYN_NAMESPACE ?? 'dynamo';
    if (env.DYN_NAMESPACE !== undefined) fromEnv.add('namespace');
  } else if (env.DYN_NAMESPACE !== undefined && data.namespace !== env.DYN_NAMESPACE) {
    warnings.push(
      `namespace '${String(data.namespace)}' overrides DYN_NAMESPACE='${env.DYN_NAMESPACE}' (an explicit key wins, as in the original); remove the key to use the deployment's namespace.`,
    );
  }
  if (data.metric_pulling_prometheus_endpoint === undefined) {
    data.metric_pulling_prometheus_endpoint = env.PROMETHEUS_ENDPOINT ?? DEFAULT_PROMETHEUS_ENDPOINT;
    if (env.PROMETHEUS_ENDPOINT !== undefined) fromEnv.add('metric_pulling_prometheus_endpoint');
  }
  if (data.metric_reporting_prometheus_port === undefined) {
    const raw = env.PLANNER_PROMETHEUS_PORT;
    if (raw === undefined) data.metric_reporting_prometheus_port = 0;
    else {
      const port = /^\s*[+-]?\d+\s*$/.test(raw) ? Number(raw) : Number.NaN;
      if (!Number.isInteger(port)) {
        throw new InputError(
          `environment variable PLANNER_PROMETHEUS_PORT must be an integer from 0 to 65535, got '${raw}' (it sets metric_reporting_prometheus_port because ${origin} does not); fix or unset it.`,
        );
      }
      data.metric_reporting_prometheus_port = port;
      fromEnv.add('metric_reporting_prometheus_port');
    }
  }
  return fromEnv;
}

function issueSentence(
  origin: string,
  issue: z.core.$ZodIssue,
  data: Record<string, unknown>,
  fromEnv: Set<keyof PlannerConfig>,
): string {
  const key = String(issue.path[0]) as keyof PlannerConfig;
  const spec = FIELD_SPECS[key];
  const value = data[key];
  const allowed = spec ? describeAllowed(spec) : issue.message;
  let hint = '';
  if (spec?.kind === 'enum' && typeof value === 'string') {
    const suggestion = nearest(value, spec.enumValues!);
    if (suggestion) hint = ` (did you mean '${suggestion}'?)`;
  }
  if (fromEnv.has(key)) {
    return `environment variable ${ENV_SOURCES[key]} must be ${allowed}, got ${show(value)} (it sets ${key} because ${origin} does not); fix or unset it.`;
  }
  return `field '${key}' must be ${allowed}, got ${show(value)}${hint}.`;
}

/** The effective config in the original's dump order, then the sla-planner extensions. */
function ordered(parsed: Record<string, unknown>): PlannerConfig {
  const out: Record<string, unknown> = {};
  for (const key of [...UPSTREAM_CONFIG_KEYS, ...EXTENSION_CONFIG_KEYS]) out[key] = parsed[key];
  return out as PlannerConfig;
}

/** Resolve an already-parsed config object (e.g. the JSON of a ConfigMap or a test literal). */
export function resolveConfig(input: unknown, opts: ConfigOptions = {}): ResolvedConfig {
  const origin = opts.origin ?? 'config';
  const strict = opts.strict ?? false;
  const env = opts.env ?? process.env;
  const warnings: string[] = [];
  const errors: string[] = [];

  if (!isPlainObject(input)) {
    const got = input === null ? 'null' : Array.isArray(input) ? 'a list' : `${typeof input} ${show(input)}`;
    throw new InputError(`${origin}: a PlannerConfig must be an object of field names to values, got ${got}.`);
  }
  const data: Record<string, unknown> = { ...input };

  for (const [alias, { canonical, from }] of Object.entries(KEY_ALIASES)) {
    if (!Object.hasOwn(data, alias)) continue;
    const aliasValue = data[alias];
    delete data[alias];
    if (Object.hasOwn(data, canonical) && JSON.stringify(data[canonical]) !== JSON.stringify(aliasValue)) {
      errors.push(`both '${alias}' (${show(aliasValue)}) and '${canonical}' (${show(data[canonical])}) are set; '${alias}' is the ${from} name of '${canonical}', so keep only one.`);
      continue;
    }
    data[canonical] = aliasValue;
    warnings.push(`key '${alias}' is the ${from} name of '${canonical}'; read as '${canonical}' (the pinned original would ignore it).`);
  }

  const known = new Set<string>(CONFIG_KEYS);
  const unknown = Object.keys(data).filter((key) => !known.has(key));
  for (const key of unknown) {
    const suggestion = nearest(key, CONFIG_KEYS);
    delete data[key];
    if (strict) errors.push(`unknown key '${key}' (did you mean '${suggestion}'?).`);
    else warnings.push(`unknown key '${key}' is ignored, as the original does; did you mean '${suggestion}'?`);
  }

  for (const key of CONFIG_KEYS) {
    if (data[key] === undefined) continue;
    const { value, changed } = coerceLax(key, data[key]);
    if (changed) {
      warnings.push(`field '${key}' is ${show(data[key])}; read as ${JSON.stringify(value)} as the original does; write it without quotes.`);
      data[key] = value;
    }
  }

  // strategy sla fills the keys the file leaves out; explicit keys win.
  if (data.strategy === 'sla') {
    for (const [key, value] of Object.entries(SLA_STRATEGY)) if (data[key] === undefined) data[key] = value;
  }
  const fromEnv = fillEnvDefaults(data, env, origin, warnings);
  const result = plannerConfigSchema.safeParse(data);
  if (!result.success) {
    const seen = new Set<string>();
    for (const issue of result.error.issues) {
      const field = String(issue.path[0]);
      if (seen.has(field)) continue; // one sentence per field
      seen.add(field);
      errors.push(issueSentence(origin, issue, data, fromEnv));
    }
  }
  if (errors.length > 0 || !result.success) throw new InputError(`${origin}: ${errors.join(' ')}`);

  const derived = applyDerivedRules(ordered(result.data as Record<string, unknown>), { strict });
  if (derived.errors.length > 0) throw new InputError(`${origin}: ${derived.errors.join(' ')}`);
  return {
    config: derived.config,
    warnings: [...warnings, ...derived.warnings, ...derived.unworkable].map((w) => `${origin}: ${w}`),
    unworkable: derived.unworkable.map((w) => `${origin}: ${w}`),
  };
}

export interface DerivedResult {
  config: PlannerConfig;
  warnings: string[];
  errors: string[];
  /** Non-strict: what cannot work (strict puts these in errors). */
  unworkable: string[];
  /** Non-strict: what the daemon cannot start with (also in warnings; strict puts these in errors). */
  startup: string[];
}

/** Timers hold at most 2^31-1 ms; a longer interval would fire at once, in a tight loop. */
export const MAX_INTERVAL_S = Math.floor((2 ** 31 - 1) / 1000);

/** Router scrapes at most this often (load_adjustment_interval / load_metric_samples). */
export const MIN_SCRAPE_PERIOD_MS = 100;

/**
 * GPUs the managed pools need at the least (max(min_endpoint, 1) replicas each), and why the
 * budget cannot hold them; null when it can (or the budget is off). `gpus` per replica: from
 * the config, or the DGD at run time; unknown counts as 1, the least a replica can use.
 */
export function budgetShortfall(config: PlannerConfig, gpus: { prefill: number | null; decode: number | null }): string | null {
  if (config.max_gpu_budget < 0) return null;
  const pools = managedPools(config.mode);
  const replicas = Math.max(config.min_endpoint, 1);
  const parts: string[] = [];
  let need = 0;
  for (const pool of ['prefill', 'decode'] as const) {
    if (!pools[pool]) continue;
    const g = gpus[pool] ?? 1;
    need += replicas * g;
    parts.push(`${g}${gpus[pool] === null ? '+' : ''} per ${pool} replica`);
  }
  if (need <= config.max_gpu_budget) return null;
  const floor = config.min_endpoint >= 1 ? `min_endpoint ${config.min_endpoint}` : 'one replica';
  return `max_gpu_budget ${config.max_gpu_budget} cannot hold ${floor} of each managed pool (${parts.join(', ')}: ${need} GPUs), so the budget rule sizes every pool to 0 replicas; raise max_gpu_budget to at least ${need}, lower min_endpoint, or set max_gpu_budget to -1 for no budget.`;
}

/** Pools the planner manages in a mode (agg runs as the decode pool). */
export function managedPools(mode: PlannerConfig['mode']): { prefill: boolean; decode: boolean } {
  return { prefill: mode === 'disagg' || mode === 'prefill', decode: mode !== 'prefill' };
}

/**
 * Every rule that ties fields together, in one place. The first group is what the original's
 * config validator enforces; the second is what its planner only discovers at startup (so `run`
 * warns and then fails when it starts, while `validate` reports it as an error up front).
 */
export function applyDerivedRules(input: PlannerConfig, opts: { strict?: boolean } = {}): DerivedResult {
  const config: PlannerConfig = { ...input };
  const warnings: string[] = [];
  const errors: string[] = [];

  if (config.environment === 'global-planner' && !config.global_planner_namespace) {
    errors.push(`global_planner_namespace is required when environment is 'global-planner'; set it to the Dynamo namespace where the GlobalPlanner runs.`);
  }
  if (!config.enable_throughput_scaling && !config.enable_load_scaling) {
    errors.push(`at least one scaling mode must be enabled; set enable_throughput_scaling or enable_load_scaling to true.`);
  }
  if (config.enable_throughput_scaling && (config.pre_deployment_sweeping_mode === null || config.pre_deployment_sweeping_mode === 'none')) {
    errors.push(`pre_deployment_sweeping_mode cannot be ${show(config.pre_deployment_sweeping_mode)} when enable_throughput_scaling is true, because throughput scaling needs profile data from a pre-deployment sweep; set it to 'rapid' or 'thorough', or turn throughput scaling off.`);
  }
  if (config.enable_load_scaling) {
    if (config.environment !== 'kubernetes' && !config.load_router_metrics_url) {
      const why = config.strategy === 'sla' ? ' (strategy sla turns load scaling on; set enable_load_scaling to false to run without it)' : '';
      errors.push(`load_router_metrics_url is required when load scaling is enabled outside kubernetes (environment '${config.environment}')${why}; set it to the frontend's /metrics URL.`);
    }
    if (config.enable_throughput_scaling && config.load_adjustment_interval >= config.throughput_adjustment_interval) {
      errors.push(
        `load_adjustment_interval (${config.load_adjustment_interval}s) must be shorter than throughput_adjustment_interval (${config.throughput_adjustment_interval}s). Load-based scaling is the fast reactive loop; throughput-based is the slow predictive loop.`,
      );
    }
    if (!config.no_correction) {
      // The load regression already sees real latency; correcting the profile on top would
      // count the same queueing twice.
      config.no_correction = true;
      warnings.push(`no_correction set to true because load scaling is enabled (the correction factor is disabled with load scaling, as in the original).`);
    }
  }

  const startup: string[] = [];
  const unworkable: string[] = [];
  const shortfall = budgetShortfall(config, { prefill: config.prefill_engine_num_gpu, decode: config.decode_engine_num_gpu });
  if (shortfall) unworkable.push(shortfall);
  if (config.enable_load_scaling && config.load_min_observations > config.load_learning_window) {
    unworkable.push(`load_min_observations (${config.load_min_observations}) is above load_learning_window (${config.load_learning_window}): the latency regression keeps at most ${config.load_learning_window} points, so it never has enough and load scaling never acts; lower load_min_observations or raise load_learning_window.`);
  }
  if (config.enable_load_scaling && (config.load_adjustment_interval * 1000) / config.load_metric_samples < MIN_SCRAPE_PERIOD_MS) {
    unworkable.push(`load_metric_samples (${config.load_metric_samples}) in load_adjustment_interval (${config.load_adjustment_interval}s) asks for a router scrape more often than every ${MIN_SCRAPE_PERIOD_MS} ms; the daemon scrapes every ${MIN_SCRAPE_PERIOD_MS} ms at most, so lower load_metric_samples to ${Math.max(1, Math.floor((config.load_adjustment_interval * 1000) / MIN_SCRAPE_PERIOD_MS))} or less.`);
  }
  for (const key of ['throughput_adjustment_interval', 'load_adjustment_interval'] as const) {
    if (config[key] > MAX_INTERVAL_S) {
      startup.push(`${key} (${config[key]}s) is longer than the ${MAX_INTERVAL_S}s (24.8 days) a timer can wait; the daemon cannot schedule it, so set at most ${MAX_INTERVAL_S}.`);
    }
  }
  if (config.mode === 'agg' && config.prefill_sizing === 'queueing') {
    warnings.push(`prefill_sizing 'queueing' does not apply in mode 'agg' yet: the one pool is sized with the original's throughput formula.`);
  }
  if (config.mode === 'agg' && config.enable_throughput_scaling) {
    // The original's aggregated planner refuses throughput scaling; we support it (one pool sized
    // for prefill plus decode GPU-seconds, see src/scaling/throughput.ts), so this is a note.
    warnings.push(`mode 'agg' with throughput scaling is an sla-planner extension (the original refuses to start with it): the one pool is sized for the prefill and decode work together.`);
  }
  if (config.environment !== 'kubernetes' && !config.no_operation) {
    const pools = managedPools(config.mode);
    for (const [pool, needed] of [['prefill', pools.prefill], ['decode', pools.decode]] as const) {
      const key = `${pool}_engine_num_gpu` as const;
      if (needed && config[key] === null) {
        startup.push(`${key} is required outside kubernetes (environment '${config.environment}', mode '${config.mode}') because there is no DGD to read GPUs per replica from; the original fails at startup without it. Set it to the GPUs of one ${pool} replica.`);
      }
    }
  }
  if (opts.strict) errors.push(...startup, ...unworkable);
  else warnings.push(...startup);

  return { config, warnings, errors, unworkable: opts.strict ? [] : unworkable, startup: opts.strict ? [] : startup };
}
