import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { plannerConfigSchema, PREDICTORS, type PredictorKind } from '../../src/config/schema.js';
import { createPredictor, warmUpPredictors, type LoadPredictor } from '../../src/predict/index.js';
import { ArimaPredictor } from '../../src/predict/arima.js';
import { SeasonalPredictor } from '../../src/predict/seasonal.js';
import { ArimaFit, fitAndForecast, kpssStatistic, selectDifferencing, selectOrder } from '../../src/predict/arima-order.js';

const config = plannerConfigSchema.parse({});
const quiet = { log: () => {} };
const make = (kind: PredictorKind, overrides: Record<string, unknown> = {}, clamp = false): LoadPredictor =>
  createPredictor(kind, plannerConfigSchema.parse(overrides), { ...quiet, clampNonNegative: clamp });

/** Deterministic uniform(0,1) (Park-Miller), so the tests do not depend on Math.random. */
function uniform(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 16807) % 2147483647;
    return s / 2147483647;
  };
}

function feed(p: LoadPredictor, values: number[]): void {
  for (const v of values) p.observe(v);
}

/** One-step-ahead forecasts of `values[from..]`. */
function oneStep(p: LoadPredictor, values: number[], from: number): number[] {
  const out: number[] = [];
  values.forEach((v, i) => {
    if (i >= from) out.push(p.predict());
    p.observe(v);
  });
  return out;
}

const meanAbs = (a: number[], b: number[]) => a.reduce((s, x, i) => s + Math.abs(x - b[i]), 0) / a.length;

describe('shared intake', () => {
  it.each(PREDICTORS)('%s: leading zeros are skipped; with no data the forecast is 0', (kind) => {
    const p = make(kind);
    expect(p.predict()).toBe(0);
    feed(p, [0, 0, 0, 40]);
    expect(p.predict()).toBe(40);
  });

  it('constant: zeros after traffic are kept, and resetIdleSkip re-arms the skip', () => {
    const p = make('constant');
    feed(p, [10, 0]);
    expect(p.predict()).toBe(0);
    p.observe(25);
    p.resetIdleSkip();
    feed(p, [0, 0]);
    expect(p.predict()).toBe(25);
    p.observe(7);
    expect(p.predict()).toBe(7);
  });

  it.each(PREDICTORS)('%s: NaN and Infinity read as 0 and never reach the forecast', (kind) => {
    const p = make(kind);
    feed(p, [NaN, Infinity, -Infinity]);
    expect(p.predict()).toBe(0);
    const values = [50, 60, NaN, 55, Infinity, 52, 58, -Infinity, 61, 57, 59, 54, 60, 58];
    for (const v of values) {
      p.observe(v);
      expect(Number.isFinite(p.predict())).toBe(true);
    }
    if (kind === 'constant') {
      p.observe(NaN);
      expect(p.predict()).toBe(0);
    }
  });
});

describe('kalman', () => {
  it('converges to a linear ramp: forecast = next value, within 0.1%', () => {
    const ramp = Array.from({ length: 40 }, (_, i) => 200 + 25 * i);
    const forecasts = oneStep(make('kalman'), ramp, 1);
    // Later forecasts track the trend; the last ones are essentially exact.
    for (let i = 25; i < ramp.length; i++) expect(Math.abs(forecasts[i - 1] - ramp[i]) / ramp[i]).toBeLessThan(1e-3);
    // Constant is always one step (25) behind.
    const constant = oneStep(make('constant'), ramp, 1);
    expect(ramp[39] - constant[38]).toBe(25);
  });

  it('first step from P0 = 1000·I: hand-computed gain', () => {
    // After [z0] the filter advances once: P = [[2001, 1000], [1000, 1000.1]]; the update with
    // z1 uses K = [2001, 1000] / (2001 + r).
    const p = make('kalman');
    p.observe(100);
    expect(p.predict()).toBe(100);
    p.observe(200);
    const r = 10;
    const level = 100 + (100 * 2001) / (2001 + r);
    const trend = (100 * 1000) / (2001 + r);
    expect(p.predict()).toBeCloseTo(level + trend, 9);
  });

  it('repeated predict() calls return the cached forecast and do not advance the filter', () => {
    const a = make('kalman');
    const b = make('kalman');
    const series = [100, 130, 90, 160, 150, 170, 120];
    for (const v of series) {
      a.observe(v);
      b.observe(v);
      const once = a.predict();
      expect(b.predict()).toBe(once);
      expect(b.predict()).toBe(once);
    }
  });

  it('raw forecast is unclamped like the original (negative on a falling trend); clamp and log1p are not', () => {
    const falling = [1000, 800, 600, 400, 200, 1];
    const raw = make('kalman');
    feed(raw, falling);
    expect(raw.predict()).toBeLessThan(0);
    const clamped = make('kalman', {}, true);
    feed(clamped, falling);
    expect(clamped.predict()).toBe(0);
    const log = make('kalman', { load_predictor_log1p: true });
    feed(log, falling);
    expect(log.predict()).toBeGreaterThanOrEqual(0);
  });

  it('kalman_r trades responsiveness: a low r follows a step faster than a high r', () => {
    const step = [...Array(10).fill(100), ...Array(3).fill(300)];
    const fast = make('kalman', { kalman_r: 0.1 });
    const slow = make('kalman', { kalman_r: 1000 });
    feed(fast, step);
    feed(slow, step);
    expect(Math.abs(fast.predict() - 300)).toBeLessThan(Math.abs(slow.predict() - 300));
  });
});

