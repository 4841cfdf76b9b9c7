// `sla-planner replay`: send a trace's requests to a frontend as streaming HTTP requests at their
// arrival times and print what the client measured, in the shape of `simulate`'s summary.
import type { Command } from './types.js';
import { loadConfig } from '../config/index.js';
import { InputError } from '../util/errors.js';
import { numberFlag, parseCommandArgs, requireFlag } from '../util/args.js';
import { readTraceBatches } from '../trace/read.js';
import { newShapingStats, shapeBatches } from '../trace/shape.js';
import { SHAPING_FLAGS, shapingFromFlags } from './shaping.js';
import { replay } from '../mocker/replay.js';

const usage = `Usage: sla-planner replay --trace <file> --url <frontend> [options]

Sends a request trace to an OpenAI-compatible frontend (the mocker, or a real deployment) as
streaming completions at the trace's arrival times: prompt_tokens = the request's ISL (with a
one-character prompt), max_tokens = min_tokens = its OSL, ignore_eos. Measures TTFT (send to first
token) and ITL (mean gap between tokens) at the client and prints a JSON summary on stdout in the
shape of simulate's: requests, completed, sla_attainment, ttft_attainment, itl_attainment, ttft_ms
and itl_ms (mean, p50, p90, p99), gpu_hours (from the mocker's sla_mocker_gpu_seconds_total; null
against another server), dropped (HTTP errors), unfinished (timeouts, cut connections),
peak_in_flight, late_starts, short_streams, output_tokens, measured_s, errors by kind.

Options:
  --trace <file>          JSONL {"t","isl","osl"}, Mooncake JSONL or Azure CSV; gzip detected.
  --url <url>             The frontend's base URL, e.g. http://127.0.0.1:8000.
  --config <X>            PlannerConfig whose ttft and itl targets (ms) the attainment uses.
  --ttft <ms>, --itl <ms> SLA targets (override the config's; defaults 500 and 50).
  --model <name>          Model name to send (default: none, the server's own).
  --chat                  Use /v1/chat/completions instead of /v1/completions.
  --start <s>             Skip the trace before <s> seconds (the slice is re-based to 0).
  --duration <s>          Replay <s> seconds of the trace from --start.
  --load-scale <x>        Multiply the arrival rate by x (seeded thinning / replication).
  --speedup <x>           Compress time by x.
  --seed <n>              Seed of the thinning/replication (default 1).
  --max-concurrency <n>   Most requests open at once (default 1024); later arrivals wait.
  --request-timeout <s>   Deadline of one request (default 600).
  -h, --help              Show this help.

Exit codes: 0 ok, 2 bad input or usage, 1 other failure.`;

export const command: Command = {
  name: 'replay',
  usage,
  async run(argv) {
    const { values: v } = parseCommandArgs('replay', argv, {
      trace: { type: 'string' }, url: { type: 'string' }, config: { type: 'string' }, ttft: { type: 'string' }, itl: { type: 'string' },
      model: { type: 'string' }, chat: { type: 'boolean' }, ...SHAPING_FLAGS,
      'max-concurrency': { type: 'string' }, 'request-timeout': { type: 'string' },
    });
    const tracePath = requireFlag('replay', 'trace', v.trace);
    const url = requireFlag('replay', 'url', v.url);
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new InputError(`--url '${url}' is not a URL; give the frontend's base URL, e.g. http://127.0.0.1:8000.`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new InputError(`--url '${url}' must be http:// or https://.`);
    const shaping = shapingFromFlags('replay', v);
    const config = v.config !== undefined ? loadConfig(v.config).config : undefined;
    const ttftTargetMs = numberFlag('replay', 'ttft', v.ttft, { min: 0 }) ?? config?.ttft ?? 500;
    const itlTargetMs = numberFlag('replay', 'itl', v.itl, { min: 0 }) ?? config?.itl ?? 50;
    const maxConcurrency = numberFlag('replay', 'max-concurrency', v['max-concurrency'], { integer: true, min: 1, max: 65_536 }) ?? 1024;
    const requestTimeoutMs = (numberFlag('replay', 'request-timeout', v['request-timeout'], { min: 0.001, max: 86_400 }) ?? 600) * 1000;
    const stats = newShapingStats();
    const summary = await replay(shapeBatches(readTraceBatches(tracePath), shaping, stats), {
      url: parsed.toString().replace(/\/+$/, ''), model: v.model ?? null, chat: v.chat === true, ttftTargetMs, itlTargetMs, maxConcurrency, requestTimeoutMs,
    });
    if (stats.kept === 0) throw new InputError(`trace ${tracePath}: no request in the window --start ${shaping.startS ?? 0} --duration ${shaping.durationS ?? 'all'}; widen it.`);
    process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
    return 0;
  },
};
