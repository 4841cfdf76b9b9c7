// Configs that pass every field check but cannot work: validate (strict) refuses them with one
// sentence, run (lax) keeps them as loud warnings; and text the YAML parser cannot survive.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_INTERVAL_S, budgetShortfall, resolveConfig } from '../../src/config/index.js';
import { parseYamlText } from '../../src/config/load.js';
import { InputError } from '../../src/util/errors.js';

const error = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return (err as Error).message;
  }
  throw new Error('expected an InputError');
};

const virtual = { environment: 'virtual', prefill_engine_num_gpu: 4, decode_engine_num_gpu: 2 };

describe('configs that cannot work', () => {
  it('min_endpoint x GPUs per replica over max_gpu_budget: validate refuses, run warns (the budget would size both pools to 0)', () => {
    const cfg = { ...virtual, min_endpoint: 2, max_gpu_budget: 11 };
    expect(error(() => resolveConfig(cfg, { env: {}, strict: true, origin: 'p.json' }))).toBe(
      'p.json: max_gpu_budget 11 cannot hold min_endpoint 2 of each managed pool (4 per prefill replica, 2 per decode replica: 12 GPUs), so the budget rule sizes every pool to 0 replicas; raise max_gpu_budget to at least 12, lower min_endpoint, or set max_gpu_budget to -1 for no budget.',
    );
    const lax = resolveConfig(cfg, { env: {}, strict: false, origin: 'p.json' });
    expect(lax.unworkable).toHaveLength(1);
    expect(lax.warnings).toContain(lax.unworkable[0]);
    expect(resolveConfig({ ...cfg, max_gpu_budget: 12 }, { env: {}, strict: true }).config.max_gpu_budget).toBe(12);
    expect(resolveConfig({ ...cfg, max_gpu_budget: -1 }, { env: {}, strict: true }).config.max_gpu_budget).toBe(-1);
  });

  it('property: strict resolution refuses exactly the budgets below max(min_endpoint, 1) replica of each managed pool', () => {
    fc.assert(fc.property(
      fc.constantFrom('disagg', 'prefill', 'decode', 'agg'), fc.integer({ min: 0, max: 5 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: -1, max: 100 }),
      (mode, minEndpoint, pg, dg, budget) => {
        const need = Math.max(minEndpoint, 1) * ((mode === 'disagg' || mode === 'prefill' ? pg : 0) + (mode === 'prefill' ? 0 : dg));
        const input = { ...virtual, mode, min_endpoint: minEndpoint, prefill_engine_num_gpu: pg, decode_engine_num_gpu: dg, max_gpu_budget: budget };
        const refused = budget >= 0 && budget < need;
        if (refused) expect(error(() => resolveConfig(input, { env: {}, strict: true }))).toContain(`cannot hold`);
        else expect(budgetShortfall(resolveConfig(input, { env: {}, strict: true }).config, { prefill: pg, decode: dg })).toBeNull();
      },
    ), { numRuns: 300 });
  });

  it('unknown GPU counts (kubernetes: read from the DGD) count as at least one GPU a replica', () => {
    expect(error(() => resolveConfig({ max_gpu_budget: 1 }, { env: {}, strict: true, origin: 'k.json' }))).toContain('(1+ per prefill replica, 1+ per decode replica: 2 GPUs)');
    const cfg = resolveConfig({ max_gpu_budget: 8 }, { env: {}, strict: true }).config;
    // At start-up the DGD says 4 GPUs a replica: then 8 cannot hold one of each.
    expect(budgetShortfall(cfg, { prefill: 4, decode: 8 })).toContain('max_gpu_budget 8 cannot hold min_endpoint 1 of each managed pool (4 per prefill replica, 8 per decode replica: 12 GPUs)');
  });

  it('load scaling that can never act, or scrapes faster than every 100 ms', () => {
    const load = { ...virtual, enable_load_scaling: true, load_router_metrics_url: 'http://fe:8000/metrics', max_gpu_budget: -1 };
    expect(error(() => resolveConfig({ ...load, load_min_observations: 60, load_learning_window: 50 }, { env: {}, strict: true }))).toContain('load_min_observations (60) is above load_learning_window (50)');
    expect(error(() => resolveConfig({ ...load, load_metric_samples: 1000 }, { env: {}, strict: true }))).toContain('lower load_metric_samples to 50 or less');
    expect(resolveConfig({ ...load, load_metric_samples: 50 }, { env: {}, strict: true }).config.load_metric_samples).toBe(50);
  });

  it('intervals a timer cannot wait are refused by validate and by run (a start-up problem), only warned about elsewhere', () => {
    const cfg = { ...virtual, max_gpu_budget: -1, throughput_adjustment_interval: MAX_INTERVAL_S + 1 };
    expect(error(() => resolveConfig(cfg, { env: {}, strict: true }))).toContain(`throughput_adjustment_interval (${MAX_INTERVAL_S + 1}s) is longer than the ${MAX_INTERVAL_S}s (24.8 days) a timer can wait`);
    const lax = resolveConfig(cfg, { env: {}, strict: false });
    expect(lax.warnings.some((w) => w.includes('a timer can wait'))).toBe(true);
  });
});

describe('YAML the parser cannot survive is one sentence, not a crash', () => {
  it('deep flow nesting, deep indentation and alias bombs name the file', () => {
    expect(error(() => parseYamlText(`x: ${'['.repeat(20000)}${']'.repeat(20000)}`, 'deep.yaml'))).toBe('deep.yaml: YAML nested too deeply (brackets nest more than 64 levels deep at line 1, column 68); a PlannerConfig is a flat map of fields.');
    expect(error(() => parseYamlText(Array.from({ length: 400 }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n'), 'indent.yaml'))).toMatch(/^indent\.yaml: YAML nested too deeply \(line 258 is indented more than 256 columns\)/);
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]', ...'bcdefgh'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefgh'[i]}`).join(', ')}]`)].join('\n');
    expect(error(() => parseYamlText(bomb, 'bomb.yaml'))).toMatch(/^bomb\.yaml: YAML aliases expand too far \(.*\); write the values out instead of nesting aliases\.$/);
    // Brackets inside quotes and comments are text, not nesting.
    expect(parseYamlText(`ttft: 100 # ${'['.repeat(100)}\nmodel_name: "${'{'.repeat(100)}"\n`, 'ok.yaml')).toEqual({ ttft: 100, model_name: '{'.repeat(100) });
  });
});