describe('arima', () => {
  it('with fewer than 5 points forecasts the last value', () => {
    const p = make('arima');
    feed(p, [10, 30, 20, 40]);
    expect(p.predict()).toBe(40);
  });

  it('a constant series forecasts that constant (not 0 as a bare fit would)', () => {
    const p = make('arima');
    feed(p, Array(30).fill(42));
    expect(p.predict()).toBe(42);
  });

  it('follows a linear ramp within 1%', () => {
    const ramp = Array.from({ length: 40 }, (_, i) => 500 + 20 * i);
    const p = make('arima');
    feed(p, ramp);
    expect(Math.abs(p.predict() - 1300) / 1300).toBeLessThan(0.01);
  });

  it('beats constant on an AR(1) series by using the mean reversion', () => {
    const u = uniform(11);
    const y = [100];
    for (let i = 1; i < 250; i++) y.push(100 + 0.6 * (y[i - 1] - 100) + (u() - 0.5) * 40);
    // Forecasts from point 60 on: the order is selected on 60 points, as a short warm-up gives.
    const arima = meanAbs(oneStep(make('arima'), y, 60), y.slice(60));
    const constant = meanAbs(oneStep(make('constant'), y, 60), y.slice(60));
    expect(arima).toBeLessThan(0.95 * constant);
  });

  it('between re-fits, new points move the forecast through the fitted model', () => {
    const u = uniform(11);
    const y = [100];
    for (let i = 1; i < 60; i++) y.push(100 + 0.7 * (y[i - 1] - 100) + (u() - 0.5) * 20);
    const p = new ArimaPredictor({ log1p: false, refitEvery: 1000 });
    feed(p, y);
    const before = p.predict();
    p.observe(400);
    const after = p.predict();
    // An AR(0.7) model carries most of a +300 shock into the next interval.
    expect(after - before).toBeGreaterThan(100);
    expect(after).toBeLessThan(400);
  });

  it('switches to log1p for good when the raw order collapses to p = q = 0', () => {
    // A clean ramp differences to a constant: (0,1,0) with drift is the best raw model.
    const p = new ArimaPredictor({ log1p: false });
    feed(p, Array.from({ length: 30 }, (_, i) => 100 + 10 * i));
    const f = p.predict();
    expect(p.describe()?.log1p).toBe(true);
    expect(Math.abs(f - 400) / 400).toBeLessThan(0.01);
    // More data later does not switch back.
    feed(p, [400, 410, 420]);
    p.predict();
    expect(p.describe()?.log1p).toBe(true);
  });

  it('stays in raw space when the raw order has AR or MA terms', () => {
    const u = uniform(11);
    const y = [100];
    for (let i = 1; i < 60; i++) y.push(100 + 0.8 * (y[i - 1] - 100) + (u() - 0.5) * 40);
    const p = new ArimaPredictor({ log1p: false });
    feed(p, y);
    p.predict();
    const chosen = p.describe()!;
    expect(chosen.order.p + chosen.order.q).toBeGreaterThan(0);
    expect(chosen.log1p).toBe(false);
  });

  it('a re-selection around the current order makes fewer fits and keeps a locally best order', () => {
    const u = uniform(5);
    const y = [100];
    for (let i = 1; i < 64; i++) y.push(100 + 0.6 * (y[i - 1] - 100) + (u() - 0.5) * 40);
    const fit = ArimaFit.fit;
    let fits = 0;
    ArimaFit.fit = (...args: Parameters<typeof fit>) => {
      fits++;
      return fit(...args);
    };
    try {
      const full = selectOrder(y);
      const fullFits = fits;
      fits = 0;
      const around = selectOrder(y, { p: full.order.p, q: full.order.q });
      expect(around).toEqual(full);
      expect(fits).toBeLessThan(fullFits);
      // From another starting order it moves downhill in AIC: never ends worse than it started.
      const d = selectDifferencing(y);
      const start = fitAndForecast(y, { p: 0, d, q: 3 });
      const startAic = (y.length - d) * Math.log(start.sigma2) + 2 * (3 + 1 + (d < 2 ? 1 : 0));
      const fromFar = selectOrder(y, { p: 0, q: 3 });
      expect(fromFar.aic).toBeLessThan(startAic);
    } finally {
      ArimaFit.fit = fit;
    }
  });

  it('KPSS: a random walk is differenced, white noise is not', () => {
    const u = uniform(9);
    const noise = Array.from({ length: 200 }, () => u());
    const walk: number[] = [0];
    for (let i = 1; i < 200; i++) walk.push(walk[i - 1] + u() - 0.5);
    expect(kpssStatistic(noise)).toBeLessThan(0.463);
    expect(selectDifferencing(noise)).toBe(0);
    expect(selectDifferencing(walk)).toBeGreaterThanOrEqual(1);
  });

  it('bounds its history: 2000 points leave at most 2 windows stored and forecasts stay sane', () => {
    const p = new ArimaPredictor({ log1p: false, refitWindow: 50 });
    const u = uniform(3);
    for (let i = 0; i < 2000; i++) p.observe(500 + 200 * Math.sin(i / 8) + 20 * u());
    const f = p.predict();
    expect(f).toBeGreaterThan(200);
    expect(f).toBeLessThan(800);
    expect(p.historyLength()).toBeLessThanOrEqual(100);
  });
});

