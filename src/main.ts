#!/usr/bin/env node
// sla-planner command line. Each sub-command lives in src/commands/ and is loaded on demand so
// that `run` starts fast and `--help` never loads the heavy parts.
import { InputError, errorMessage } from './util/errors.js';
import type { Command } from './commands/types.js';
import { VERSION } from './util/version.js';

const COMMANDS: Record<string, { summary: string; load: () => Promise<{ command: Command }> }> = {
  validate: { summary: 'Check a PlannerConfig (and profile data) and print the effective config', load: () => import('./commands/validate.js') },
  interpolate: { summary: 'Query the profile interpolators (prefill at an ISL, decode under an ITL target)', load: () => import('./commands/interpolate.js') },
  decide: { summary: 'Replay observations (JSON lines) through the decision code and print decisions', load: () => import('./commands/decide.js') },
  forecast: { summary: 'Score the load predictors one step ahead on a trace', load: () => import('./commands/forecast.js') },
  run: { summary: 'Run the planner daemon (the DGD sidecar service)', load: () => import('./commands/run.js') },
  simulate: { summary: 'Replay a request trace against a simulated deployment with a scaling policy', load: () => import('./commands/simulate.js') },
  mocker: { summary: 'Serve mock LLM engines (timing from profile data) behind an OpenAI-compatible frontend', load: () => import('./commands/mocker.js') },
  replay: { summary: 'Send a request trace as streaming HTTP requests to a frontend and measure TTFT/ITL', load: () => import('./commands/replay.js') },
  profile: { summary: 'Generate profile data, ConfigMaps and a DGD from a model shape and a GPU spec', load: () => import('./commands/profile.js') },
};

export const COMMAND_NAMES = Object.keys(COMMANDS);

/** The one-line summary `sla-planner --help` shows for a command. */
export function commandSummary(name: string): string {
  const entry = COMMANDS[name];
  if (!entry) throw new Error(`unknown command '${name}'`);
  return entry.summary;
}

export function loadCommand(name: string): Promise<{ command: Command }> {
  const entry = COMMANDS[name];
  if (!entry) throw new Error(`unknown command '${name}'`);
  return entry.load();
}

function topHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  const lines = Object.entries(COMMANDS).map(([k, v]) => `  ${k.padEnd(width)}  ${v.summary}`);
  return [
    'sla-planner: SLA-driven autoscaling for disaggregated LLM serving (Dynamo SLA Planner compatible).',
    '',
    'Usage: sla-planner <command> [options]',
    '',
    'Commands:',
    ...lines,
    '',
    "Run 'sla-planner <command> --help' for the options of a command.",
    'Exit codes: 0 ok, 2 bad input or usage, 1 other failure.',
  ].join('\n');
}

/**
 * A reader that closes our stdout early (`decide ... | head -1`) ends the command with one
 * sentence and exit 2 instead of an EPIPE stack; the daemon keeps running (its log lines to
 * stdout are lost, its file log and its scaling are not).
 */
let runningCommand = '';
let stdoutGuarded = false;
function onClosedStdout(name: string): void {
  runningCommand = name;
  // One listener per process, however many commands run in it (tests call main() many times).
  if (stdoutGuarded) return;
  stdoutGuarded = true;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (runningCommand === 'run') return;
    process.stderr.write(`sla-planner ${runningCommand}: stdout was closed before all output was written (${err.code ?? err.message}); output is incomplete.\n`);
    process.exit(2);
  });
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(topHelp() + '\n');
    return name === undefined ? 2 : 0;
  }
  if (name === '--version') {
    process.stdout.write(`sla-planner ${VERSION}\n`);
    return 0;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    process.stderr.write(`sla-planner: unknown command '${name}'; expected one of ${Object.keys(COMMANDS).join(', ')}.\n`);
    return 2;
  }
  onClosedStdout(name);
  try {
    const { command } = await entry.load();
    if (rest.includes('--help') || rest.includes('-h')) {
      process.stdout.write(command.usage.trimEnd() + '\n');
      return 0;
    }
    return await command.run(rest);
  } catch (err) {
    if (err instanceof InputError) {
      process.stderr.write(`sla-planner ${name}: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`sla-planner ${name}: ${errorMessage(err)}\n`);
    if (process.env.SLA_PLANNER_DEBUG) process.stderr.write(String((err as Error)?.stack) + '\n');
    return 1;
  }
}


