// `sla-planner mocker`: a pool of mock engines built from profile data behind one OpenAI-compatible
// frontend, optionally scaled by the planner through the virtual environment's etcd keys.
import type { Command } from './types.js';
import { loadConfig } from '../config/index.js';
import type { Mode } from '../config/schema.js';
import { InputError } from '../util/errors.js';
import { numberFlag, parseCommandArgs, requireFlag } from '../util/args.js';
import { DEFAULT_COLD_START_S, latencyModelFromProfile, loadInterpolators } from '../sim/index.js';
import { MAX_REPLICAS_PER_POOL, VLLM_DEFAULTS } from '../sim/engine.js';
import { EtcdJson, parseEtcdEndpoints } from '../actuate/etcd.js';
import { startMocker, MOCKER_DEFAULTS } from '../mocker/index.js';

const usage = `Usage: sla-planner mocker --profile-dir <dir> [options]

Serves mock LLM engines whose timing comes from profile data, with the simulator's engine model
(prefill FIFO at the profiled TTFT, decode batches with vLLM's KV blocks, admission and
preemption), in wall-clock time. One process hosts a whole pool behind one frontend:
  POST /v1/completions, /v1/chat/completions  OpenAI-compatible; "stream": true answers with one
        server-sent event per token at the modelled times. Prompt length: "prompt_tokens" if given,
        else the prompt's token ids, else its text (4 characters a token); output: max_tokens.
  GET /metrics   the Dynamo frontend's request counters and histograms, the router's per-worker
        gauges (what the planner reads), vLLM's per-engine gauges, sla_mocker_* pool gauges.
  GET /health, /v1/models
With --etcd-endpoints the pool obeys the planner in the virtual environment: it polls
v1/<namespace>/planner/{decision_id,num_prefill_workers,num_decode_workers}, scales (cold start for
new workers, draining for removed ones) and writes scaled_decision_id once the ready workers match;
each serving worker is registered under v1/instances/<namespace>/<component>/generate/ (the
config's backend names the components) on a lease renewed every poll, as Dynamo workers are.
Runs until SIGINT/SIGTERM.

Options:
  --profile-dir <dir>     Profile data (selected_*_interpolation/raw_data.npz or the ConfigMap's
                          prefill_raw_data.json / decode_raw_data.json).
  --config <X>            PlannerConfig: mode, model_name, namespace and GPUs per worker are read
                          from it (flags override).
  --port <n>              Port to listen on (default ${MOCKER_DEFAULTS.port}; 0 picks a free one).
  --host <addr>           Address to listen on (default ${MOCKER_DEFAULTS.host}).
  --mode <m>              disagg or agg (default: the config's, else disagg).
  --model <name>          Served model name (default: the config's model_name, else ${MOCKER_DEFAULTS.model}).
  --prefill <n>           Prefill workers at start (default 1; 0 in agg).
  --decode <n>            Decode workers at start (default 1).
  --cold-start <s>        Seconds before a new worker serves (default ${DEFAULT_COLD_START_S}).
  --etcd-endpoints <list> Obey the planner through etcd (default env ETCD_ENDPOINTS; none: fixed pool).
  --namespace <ns>        Dynamo namespace of the etcd keys (default: the config's, else dynamo).
  --poll-ms <ms>          etcd poll period (default ${MOCKER_DEFAULTS.pollMs}).
  --max-workers <n>       Most workers per pool a decision may ask for (default ${MOCKER_DEFAULTS.maxWorkers}).
  --max-num-seqs <n>      vLLM's max_num_seqs per decode engine (default ${VLLM_DEFAULTS.maxNumSeqs}).
  --kv-watermark <f>      Share of KV blocks kept free when admitting (default 0).
  --max-tokens <n>        Largest max_tokens accepted (default ${MOCKER_DEFAULTS.maxOutputTokens}).
  --max-prompt-tokens <n> Largest prompt accepted, tokens (default ${MOCKER_DEFAULTS.maxPromptTokens}).
  --max-in-flight <n>     Requests in flight before new ones get HTTP 503 (default ${MOCKER_DEFAULTS.maxInFlight}).
  --tick-ms <ms>          Decode tokens are sent at least this often (default ${MOCKER_DEFAULTS.tickMs}).
  -h, --help              Show this help.

Exit codes: 0 stopped by a signal, 2 bad input or usage, 1 other failure.`;

