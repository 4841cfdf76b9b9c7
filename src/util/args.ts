// Thin wrapper over node:util parseArgs that reports usage mistakes as InputError.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { InputError } from './errors.js';

type Options = NonNullable<ParseArgsConfig['options']>;

export function parseCommandArgs<O extends Options>(command: string, argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false });
  } catch (err) {
    const msg = err instanceof Error ? err.message.replace(/\. To specify.*$/s, '').replace(/\s*\n\s*/g, ' ') : String(err);
    throw new InputError(`${msg}; run 'sla-planner ${command} --help' for usage.`);
  }
}

/** A required numeric flag: finite, and optionally positive/integer. */
export function numberFlag(
  command: string,
  flag: string,
  raw: string | undefined,
  opts: { required?: boolean; integer?: boolean; min?: number; max?: number } = {},
): number | undefined {
  if (raw === undefined) {
    if (opts.required) throw new InputError(`--${flag} is required; run 'sla-planner ${command} --help' for usage.`);
    return undefined;
  }
  const value = Number(raw);
  const outside = (opts.min !== undefined && value < opts.min) || (opts.max !== undefined && value > opts.max);
  if (raw.trim() === '' || !Number.isFinite(value) || (opts.integer && !Number.isInteger(value)) || outside) {
    const kind = opts.integer ? 'an integer' : 'a number';
    const bound = opts.min !== undefined && opts.max !== undefined ? ` from ${opts.min} to ${opts.max}` : opts.min !== undefined ? ` >= ${opts.min}` : opts.max !== undefined ? ` <= ${opts.max}` : '';
    throw new InputError(`--${flag} must be ${kind}${bound}, got '${raw}'.`);
  }
  return value;
}

export function requireFlag(command: string, flag: string, value: string | undefined): string {
  if (value === undefined || value === '') {
    throw new InputError(`--${flag} is required; run 'sla-planner ${command} --help' for usage.`);
  }
  return value;
}
