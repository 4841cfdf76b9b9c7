// `sla-planner forecast`: scoring on a trace whose buckets are known by hand.
import { describe, expect, it } from 'vitest';
import { plannerConfigSchema } from '../../src/config/schema.js';
import { command, forecastTrace } from '../../src/commands/forecast.js';
import { percentile, scorePredictor } from '../../src/predict/evaluate.js';
import { InputError } from '../../src/util/errors.js';

const SMALL = 'test/fixtures/traces/small.jsonl';
const settings = plannerConfigSchema.parse({});

describe('forecast scoring', () => {
  it('constant on small.jsonl at 10 s matches the hand computation', async () => {
    // Buckets: count 3, 1, 0, 2; mean ISL 200, 1000, -, 50. Constant forecasts the previous value.
    const report = await forecastTrace(SMALL, 10, ['constant'], settings);
    expect(report.format).toBe('jsonl');
    expect(report.intervals).toBe(4);
    const req = report.predictors.constant!.num_req;
    // forecasts 3, 1, 0 for actuals 1, 0, 2
    expect(req.n).toBe(3);
    expect(req.mae).toBeCloseTo(5 / 3, 12);
    expect(req.smape).toBeCloseTo((100 * (1 + 2 + 2)) / 3, 10);
    expect(req.under_rate).toBeCloseTo(1 / 3, 12);
    // ISL scored on non-empty intervals only: (200 -> 1000) and (0 -> 50): the empty interval's 0
    // was still fed to the predictor.
    const isl = report.predictors.constant!.isl;
    expect(isl.n).toBe(2);
    expect(isl.mae).toBeCloseTo(425, 12);
    expect(isl.smape).toBeCloseTo((100 * (1600 / 1200 + 2)) / 2, 10);
    expect(isl.under_rate).toBe(1);
    expect(isl.p95_predict_ms).toBeGreaterThanOrEqual(0);
  });

  it('a perfect forecaster scores zero: kalman on a constant series', () => {
    const buckets = Array.from({ length: 20 }, (_, i) => ({ start_s: 60 * i, request_count: 100, avg_isl: 500, avg_osl: 50 }));
    const scores = scorePredictor(buckets, 'kalman', settings);
    for (const s of ['num_req', 'isl', 'osl'] as const) {
      expect(scores[s].smape).toBeCloseTo(0, 9);
      expect(scores[s].under_rate).toBe(0);
      expect(scores[s].n).toBe(19);
    }
  });

  it('percentile interpolates linearly as numpy does', () => {
    expect(percentile([1, 2, 3, 4], 95)).toBeCloseTo(3.85, 12);
    expect(percentile([5], 95)).toBe(5);
    expect(percentile([], 95)).toBe(0);
  });

  it('scores every predictor with --predictor all, on the Azure CSV format too', async () => {
    const report = await forecastTrace('test/fixtures/traces/azure.csv', 10, ['constant', 'arima', 'kalman', 'prophet'], settings, { log: () => {} });
    expect(report.format).toBe('azure-csv');
    expect(Object.keys(report.predictors)).toEqual(['constant', 'arima', 'kalman', 'prophet']);
  });
});

describe('forecast command input errors', () => {
  it('rejects an unknown predictor, a missing --trace and a bad --interval', async () => {
    await expect(command.run(['--trace', SMALL, '--interval', '60', '--predictor', 'lstm'])).rejects.toThrow(/--predictor must be one of constant, arima, kalman, prophet or all, got 'lstm'/);
    await expect(command.run(['--interval', '60'])).rejects.toThrow(/--trace is required/);
    await expect(command.run(['--trace', SMALL, '--interval', '0'])).rejects.toThrow(/--interval must be at least 1 second .*got '0'/);
    // A nanosecond interval used to mean trillions of empty buckets: a hang, not an error.
    await expect(command.run(['--trace', SMALL, '--interval', '1e-9'])).rejects.toThrow(/--interval must be at least 1 second/);
    await expect(command.run(['--trace', SMALL, '--interval', 'abc'])).rejects.toThrow(/--interval must be a number/);
  });
});