describe('prophet (seasonal stand-in)', () => {
  it('logs once per sink that it stands in for Prophet', () => {
    const lines: string[] = [];
    const log = (m: string) => lines.push(m);
    for (let i = 0; i < 3; i++) createPredictor('prophet', config, { log });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/stands in/);
  });

  it('a pure sine with period 12: season found and forecasts exact once two seasons are in the window', () => {
    const sine = Array.from({ length: 60 }, (_, i) => 500 + 200 * Math.sin((2 * Math.PI * i) / 12));
    const p = new SeasonalPredictor({ windowSize: 50, log1p: false });
    const forecasts = oneStep(p, sine, 24);
    expect(p.detectedSeason()).toBe(12);
    for (let i = 24; i < sine.length; i++) expect(Math.abs(forecasts[i - 24] - sine[i])).toBeLessThan(1e-6);
    // Kalman (trend only) cannot follow it.
    const kalman = oneStep(make('kalman'), sine, 24);
    expect(meanAbs(kalman, sine.slice(24))).toBeGreaterThan(50);
  });

  it('a seasonal series with noise: clearly better than constant', () => {
    const u = uniform(21);
    const y = Array.from({ length: 120 }, (_, i) => 300 + 100 * Math.sin((2 * Math.PI * i) / 10) + 15 * (u() - 0.5));
    const seasonal = meanAbs(oneStep(make('prophet'), y, 40), y.slice(40));
    const constant = meanAbs(oneStep(make('constant'), y, 40), y.slice(40));
    expect(seasonal).toBeLessThan(0.5 * constant);
  });

  it('keeps only prophet_window_size points: an old level is forgotten', () => {
    const p = make('prophet', { prophet_window_size: 10 });
    feed(p, [...Array(40).fill(1000), ...Array(10).fill(50)]);
    expect(p.predict()).toBeCloseTo(50, 6);
  });
});

