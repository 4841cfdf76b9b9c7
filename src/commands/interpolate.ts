// `sla-planner interpolate`: query the profile interpolators the throughput planner uses.
import type { Command } from './types.js';
import { buildInterpolators, loadProfileDir } from '../profile-data/index.js';
import { InputError, RuntimeFailure } from '../util/errors.js';
import { numberFlag, parseCommandArgs, requireFlag } from '../util/args.js';

const usage = `Usage: sla-planner interpolate --profile-dir <dir> (--isl N | --context N --itl MS | --context N --concurrency C)

Prints one JSON object on stdout, computed exactly as the planner computes it:
  --isl N                  prefill at an input length:
                           {"isl", "ttft_ms", "thpt_per_gpu"}  (input tokens/s/GPU)
  --context N --itl MS     best decode throughput/GPU under an ITL target at a context length
                           (isl + osl/2), the planner's decode sizing:
                           {"context", "itl_target_ms", "thpt_per_gpu", "itl_ms", "kv_usage"}
                           itl_ms > itl_target_ms means no KV load meets the target.
  --context N --concurrency C
                           decode ITL and throughput/GPU at C requests per engine:
                           {"context", "concurrency", "itl_ms", "thpt_per_gpu"}

Outside the measured range: prefill clamps the ISL to the profiled range; decode reads the
nearest cell of a 100x100 grid over KV usage 0..1 and context 0..max profiled context, clamping
beyond its edges.

Options:
  --profile-dir <dir>  Profiler output (selected_*_interpolation/raw_data.npz), a mounted
                       planner-profile-data ConfigMap (prefill_raw_data.json, decode_raw_data.json),
                       or a ConfigMap object file (JSON/YAML).
  --isl <N>            Input sequence length (tokens).
  --context <N>        Decode context length (tokens).
  --itl <MS>           ITL target (ms).
  --concurrency <C>    Requests in flight per decode engine.
  -h, --help           Show this help.

Exit codes: 0 ok, 2 bad flags or profile data, 1 other failure.`;

export const command: Command = {
  name: 'interpolate',
  usage,
  async run(argv: string[]): Promise<number> {
    const name = 'interpolate';
    const { values } = parseCommandArgs(name, argv, {
      'profile-dir': { type: 'string' },
      isl: { type: 'string' },
      context: { type: 'string' },
      itl: { type: 'string' },
      concurrency: { type: 'string' },
    });
    const dir = requireFlag(name, 'profile-dir', values['profile-dir']);
    const isl = numberFlag(name, 'isl', values.isl, { min: 0 });
    const context = numberFlag(name, 'context', values.context, { min: 0 });
    const itl = numberFlag(name, 'itl', values.itl, { min: 0 });
    const concurrency = numberFlag(name, 'concurrency', values.concurrency, { min: 0 });

    const prefillQuery = isl !== undefined;
    const decodeQuery = context !== undefined || itl !== undefined || concurrency !== undefined;
    if (prefillQuery === decodeQuery) {
      throw new InputError(`give either --isl, or --context with --itl or --concurrency; run 'sla-planner ${name} --help' for usage.`);
    }
    if (decodeQuery && (context === undefined || (itl === undefined) === (concurrency === undefined))) {
      throw new InputError(`a decode query needs --context and exactly one of --itl or --concurrency; run 'sla-planner ${name} --help' for usage.`);
    }

    // Both interpolators, checked as the planner checks them: data the planner refuses is refused here.
    const { prefill, decode } = buildInterpolators(loadProfileDir(dir));
    let out: Record<string, number>;
    if (prefillQuery) {
      out = { isl: isl!, ttft_ms: prefill.ttftMs(isl!), thpt_per_gpu: prefill.thptPerGpu(isl!) };
    } else {
      if (itl !== undefined) {
        const best = decode.findBestThroughputPerGpu(itl, context!);
        out = { context: context!, itl_target_ms: itl, thpt_per_gpu: best.thptPerGpu, itl_ms: best.itlMs, kv_usage: best.kvUsage };
      } else {
        out = { context: context!, concurrency: concurrency!, itl_ms: decode.itlMs(concurrency!, context!), thpt_per_gpu: decode.thptPerGpu(concurrency!, context!) };
      }
    }
    const bad = Object.entries(out).find(([, v]) => !Number.isFinite(v));
    if (bad) throw new RuntimeFailure(`${dir}: the interpolated ${bad[0]} is ${bad[1]}; the profile data cannot answer this query.`);
    process.stdout.write(JSON.stringify(out) + '\n');
    return 0;
  },
};
