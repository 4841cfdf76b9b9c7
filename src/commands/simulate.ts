// `sla-planner simulate`: replay a request trace against a simulated deployment under a policy.
import { accessSync, constants, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from './types.js';
import { SHAPING_FLAGS, shapingFromFlags } from './shaping.js';
import { loadConfig, readConfigSource, resolveConfig } from '../config/index.js';
import { InputError, errorMessage } from '../util/errors.js';
import { numberFlag, parseCommandArgs, requireFlag } from '../util/args.js';
import { parseLogLevel, predictorNotices, stderrLogger } from '../runtime/log.js';
import { DEFAULT_COLD_START_S, POLICY_HELP, comparisonReportHtml, eventsCsv, loadInterpolators, runSimulations, splitPolicyList, timelineCsv, type ReportRun, type SimulationResult, type StrategyConfigs } from '../sim/index.js';
import { CHEAPEST_STATIC, searchCheapestStatic, searchNote, type CheapestStatic } from '../sim/search.js';
import { VLLM_DEFAULTS } from '../sim/engine.js';
import type { PoolCounts, SimSummary } from '../sim/types.js';

const DEFAULT_ATTAINMENT_GOAL = 0.95;

const usage = `Usage: sla-planner simulate --config <file> --profile-dir <dir> --trace <file> [options]

Replays a request trace against a model of the deployment built from profile data (vLLM's
scheduler: KV in blocks of 16 tokens, preemption and recompute at saturation), with a scaling
policy in the loop, and prints a JSON summary on stdout: requests, sla_attainment (fraction of
requests meeting both the TTFT and the ITL target), feasible_sla_attainment (over the requests
that meet both alone on an idle engine), infeasible counts, ttft_ms and itl_ms (mean, p50, p90,
p99), gpu_hours, gpus (mean, max), scale_up/scale_down counts, preemptions, dropped and
unfinished requests. With several policies: {"comparison": [one row per policy], "summaries"}.

Options:
  --config <X>          PlannerConfig file (.json/.yaml) or inline JSON: SLA targets, mode,
                        intervals, budget, predictor, GPUs per replica.
  --profile-dir <dir>   Profile data (selected_*_interpolation/raw_data.npz or the ConfigMap's
                        prefill_raw_data.json / decode_raw_data.json).
  --trace <file>        JSONL {"t","isl","osl"} (t in s), Mooncake JSONL (timestamp in ms,
                        input_length, output_length) or Azure LLM inference CSV; gzip detected.
  --policy <p>[,<p>...] ${POLICY_HELP}.
                        Default: planner (the config's scaling modes, the daemon's decision code).
                        A comma-separated list runs each policy on the same trace (exec: last).
                        static:cheapest searches the fixed allocation with the fewest GPUs that
                        reaches the SLA attainment of the first scaling policy in the list.
                        clairvoyant knows the trace ahead and asks, a cold start early, for what
                        each moment's work needs; lower_bound_gpu_hours bounds any policy serving
                        every feasible request within the SLA.
                        exec:<command> runs <command> in a shell, writes one observation per
                        throughput interval as a JSON line on its stdin (the 'decide' input format)
                        and reads one line {"prefill": n, "decode": n} back (null = keep); answers
                        over the GPU budget are clamped and counted.
  --out <dir>           Also write <dir>/report.html: every policy side by side (summary table,
                        the config used, interactive charts of load vs forecast, replicas with
                        the reason of each scaling call, per-interval attainment and p99
                        TTFT/ITL, cumulative GPU-hours; no network), and per policy timeline.csv
                        and events.csv (in <dir>, or one subdirectory per policy when several).
  --attainment-goal <f> Share of an interval's requests that must meet the SLA for the report to
                        count the interval as met (default ${DEFAULT_ATTAINMENT_GOAL}).
  --start <s>           Skip the trace before <s> seconds (the slice is re-based to 0).
  --duration <s>        Simulate <s> seconds of the trace from --start.
  --load-scale <x>      Multiply the arrival rate by x, keeping its shape over time (seeded
                        thinning for x < 1, replication for x > 1).
  --speedup <x>         Compress time by x (2 = the same requests in half the time).
  --seed <n>            Seed of the thinning/replication (default 1). Runs are deterministic.
  --cold-start <s>      Seconds before a new replica serves (default ${DEFAULT_COLD_START_S}).
  --initial <p>,<d>     Replicas at t = 0 for planner/hpa/exec (default min_endpoint each).
  --max-num-seqs <n>    vLLM's max_num_seqs per decode engine (default ${VLLM_DEFAULTS.maxNumSeqs}).
  --kv-watermark <f>    Share of KV blocks vLLM keeps free when admitting (default 0: off).
  --predictor <name>    Override the config's load_predictor (constant, arima, kalman, prophet).
  --num-req-source <s>  What the planner's num_req counts (default: the config's num_req_source):
                        finished (upstream's dynamo_frontend_requests_total counts finished
                        requests, so a saturated pool reports its own capacity) or started
                        (offered load, as the newer requests_started_total).
  --log-level <l>       debug, info, warn (default) or error: predictor notices (the ARIMA
                        order chosen, a failed forecast) as JSON log lines on stderr, as the
                        daemon logs them.
  -h, --help            Show this help.

Exit codes: 0 ok, 2 bad input or usage, 1 other failure.`;

function parseInitial(raw: string | undefined): PoolCounts | undefined {
  if (raw === undefined) return undefined;
  const m = /^(\d+),(\d+)$/.exec(raw.trim());
  if (!m) throw new InputError(`--initial must be <prefill>,<decode> (e.g. 1,2), got '${raw}'.`);
  return { prefill: Number(m[1]), decode: Number(m[2]) };
}

/** One row per policy, the figures to compare side by side; GPU-hours also as a multiple of the clairvoyant's. */
function comparison(results: SimulationResult[]): { comparison: Array<Record<string, unknown>>; summaries: SimSummary[] } {
  const clairvoyant = results.find((r) => r.summary.policy.startsWith('clairvoyant'))?.summary;
  const rows = results.map(({ summary: s }) => ({
    policy: s.policy,
    sla_attainment: s.sla_attainment,
    feasible_sla_attainment: s.feasible_sla_attainment,
    gpu_hours: s.gpu_hours,
    gpu_hours_vs_clairvoyant: clairvoyant && clairvoyant.gpu_hours > 0 ? s.gpu_hours / clairvoyant.gpu_hours : null,
    gpu_hours_vs_lower_bound: clairvoyant && clairvoyant.policy_details.lower_bound_gpu_hours > 0 ? s.gpu_hours / clairvoyant.policy_details.lower_bound_gpu_hours : null,
    ttft_p99_ms: s.ttft_ms.p99,
    itl_p99_ms: s.itl_ms.p99,
    preemptions: s.preemptions,
    scale_events: s.scale_up + s.scale_down,
  }));
  return { comparison: rows, summaries: results.map((r) => r.summary) };
}

function loadSimConfig(source: string, predictor: string | undefined, strategy?: 'upstream' | 'sla') {
  // The simulator is the router, so load scaling needs no router URL here.
  const { data } = readConfigSource(source);
  if (data && typeof data === 'object' && !Array.isArray(data)) {
    const obj = { ...(data as Record<string, unknown>) };
    if (strategy !== undefined) obj.strategy = strategy;
    const loadScaling = obj.enable_load_scaling === true || (obj.strategy === 'sla' && obj.enable_load_scaling === undefined);
    if (loadScaling && obj.load_router_metrics_url == null) obj.load_router_metrics_url = 'http://simulated-router.invalid/metrics';
    if (predictor !== undefined) obj.load_predictor = predictor;
    return resolveConfig(obj);
  }
  return loadConfig(source);
}

function searchSummary(s: CheapestStatic): Record<string, unknown> {
  return { policy: s.result.summary.policy, goal_sla_attainment: s.goal, reference_policy: s.reference, allocations_simulated: s.tried, reached: s.reached };
}

/** Progress on stderr, only when it is a terminal. */
function progressBar(totalS: number | undefined): ((nowS: number) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  const started = Date.now();
  let lastDraw = 0;
  return (nowS) => {
    const now = Date.now();
    if (now - started < 2000 || now - lastDraw < 200) return;
    lastDraw = now;
    const h = (nowS / 3600).toFixed(2);
    if (totalS) {
      const frac = Math.min(1, nowS / totalS);
      const width = 30;
      const fill = Math.round(frac * width);
      process.stderr.write(`\r[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${(frac * 100).toFixed(0)}% (${h} h simulated)`);
    } else process.stderr.write(`\r${h} h simulated`);
  };
}

export const command: Command = {
  name: 'simulate',
  usage,
  async run(argv) {
    const { values } = parseCommandArgs('simulate', argv, {
      config: { type: 'string' },
      'profile-dir': { type: 'string' },
      trace: { type: 'string' },
      policy: { type: 'string' },
      out: { type: 'string' },
      ...SHAPING_FLAGS,
      'cold-start': { type: 'string' },
      initial: { type: 'string' },
      predictor: { type: 'string' },
      'num-req-source': { type: 'string' },
      'max-num-seqs': { type: 'string' },
      'kv-watermark': { type: 'string' },
      'log-level': { type: 'string' },
      'attainment-goal': { type: 'string' },
    });
    const logger = stderrLogger(parseLogLevel('simulate', values['log-level'], 'warn'));
    const configSource = requireFlag('simulate', 'config', values.config);
    const profileDir = requireFlag('simulate', 'profile-dir', values['profile-dir']);
    const tracePath = requireFlag('simulate', 'trace', values.trace);
    const policies = splitPolicyList(values.policy ?? 'planner');
    const attainmentGoal = numberFlag('simulate', 'attainment-goal', values['attainment-goal'], { min: 0, max: 1 }) ?? DEFAULT_ATTAINMENT_GOAL;
    const reference = policies.find((p) => p !== CHEAPEST_STATIC && !p.startsWith('static:'));
    if (policies.includes(CHEAPEST_STATIC) && reference === undefined) {
      throw new InputError(`--policy ${CHEAPEST_STATIC} needs a scaling policy in the list to match (e.g. planner,${CHEAPEST_STATIC}).`);
    }
    const shaping = shapingFromFlags('simulate', values);
    for (const [flag, v] of [['duration', shaping.durationS], ['load-scale', shaping.loadScale], ['speedup', shaping.speedup]] as const) {
      if (v !== undefined && !(v > 0)) throw new InputError(`--${flag} must be a number > 0, got '${v}'.`);
    }
    const coldStartS = numberFlag('simulate', 'cold-start', values['cold-start'], { min: 0 });
    const initial = parseInitial(values.initial);
    const maxNumSeqs = numberFlag('simulate', 'max-num-seqs', values['max-num-seqs'], { integer: true, min: 1 });
    const kvWatermark = numberFlag('simulate', 'kv-watermark', values['kv-watermark'], { min: 0 });
    if (kvWatermark !== undefined && !(kvWatermark < 1)) throw new InputError(`--kv-watermark must be a share of the KV cache in [0, 1), got '${kvWatermark}'.`);
    const numReqFlag = values['num-req-source'];
    if (numReqFlag !== undefined && numReqFlag !== 'finished' && numReqFlag !== 'started') {
      throw new InputError(`--num-req-source must be finished or started, got '${numReqFlag}'.`);
    }

    if (values.out) {
      // Before the run, so a bad --out costs no simulation time.
      try {
        mkdirSync(values.out, { recursive: true });
        accessSync(values.out, constants.W_OK);
      } catch (err) {
        throw new InputError(`--out ${values.out}: cannot create or write this directory (${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}); pass a writable directory.`);
      }
    }
    const { config, warnings } = loadSimConfig(configSource, values.predictor);
    // The flag overrides the config's num_req_source (what the daemon would query).
    const numReqSource = numReqFlag ?? config.num_req_source;
    for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
    // planner:upstream and planner:sla run the same file under each strategy.
    const strategies: StrategyConfigs = {};
    for (const strategy of ['upstream', 'sla'] as const) {
      if (policies.includes(`planner:${strategy}`)) strategies[strategy] = loadSimConfig(configSource, values.predictor, strategy).config;
    }
    const interpolators = loadInterpolators(profileDir);
    const totalS = shaping.durationS !== undefined ? shaping.durationS / (shaping.speedup ?? 1) : undefined;
    const onProgress = progressBar(totalS);
    const runOptions = {
      config,
      interpolators,
      trace: tracePath,
      shaping,
      coldStartS,
      initial,
      numReqSource,
      strategies,
      maxNumSeqs,
      kvWatermark,
      onProgress,
      log: predictorNotices(logger),
    };
    const simulated = policies.filter((p) => p !== CHEAPEST_STATIC);
    const results = await runSimulations({ ...runOptions, policies: simulated });
    let search: CheapestStatic | undefined;
    if (policies.includes(CHEAPEST_STATIC)) {
      const ref = results[simulated.indexOf(reference!)];
      search = await searchCheapestStatic({ ...runOptions, onProgress: undefined }, ref.summary.sla_attainment, ref.summary.policy);
      results.splice(policies.indexOf(CHEAPEST_STATIC), 0, search.result);
    }
    if (onProgress) process.stderr.write('\r\x1b[K');
    const output = results.length === 1 ? results[0].summary : { ...comparison(results), ...(search ? { static_search: searchSummary(search) } : {}) };
    process.stdout.write(JSON.stringify(output, null, 2) + '\n');
    if (values.out) {
      const written: string[] = [];
      try {
        for (const { summary, timeline, events } of results) {
          const dir = results.length === 1 ? values.out : join(values.out, summary.policy.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 80));
          mkdirSync(dir, { recursive: true });
          writeFileSync(join(dir, 'timeline.csv'), timelineCsv(timeline));
          writeFileSync(join(dir, 'events.csv'), eventsCsv(events));
          written.push(join(dir, 'timeline.csv'), join(dir, 'events.csv'));
        }
        const runs: ReportRun[] = results.map((r) => ({
          ...r,
          config: r.summary.policy === 'planner:sla' ? strategies.sla : r.summary.policy === 'planner:upstream' ? strategies.upstream : r.summary.policy.startsWith('planner') ? config : undefined,
          note: search && r === search.result ? searchNote(search) : undefined,
        }));
        const settings: Array<[string, string]> = [
          ['cold start', `${coldStartS ?? DEFAULT_COLD_START_S} s`],
          ['window', `${shaping.startS ?? 0} s + ${shaping.durationS === undefined ? 'the whole trace' : `${shaping.durationS} s`}`],
          ['load scale / speed-up', `${shaping.loadScale ?? 1} / ${shaping.speedup ?? 1}`],
          ['num_req counts', numReqSource],
          ['command', `sla-planner simulate ${argv.join(' ')}`],
        ];
        writeFileSync(join(values.out, 'report.html'), comparisonReportHtml({ runs, trace: tracePath, profileDir, config, settings, attainmentGoal }));
        written.push(join(values.out, 'report.html'));
      } catch (err) {
        throw new InputError(`--out ${values.out}: cannot write the report (${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}); pass a writable directory.`);
      }
      process.stderr.write(`wrote ${written.join(', ')}\n`);
    }
    return 0;
  },
};