describe('every predictor on known series', () => {
  const u = uniform(77);
  const noise = Array.from({ length: 120 }, () => 400 + 100 * (u() - 0.5));

  it.each(PREDICTORS)('%s: white noise gives no wild forecast (within the data range ± its width)', (kind) => {
    const forecasts = oneStep(make(kind), noise, 1);
    for (const f of forecasts) {
      expect(f).toBeGreaterThan(250);
      expect(f).toBeLessThan(550);
    }
  });

  it.each(PREDICTORS)('%s: zeros then a burst: the idle start is ignored, the burst is followed', (kind) => {
    const p = make(kind);
    feed(p, Array(20).fill(0));
    p.observe(800);
    expect(p.predict()).toBe(800);
    feed(p, [820, 790, 810, 805, 795, 800, 815]);
    const f = p.predict();
    expect(f).toBeGreaterThan(700);
    expect(f).toBeLessThan(900);
  });

  it.each(PREDICTORS)('%s: a constant series forecasts the constant', (kind) => {
    const p = make(kind);
    feed(p, Array(30).fill(123));
    expect(p.predict()).toBeCloseTo(123, 6);
  });
});

describe('property: no NaN, no negative load', () => {
  const value = fc.oneof(
    { weight: 8, arbitrary: fc.double({ min: 0, max: 1e6, noNaN: true }) },
    { weight: 2, arbitrary: fc.constant(0) },
    { weight: 1, arbitrary: fc.constantFrom(NaN, Infinity, -Infinity) },
  );

  for (const kind of PREDICTORS) {
    const runs = kind === 'arima' ? 25 : 200;
    const maxLength = kind === 'arima' ? 30 : 80;
    it(`${kind} (clamp on; log1p on or off)`, () => {
      fc.assert(
        fc.property(fc.array(value, { maxLength }), fc.boolean(), (values, log1p) => {
          const p = make(kind, { load_predictor_log1p: log1p }, true);
          for (const v of values) {
            p.observe(v);
            const f = p.predict();
            if (!(Number.isFinite(f) && f >= 0)) return false;
          }
          return true;
        }),
        { numRuns: runs, seed: 42 },
      );
    });
  }

  for (const kind of ['constant', 'arima', 'prophet'] as const) {
    it(`${kind} never needs the clamp`, () => {
      fc.assert(
        fc.property(fc.array(value, { maxLength: kind === 'arima' ? 30 : 80 }), (values) => {
          const p = make(kind);
          for (const v of values) {
            p.observe(v);
            const f = p.predict();
            if (!(Number.isFinite(f) && f >= 0)) return false;
          }
          return true;
        }),
        { numRuns: kind === 'arima' ? 25 : 200, seed: 7 },
      );
    });
  }

  it('kalman raw: finite always (it may be negative, as the original)', () => {
    fc.assert(
      fc.property(fc.array(value, { maxLength: 80 }), (values) => {
        const p = make('kalman');
        for (const v of values) {
          p.observe(v);
          if (!Number.isFinite(p.predict())) return false;
        }
        return true;
      }),
      { numRuns: 200, seed: 3 },
    );
  });
});

describe('warmUpPredictors', () => {
  it('feeds the bucketed trace, then re-arms the idle skip', async () => {
    const predictors = { numReq: make('constant'), isl: make('constant'), osl: make('constant') };
    // small.jsonl at 10 s: counts 3, 1, 0, 2; mean ISL 200, 1000, 0, 50; mean OSL 20, 50, 0, 6
    const n = await warmUpPredictors(predictors, 'test/fixtures/traces/small.jsonl', 10);
    expect(n).toBe(4);
    expect(predictors.numReq.predict()).toBe(2);
    expect(predictors.isl.predict()).toBe(50);
    expect(predictors.osl.predict()).toBe(6);
    // Post-deploy idle intervals are skipped even though history exists.
    predictors.numReq.observe(0);
    expect(predictors.numReq.predict()).toBe(2);
  });

  it('kalman warmed on a ramp forecasts its continuation', async () => {
    const predictors = { numReq: make('kalman'), isl: make('kalman'), osl: make('kalman') };
    await warmUpPredictors(predictors, 'test/fixtures/traces/small.jsonl', 10);
    expect(Number.isFinite(predictors.numReq.predict())).toBe(true);
  });
});
