// `sla-planner decide`: replay per-interval observations (JSON lines) through the decision code
// and print one decision per interval, as the daemon would have made them.
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import type { Command } from './types.js';
import { loadConfig } from '../config/index.js';
import { buildInterpolators, loadProfileDir } from '../profile-data/index.js';
import { Planner } from '../scaling/planner.js';
import { parseObservation, type IntervalObservation } from '../scaling/observation.js';
import { replayObservations, type ReplayLine } from '../scaling/replay.js';
import { InputError, errorMessage } from '../util/errors.js';
import { parseCommandArgs, requireFlag } from '../util/args.js';
import { parseLogLevel, predictorNotices, stderrLogger } from '../runtime/log.js';
import { trafficPredictors } from '../scaling/forecast.js';

const usage = `Usage: sla-planner decide --config <file|inline JSON> --observations <file|-> [--profile-dir <dir>]

Feeds one observation per throughput interval, oldest first, through the planner's decision code
(predictors, correction factors, throughput and load scaling, GPU budget) and prints one JSON line
per interval.

Input line (a missing or null field means "not observed"):
  {"num_req": 2683, "isl": 5829.9, "osl": 625.5, "ttft": 570.6, "itl": 20.3,
   "request_duration": 13.1, "current_prefill": 2, "current_decode": 3}
  times in ms except request_duration (s); current_* = workers seen in the interval (default: the
  last decision, min_endpoint before any). With load scaling on, "router_samples" (or "router")
  holds the router's per-worker gauges spread over the interval:
  {"prefill": {"<id>": {"active_prefill_tokens", "last_ttft", "last_isl"}},
   "decode": {"<id>": {"active_decode_blocks", "last_itl"}}}  (latencies in seconds).

Output line:
  {"prefill": n|null, "decode": n|null, "decided": bool, "predicted": {...}|null,
   "correction_factor": {...}, "planned": {...}, "events": [...], "reason": {"code": ..., ...}}
  prefill/decode: replicas after the interval (null = pool not managed in this mode); decided:
  the throughput tick reached a plan; planned: its replicas before the GPU budget; events: every
  scaling call in the interval with its time (s) and source (throughput or load); reason: why,
  with the binding constraint.

Options:
  --config <X>        PlannerConfig file (.json/.yaml) or inline JSON.
  --observations <f>  JSON-lines file, or - for stdin.
  --profile-dir <dir> Profile data (raw_data.npz layout or the ConfigMap JSON). Default: the
                      config's profile_results_dir. Not read when throughput scaling is off.
  --log-level <l>     debug, info, warn (default) or error: predictor notices (the ARIMA order
                      chosen, a failed forecast) as JSON log lines on stderr, as the daemon logs.
  -h, --help          Show this help.

Exit codes: 0 ok, 2 bad config, profile or input line (the message names the line), 1 other failure.`;

/** Longest observation line accepted (router samples of a thousand workers fit many times over). */
export const MAX_OBSERVATION_LINE_BYTES = 16 * 1024 * 1024;
/** Most intervals replayed in one run: 1e6 intervals of 180 s is 5.7 years. */
export const MAX_OBSERVATIONS = 1_000_000;

/** Lines of a stream, refusing one longer than maxBytes before it is held in memory. */
async function* boundedLines(stream: Readable, origin: string, maxBytes: number): AsyncGenerator<string> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let lineNo = 0;
  const tooLong = () => new InputError(`${origin} line ${lineNo + 1}: longer than ${maxBytes} bytes; each line must be one observation object.`);
  for await (const chunk of stream) {
    let buf = chunk as Buffer;
    for (let nl = buf.indexOf(10); nl >= 0; nl = buf.indexOf(10)) {
      if (pendingBytes + nl > maxBytes) throw tooLong();
      pending.push(buf.subarray(0, nl));
      lineNo++;
      yield Buffer.concat(pending).toString('utf8').replace(/\r$/, '');
      pending = [];
      pendingBytes = 0;
      buf = buf.subarray(nl + 1);
    }
    pendingBytes += buf.length;
    if (pendingBytes > maxBytes) throw tooLong();
    if (buf.length) pending.push(buf);
  }
  if (pendingBytes > 0) yield Buffer.concat(pending).toString('utf8').replace(/\r$/, '');
}

async function* readObservations(stream: Readable, origin: string): AsyncGenerator<IntervalObservation> {
  let lineNo = 0;
  let count = 0;
  for await (const text of boundedLines(stream, origin, MAX_OBSERVATION_LINE_BYTES)) {
    lineNo++;
    if (text.trim() === '') continue;
    const where = `${origin} line ${lineNo}`;
    if (++count > MAX_OBSERVATIONS) throw new InputError(`${where}: more than ${MAX_OBSERVATIONS} observations; replay a shorter span (each line is one throughput interval).`);
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new InputError(`${where}: not valid JSON (${err instanceof Error ? err.message : String(err)}); each line must be one JSON object.`);
    }
    yield parseObservation(raw, where);
  }
}

function openObservations(path: string): Readable {
  if (path === '-') return process.stdin;
  const stream = createReadStream(path);
  return stream;
}

function outputLine(line: ReplayLine): string {
  return JSON.stringify({
    prefill: line.prefill,
    decode: line.decode,
    decided: line.decided,
    predicted: line.predicted,
    correction_factor: line.correction_factor,
    planned: line.planned,
    events: line.events,
    reason: line.reason,
  });
}

export const command: Command = {
  name: 'decide',
  usage,
  async run(argv) {
    const { values } = parseCommandArgs('decide', argv, {
      config: { type: 'string' },
      'profile-dir': { type: 'string' },
      observations: { type: 'string' },
      'log-level': { type: 'string' },
    });
    const logger = stderrLogger(parseLogLevel('decide', values['log-level'], 'warn'));
    const source = requireFlag('decide', 'config', values.config);
    const observationsPath = requireFlag('decide', 'observations', values.observations);
    const { config, warnings } = loadConfig(source);

    const interpolators = config.enable_throughput_scaling
      ? buildInterpolators(loadProfileDir(values['profile-dir'] ?? config.profile_results_dir))
      : undefined;
    const planner = new Planner({ config, interpolators, predictors: trafficPredictors(config, predictorNotices(logger)) });
    // After the planner accepted the config, so a fatal problem is one line, not a warning plus an error.
    for (const w of warnings) process.stderr.write(`warning: ${w}\n`);

    const stream = openObservations(observationsPath);
    const opened = new Promise<void>((resolve, reject) => {
      if (observationsPath === '-') return resolve();
      stream.once('open', () => resolve());
      stream.once('error', (err: NodeJS.ErrnoException) =>
        reject(new InputError(`--observations ${observationsPath}: cannot read it (${err.code ?? err.message}); give a JSON-lines file or - for stdin.`)),
      );
    });
    await opened;

    // Observations are read in full before replay: a load tick at the start of an interval reads
    // the scrapes of the interval before, and the replay indexes intervals by position.
    const observations: IntervalObservation[] = [];
    try {
      for await (const obs of readObservations(stream, observationsPath === '-' ? 'stdin' : observationsPath)) observations.push(obs);
    } catch (err) {
      // A directory opens fine and fails on the first read (EISDIR).
      if (err instanceof InputError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      throw new InputError(`--observations ${observationsPath}: cannot read it (${code ?? errorMessage(err)}); give a JSON-lines file or - for stdin.`);
    }

    for (const line of replayObservations(planner, observations)) {
      if (!process.stdout.write(outputLine(line) + '\n')) await new Promise((r) => process.stdout.once('drain', r));
    }
    return 0;
  },
};
