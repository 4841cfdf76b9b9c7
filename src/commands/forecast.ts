// `sla-planner forecast`: score the load predictors one step ahead on a request trace.
import type { Command } from './types.js';
import { loadConfig, plannerConfigSchema, PREDICTORS, type PredictorKind } from '../config/index.js';
import type { PredictorSettings } from '../predict/index.js';
import { scorePredictor, type PredictorScores } from '../predict/evaluate.js';
import { detectTraceFormat, readTraceBuckets } from '../trace/read.js';
import { InputError } from '../util/errors.js';
import { numberFlag, parseCommandArgs, requireFlag } from '../util/args.js';
import { parseLogLevel, predictorNotices, stderrLogger } from '../runtime/log.js';
import type { PredictorLog } from '../predict/index.js';

const usage = `Usage: sla-planner forecast --trace <file> --interval <s> [--predictor <name>|all] [--config <file>] [--clamp]

Buckets a request trace into intervals of <s> seconds and runs the load predictor(s) one step
ahead on the request count, mean ISL and mean OSL of each interval: before an interval is fed to
a predictor, the predictor forecasts it. Prints JSON on stdout:
  {"trace", "format", "interval_s", "intervals", "predictors": {<name>: {"num_req"|"isl"|"osl":
   {"smape", "mae", "under_rate", "p95_predict_ms", "n"}}}}
smape is percent (0-200), mae is in requests per interval or tokens, under_rate is the fraction
of intervals forecast below the actual (what breaks SLAs), p95_predict_ms is the 95th percentile
of one forecast. The first interval is not scored; ISL/OSL only on intervals with requests.

Options:
  --trace <file>        JSONL {"t","isl","osl"} (t in s), Mooncake JSONL {"timestamp" (ms),
                        "input_length","output_length"}, or Azure LLM inference CSV (TIMESTAMP,
                        ContextTokens,GeneratedTokens); gzip is detected. Must be sorted by time.
  --interval <s>        Interval length in seconds (the throughput_adjustment_interval).
  --predictor <name>    ${PREDICTORS.join(', ')} or all (default all).
  --config <X>          PlannerConfig file or inline JSON for the predictor settings
                        (load_predictor_log1p, kalman_*, prophet_window_size); defaults otherwise.
  --clamp               Clamp every forecast to >= 0 (the original's raw Kalman forecast can go
                        negative; this is off by default for compatibility).
  --log-level <l>       debug, info, warn (default) or error: predictor notices (the ARIMA
                        order chosen, a failed forecast) as JSON log lines on stderr, as the
                        daemon logs them.
  -h, --help            Show this help.

'prophet' runs a seasonal Holt-Winters model in place of Prophet (not available for Node).
Exit codes: 0 ok, 2 bad input or usage, 1 other failure.`;

export interface ForecastReport {
  trace: string;
  format: string;
  interval_s: number;
  intervals: number;
  predictors: Partial<Record<PredictorKind, PredictorScores>>;
}

function predictorList(raw: string | undefined): PredictorKind[] {
  if (raw === undefined || raw === 'all') return [...PREDICTORS];
  if ((PREDICTORS as readonly string[]).includes(raw)) return [raw as PredictorKind];
  throw new InputError(`--predictor must be one of ${PREDICTORS.join(', ')} or all, got '${raw}'.`);
}

export async function forecastTrace(
  trace: string,
  intervalS: number,
  kinds: readonly PredictorKind[],
  settings: PredictorSettings,
  options: { clampNonNegative?: boolean; log?: PredictorLog } = {},
): Promise<ForecastReport> {
  const format = await detectTraceFormat(trace);
  const buckets = await readTraceBuckets(trace, intervalS);
  const predictors: ForecastReport['predictors'] = {};
  for (const kind of kinds) predictors[kind] = scorePredictor(buckets, kind, settings, options);
  return { trace, format, interval_s: intervalS, intervals: buckets.length, predictors };
}

export const command: Command = {
  name: 'forecast',
  usage,
  async run(argv) {
    const { values } = parseCommandArgs('forecast', argv, {
      trace: { type: 'string' },
      interval: { type: 'string' },
      predictor: { type: 'string' },
      config: { type: 'string' },
      clamp: { type: 'boolean' },
      'log-level': { type: 'string' },
    });
    const logger = stderrLogger(parseLogLevel('forecast', values['log-level'], 'warn'));
    const trace = requireFlag('forecast', 'trace', values.trace);
    const intervalS = numberFlag('forecast', 'interval', values.interval, { required: true })!;
    // Whole seconds at least, like the planner's throughput_adjustment_interval (a PromQL range).
    if (!(intervalS >= 1)) throw new InputError(`--interval must be at least 1 second (the planner's throughput_adjustment_interval is whole seconds), got '${values.interval}'.`);
    const kinds = predictorList(values.predictor);
    let settings: PredictorSettings;
    if (values.config !== undefined) {
      const { config, warnings } = loadConfig(values.config);
      for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
      settings = config;
    } else {
      settings = plannerConfigSchema.parse({});
    }
    const report = await forecastTrace(trace, intervalS, kinds, settings, {
      clampNonNegative: values.clamp === true,
      log: predictorNotices(logger),
    });
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    return 0;
  },
};