export const command: Command = {
  name: 'mocker',
  usage,
  async run(argv) {
    const { values: v } = parseCommandArgs('mocker', argv, {
      'profile-dir': { type: 'string' }, config: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' },
      mode: { type: 'string' }, model: { type: 'string' }, prefill: { type: 'string' }, decode: { type: 'string' },
      'cold-start': { type: 'string' }, 'etcd-endpoints': { type: 'string' }, namespace: { type: 'string' },
      'poll-ms': { type: 'string' }, 'max-workers': { type: 'string' }, 'max-num-seqs': { type: 'string' },
      'kv-watermark': { type: 'string' }, 'max-tokens': { type: 'string' }, 'max-prompt-tokens': { type: 'string' },
      'max-in-flight': { type: 'string' }, 'tick-ms': { type: 'string' },
    });
    const profileDir = requireFlag('mocker', 'profile-dir', v['profile-dir']);
    const config = v.config !== undefined ? loadConfig(v.config).config : undefined;
    const mode = (v.mode ?? config?.mode ?? 'disagg') as Mode;
    if (mode !== 'disagg' && mode !== 'agg') throw new InputError(`--mode must be disagg or agg, got '${v.mode ?? mode}'.`);
    const int = (flag: string, raw: string | undefined, min: number, max?: number) => numberFlag('mocker', flag, raw, { integer: true, min, max });
    const maxWorkers = int('max-workers', v['max-workers'], 1, MAX_REPLICAS_PER_POOL) ?? MOCKER_DEFAULTS.maxWorkers;
    const prefill = mode === 'agg' ? 0 : int('prefill', v.prefill, 0, maxWorkers) ?? 1;
    const decode = int('decode', v.decode, 0, maxWorkers) ?? 1;
    const kvWatermark = numberFlag('mocker', 'kv-watermark', v['kv-watermark'], { min: 0, max: 0.99 });
    const endpoints = v['etcd-endpoints'] ?? process.env.ETCD_ENDPOINTS;
    const etcd = endpoints ? new EtcdJson(parseEtcdEndpoints(endpoints, v['etcd-endpoints'] !== undefined ? '--etcd-endpoints' : 'env ETCD_ENDPOINTS')) : undefined;
    const model = latencyModelFromProfile(loadInterpolators(profileDir));
    const log = (line: string) => process.stderr.write(`mocker: ${line}\n`);
    const running = await startMocker({
      model,
      mode,
      host: v.host ?? MOCKER_DEFAULTS.host,
      port: int('port', v.port, 0, 65535) ?? MOCKER_DEFAULTS.port,
      modelName: v.model ?? config?.model_name ?? MOCKER_DEFAULTS.model,
      initial: { prefill, decode },
      coldStartS: numberFlag('mocker', 'cold-start', v['cold-start'], { min: 0 }) ?? DEFAULT_COLD_START_S,
      gpusPerReplica: { prefill: config?.prefill_engine_num_gpu ?? 1, decode: config?.decode_engine_num_gpu ?? 1 },
      maxNumSeqs: int('max-num-seqs', v['max-num-seqs'], 1),
      kvWatermark,
      maxOutputTokens: int('max-tokens', v['max-tokens'], 1, 10_000_000) ?? MOCKER_DEFAULTS.maxOutputTokens,
      maxPromptTokens: int('max-prompt-tokens', v['max-prompt-tokens'], 1, 100_000_000) ?? MOCKER_DEFAULTS.maxPromptTokens,
      maxInFlight: int('max-in-flight', v['max-in-flight'], 1, 1_000_000) ?? MOCKER_DEFAULTS.maxInFlight,
      tickMs: numberFlag('mocker', 'tick-ms', v['tick-ms'], { min: 0.5, max: 1000 }) ?? MOCKER_DEFAULTS.tickMs,
      fleet: etcd ? { etcd, dynamoNamespace: v.namespace ?? config?.namespace ?? 'dynamo', backend: config?.backend, pollMs: int('poll-ms', v['poll-ms'], 50, 600_000) ?? MOCKER_DEFAULTS.pollMs, maxWorkers } : undefined,
      log,
    });
    log(`serving ${mode} pool (prefill ${prefill}, decode ${decode}) on ${running.url}${etcd ? `, obeying etcd ${etcd.endpoints.join(',')}` : ''}`);
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    await running.stop();
    return 0;
  },
};
