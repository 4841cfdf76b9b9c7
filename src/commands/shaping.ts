// The trace-slicing flags `simulate` and `replay` share (--start, --duration, --load-scale,
// --speedup, --seed), read and checked once.
import { numberFlag } from '../util/args.js';
import { checkShaping, type TraceShaping } from '../trace/shape.js';

export const SHAPING_FLAGS = {
  start: { type: 'string' }, duration: { type: 'string' }, 'load-scale': { type: 'string' }, speedup: { type: 'string' }, seed: { type: 'string' },
} as const;

export function shapingFromFlags(command: string, values: Partial<Record<keyof typeof SHAPING_FLAGS, string>>): TraceShaping {
  const shaping = {
    startS: numberFlag(command, 'start', values.start, { min: 0 }),
    durationS: numberFlag(command, 'duration', values.duration),
    loadScale: numberFlag(command, 'load-scale', values['load-scale']),
    speedup: numberFlag(command, 'speedup', values.speedup),
    seed: numberFlag(command, 'seed', values.seed, { integer: true, min: 0 }),
  };
  checkShaping(shaping);
  return shaping;
}
