// Structured JSON log lines (one object per line) to stdout and optionally a file. Faults are
// logged once per episode: the first failure of a kind, then nothing until it recovers.
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../util/errors.js';
import type { PredictorLog } from '../predict/index.js';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type Level = (typeof LOG_LEVELS)[number];

export interface LogSink {
  (line: string): void;
}

export class Logger {
  private readonly faults = new Map<string, { since: number; count: number }>();
  private readonly fileSink: string | null;

  constructor(
    private readonly out: LogSink = (l) => process.stdout.write(l),
    logDir: string | null = null,
    private readonly now: () => number = Date.now,
    /** Lines below this level are dropped. */
    private readonly minLevel: Level = 'debug',
  ) {
    if (logDir) {
      this.fileSink = join(logDir, 'planner.jsonl');
      try {
        mkdirSync(logDir, { recursive: true });
        appendFileSync(this.fileSink, '');
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const why = code === 'EEXIST' || code === 'ENOTDIR' ? 'it (or a parent) is a file, not a directory' : code === 'EACCES' || code === 'EROFS' ? 'it is not writable' : code ?? String(err);
        throw new InputError(`log_dir '${logDir}': cannot write ${this.fileSink} (${why}); set log_dir to a writable directory, or null for stdout only.`);
      }
    } else {
      this.fileSink = null;
    }
  }

  log(level: Level, event: string, fields: Record<string, unknown> = {}): void {
    if (LOG_LEVELS.indexOf(level) < LOG_LEVELS.indexOf(this.minLevel)) return;
    const line = JSON.stringify({ ts: new Date(this.now()).toISOString(), level, event, ...fields }) + '\n';
    this.out(line);
    if (this.fileSink) {
      try { appendFileSync(this.fileSink, line); } catch { /* the stdout copy is the primary log */ }
    }
  }

  info(event: string, fields?: Record<string, unknown>): void { this.log('info', event, fields); }
  warn(event: string, fields?: Record<string, unknown>): void { this.log('warn', event, fields); }
  error(event: string, fields?: Record<string, unknown>): void { this.log('error', event, fields); }

  /** Report a fault; logs only when the episode starts. Returns true when it logged. */
  fault(key: string, fields: Record<string, unknown>): boolean {
    const f = this.faults.get(key);
    if (f) {
      f.count++;
      return false;
    }
    this.faults.set(key, { since: this.now(), count: 1 });
    this.warn('fault', { fault: key, ...fields });
    return true;
  }

  /** End a fault episode (if one is open) with one recovery line. */
  recover(key: string): boolean {
    const f = this.faults.get(key);
    if (!f) return false;
    this.faults.delete(key);
    this.info('recovered', { fault: key, failures: f.count, duration_s: (this.now() - f.since) / 1000 });
    return true;
  }

  /** Recover every open fault whose key starts with prefix. */
  recoverPrefix(prefix: string): void {
    for (const key of [...this.faults.keys()]) if (key.startsWith(prefix)) this.recover(key);
  }

  openFaults(): string[] {
    return [...this.faults.keys()];
  }
}

/** `--log-level`: one of LOG_LEVELS. */
export function parseLogLevel(command: string, raw: string | undefined, fallback: Level): Level {
  if (raw === undefined) return fallback;
  if ((LOG_LEVELS as readonly string[]).includes(raw)) return raw as Level;
  throw new InputError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got '${raw}'; run 'sla-planner ${command} --help' for usage.`);
}

/** The log of a one-shot command: the daemon's JSON lines, on stderr (stdout carries the command's output). */
export function stderrLogger(minLevel: Level): Logger {
  return new Logger((line) => process.stderr.write(line), null, Date.now, minLevel);
}

/** Predictor notices as `predictor_notice` log lines at the level the predictor gives them. */
export function predictorNotices(logger: Logger): PredictorLog {
  return (message, level = 'info') => logger.log(level, 'predictor_notice', { message });
}
