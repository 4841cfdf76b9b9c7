// `sla-planner validate`: find mistakes in a PlannerConfig (strictly: unknown keys are errors) and
// print the effective config, optionally checking profile data too.
import type { Command } from './types.js';
import { loadConfig } from '../config/index.js';
import type { ProfileData } from '../profile-data/types.js';
import { parseCommandArgs, requireFlag } from '../util/args.js';

const usage = `Usage: sla-planner validate --config <file|inline JSON> [--profile-dir <dir>]

Checks a PlannerConfig and prints the effective config (every field, defaults and environment
values filled, derived rules applied, snake_case) as JSON on stdout. Warnings go to stderr.

Options:
  --config <X>        A .json or .yaml/.yml file (other suffixes: JSON, then YAML), or inline
                      JSON such as '{"ttft": 200, "itl": 20}', as the original planner's --config.
  --profile-dir <dir> Also load the profile data in <dir> (raw_data.npz layout, else the
                      planner-profile-data ConfigMap JSON), check its interpolated curves stay
                      physical, and print a one-line summary to stderr.
                      Without it no profile data is read: the config's profile_results_dir is a
                      path inside the planner pod, usually not on this machine.
  -h, --help          Show this help.

Stricter than 'run': unknown keys are errors (run only warns, as the original ignores them),
and so are combinations the original only rejects at startup (missing engine GPU counts outside
kubernetes) and those that pass every field check but cannot work (a max_gpu_budget below
min_endpoint replicas of each pool, load_min_observations above load_learning_window, more
router scrapes than one per 100 ms; run warns loudly about these and starts anyway).

Environment: DYN_NAMESPACE, PROMETHEUS_ENDPOINT and PLANNER_PROMETHEUS_PORT fill namespace,
metric_pulling_prometheus_endpoint and metric_reporting_prometheus_port when the config omits them.

Exit codes: 0 valid, 2 invalid config or profile data (one sentence per problem on stderr),
1 other failure.`;

interface ProfileModule {
  loadProfileDir(dir: string): ProfileData;
  buildInterpolators(data: ProfileData): unknown;
  unreachableTargets(targets: { ttftMs: number; itlMs: number }, data: ProfileData): string[];
}

function range(values: number[]): string {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return `${lo}-${hi}`;
}

export function profileSummary(dir: string, data: ProfileData): string {
  const { prefill, decode } = data;
  return `profile ${dir}: prefill ${prefill.isl.length} points, ISL ${range(prefill.isl)}; decode ${decode.contextLength.length} points, context ${range(decode.contextLength)}, max_kv_tokens ${decode.maxKvTokens}`;
}

export const command: Command = {
  name: 'validate',
  usage,
  async run(argv) {
    const { values } = parseCommandArgs('validate', argv, {
      config: { type: 'string' },
      'profile-dir': { type: 'string' },
    });
    const source = requireFlag('validate', 'config', values.config);
    const { config, warnings } = loadConfig(source, { strict: true });
    for (const warning of warnings) process.stderr.write(`warning: ${warning}\n`);

    const profileDir = values['profile-dir'];
    if (profileDir !== undefined) {
      requireFlag('validate', 'profile-dir', profileDir);
      // Loaded on demand: the profile reader is heavier than the config check.
      const specifier = '../profile-data/index.js';
      const profile = (await import(specifier)) as ProfileModule;
      const data = profile.loadProfileDir(profileDir);
      // The interpolators too: profile data whose curves leave the physical range is refused here as in run.
      profile.buildInterpolators(data);
      process.stderr.write(`${profileSummary(profileDir, data)}\n`);
      for (const w of profile.unreachableTargets({ ttftMs: config.ttft, itlMs: config.itl }, data)) process.stderr.write(`warning: ${w}\n`);
    }

    process.stdout.write(`${JSON.stringify(config, null, 2)}\n`);
    return 0;
  },
};
