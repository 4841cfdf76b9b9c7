// `npm run bench:predict [-- --traces <dir>]`: one-step-ahead forecast accuracy and cost of every
// load predictor on the public traces (default ../shared/traces) at 60 s and 180 s intervals,
// against `constant` measured in the same run. Writes bench/results/predict.json and predict.md.
//
// Targets (issue 4): the best predictor beats constant on sMAPE of the request count by >= 10% on
// every trace; every predictor's forecast costs < 5 ms at the 95th percentile.
import { existsSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { plannerConfigSchema, PREDICTORS, type PredictorKind } from '../src/config/schema.js';
import type { PredictorSettings } from '../src/predict/index.js';
import { scorePredictor, FORECAST_SERIES, type PredictorScores } from '../src/predict/evaluate.js';
import { readTrace, bucketTrace, type TraceBucket } from '../src/trace/read.js';
import { benchDataDir, referenceLoopMs } from './args.js';

const TRACE_DIR = benchDataDir('bench:predict', 'traces', '../shared/traces', /\.jsonl(\.gz)?$/, 'request traces (.jsonl, .jsonl.gz)');
const OUT_DIR = resolve('bench/results');
const INTERVALS_S = [60, 180];
const MIN_SCORED_INTERVALS = 10;
const SHORT_TRACE_INTERVAL_S = 10;
const SMAPE_TARGET = 0.9;
const P95_TARGET_MS = 5;

interface Variant {
  label: string;
  kind: PredictorKind;
  settings: PredictorSettings;
}

const defaults = plannerConfigSchema.parse({});
const VARIANTS: Variant[] = [
  ...PREDICTORS.map((kind) => ({ label: kind, kind, settings: defaults })),
  { label: 'kalman log1p', kind: 'kalman', settings: plannerConfigSchema.parse({ load_predictor_log1p: true }) },
  { label: 'kalman r=1000', kind: 'kalman', settings: plannerConfigSchema.parse({ kalman_r: 1000 }) },
];

interface Row {
  source: string;
  interval_s: number;
  intervals: number;
  read_s: number;
  predictors: Record<string, PredictorScores>;
  /** Best variant on num_req sMAPE and its ratio to constant (< 0.9 meets the target). */
  best: string;
  best_vs_constant: number;
  verdict: 'pass' | 'fail' | 'too short';
}

async function bucketsOf(path: string, intervalS: number): Promise<{ buckets: TraceBucket[]; readS: number; requests: number }> {
  const start = performance.now();
  const buckets: TraceBucket[] = [];
  let requests = 0;
  for await (const b of bucketTrace(readTrace(path), intervalS)) {
    buckets.push(b);
    requests += b.request_count;
  }
  return { buckets, readS: (performance.now() - start) / 1000, requests };
}

/**
 * The 14-day real rate series (t_s, rps per 10 min) as request-count intervals. Windows with
 * rps = 0 are telemetry gaps, not idle time (../shared/traces/README.md), so they are dropped
 * rather than scored as traffic.
 */
function rateSeries(path: string): { buckets: TraceBucket[]; gaps: number } {
  const lines = readFileSync(path, 'utf8').trim().split('\n').slice(1);
  const all = lines.map((line) => {
    const [t, rps] = line.split(',').map(Number);
    return { start_s: t, request_count: rps * 600, avg_isl: 0, avg_osl: 0 };
  });
  const buckets = all.filter((b) => b.request_count > 0);
  return { buckets, gaps: all.length - buckets.length };
}

function score(source: string, intervalS: number, buckets: TraceBucket[], readS: number, variants: Variant[]): Row {
  const predictors: Record<string, PredictorScores> = {};
  for (const v of variants) predictors[v.label] = scorePredictor(buckets, v.kind, v.settings, { log: () => {} });
  const constant = predictors.constant.num_req.smape;
  let best = 'constant';
  for (const [label, s] of Object.entries(predictors)) if (s.num_req.smape < predictors[best].num_req.smape) best = label;
  const ratio = constant > 0 ? predictors[best].num_req.smape / constant : 1;
  const scored = predictors.constant.num_req.n;
  return {
    source,
    interval_s: intervalS,
    intervals: buckets.length,
    read_s: readS,
    predictors,
    best,
    best_vs_constant: ratio,
    verdict: scored < MIN_SCORED_INTERVALS ? 'too short' : ratio <= SMAPE_TARGET ? 'pass' : 'fail',
  };
}

const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);

function table(row: Row): string[] {
  const constant = row.predictors.constant;
  const out = [
    `#### ${row.source} @ ${row.interval_s} s (${row.intervals} intervals; best on request count: ${row.best}, ${f2(row.best_vs_constant)}x constant's sMAPE: ${row.verdict})`,
    '',
    '| predictor | req sMAPE % | req vs const | req MAE | req under | ISL sMAPE % | OSL sMAPE % | ISL under | OSL under | p95 ms | max ms |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const [label, s] of Object.entries(row.predictors)) {
    const p95 = Math.max(...FORECAST_SERIES.map((k) => s[k].p95_predict_ms));
    const slowest = Math.max(...FORECAST_SERIES.map((k) => s[k].max_predict_ms));
    const vs = constant.num_req.smape > 0 ? s.num_req.smape / constant.num_req.smape : 1;
    const isl = row.source.includes('rate') ? '-' : f1(s.isl.smape);
    const osl = row.source.includes('rate') ? '-' : f1(s.osl.smape);
    out.push(`| ${label} | ${f1(s.num_req.smape)} | ${f2(vs)} | ${f1(s.num_req.mae)} | ${f2(s.num_req.under_rate)} | ${isl} | ${osl} | ${row.source.includes('rate') ? '-' : f2(s.isl.under_rate)} | ${row.source.includes('rate') ? '-' : f2(s.osl.under_rate)} | ${p95.toFixed(3)} | ${slowest.toFixed(1)} |`);
  }
  out.push('');
  return out;
}

async function main(): Promise<void> {
  const started = performance.now();
  const traceFiles = readdirSync(TRACE_DIR).filter((f) => /\.jsonl(\.gz)?$/.test(f)).sort();
  const rows: Row[] = [];
  for (const file of traceFiles) {
    // A trace too short for 10 scored intervals at 60 s is also scored at SHORT_TRACE_INTERVAL_S.
    const intervals = [...INTERVALS_S];
    for (let k = 0; k < intervals.length; k++) {
      const intervalS = intervals[k];
      const { buckets, readS, requests } = await bucketsOf(join(TRACE_DIR, file), intervalS);
      const row = score(file, intervalS, buckets, readS, VARIANTS);
      rows.push(row);
      console.log(`${file} @ ${intervalS} s: ${requests} requests read in ${f2(readS)} s (${Math.round(requests / readS)} req/s), ${buckets.length} intervals`);
      for (const line of table(row)) console.log(line);
      if (intervalS === INTERVALS_S[0] && row.verdict === 'too short') intervals.push(SHORT_TRACE_INTERVAL_S);
    }
  }
  // The real 14-day aggregate rate series: forecasting over days, where a window that holds a day
  // lets the seasonal model see the diurnal cycle (144 ten-minute points).
  const rateVariants: Variant[] = [
    ...VARIANTS,
    { label: 'prophet w=400', kind: 'prophet', settings: plannerConfigSchema.parse({ prophet_window_size: 400 }) },
  ];
  const rateDir = join(TRACE_DIR, 'rates');
  const rateFiles = existsSync(rateDir) ? readdirSync(rateDir).filter((f) => f.endsWith('.csv')).sort() : [];
  if (rateFiles.length === 0) console.log(`no rate series in ${rateDir}: the 14-day rate tables are skipped`);
  for (const file of rateFiles) {
    const { buckets, gaps } = rateSeries(join(rateDir, file));
    const row = score(`rates/${file}`, 600, buckets, 0, rateVariants);
    console.log(`rates/${file}: ${buckets.length} ten-minute windows, ${gaps} telemetry gaps dropped`);
    rows.push(row);
    for (const line of table(row)) console.log(line);
  }

  const maxP95: Record<string, number> = {};
  for (const row of rows) {
    for (const [label, s] of Object.entries(row.predictors)) {
      maxP95[label] = Math.max(maxP95[label] ?? 0, ...FORECAST_SERIES.map((k) => s[k].p95_predict_ms));
    }
  }
  const elapsedS = (performance.now() - started) / 1000;
  // Forecast costs are also given as multiples of a fixed loop timed in this run (see referenceLoopMs).
  const referenceMs = referenceLoopMs();
  const summary = {
    smape_target: `best <= ${SMAPE_TARGET} x constant on request-count sMAPE`,
    smape_verdicts: rows.map((r) => ({ source: r.source, interval_s: r.interval_s, best: r.best, best_vs_constant: Number(r.best_vs_constant.toFixed(3)), verdict: r.verdict })),
    p95_target_ms: P95_TARGET_MS,
    max_p95_predict_ms: Object.fromEntries(Object.entries(maxP95).map(([k, v]) => [k, Number(v.toFixed(3))])),
    reference_loop_ms: Number(referenceMs.toFixed(3)),
    max_p95_vs_reference: Object.fromEntries(Object.entries(maxP95).map(([k, v]) => [k, Number((v / referenceMs).toFixed(2))])),
    p95_verdict: Object.fromEntries(Object.entries(maxP95).map(([k, v]) => [k, v < P95_TARGET_MS ? 'pass' : 'fail'])),
    elapsed_s: Number(elapsedS.toFixed(1)),
    node: process.version,
  };
  console.log(JSON.stringify(summary, null, 2));

  mkdirSync(OUT_DIR, { recursive: true });
  writeFileSync(join(OUT_DIR, 'predict.json'), JSON.stringify({ summary, rows }, null, 2) + '\n');
  const md = [
    '# Load predictor accuracy (`npm run bench:predict`)',
    '',
    `Generated by bench/predict.ts on ${new Date().toISOString().slice(0, 10)} (node ${process.version}, ${f1(elapsedS)} s). One-step-ahead forecasts of`,
    'request count, mean ISL and mean OSL per interval, default PlannerConfig settings unless the label says otherwise.',
    'sMAPE in percent; "under" = fraction of intervals forecast below the actual (what breaks SLAs); p95 = 95th percentile',
    'of one predict() call and max = slowest call (the largest over the three series). Traces from ../shared/traces',
    '(see its README); the 14-day rate series have their telemetry gaps (rps = 0) dropped.',
    '',
    '## Summary',
    '',
    SUMMARY_PARAGRAPH,
    '',
    '| source | interval | best on request count | vs constant | target (<= 0.90) |',
    '|---|---:|---|---:|---|',
    ...rows.map((r) => `| ${r.source} | ${r.interval_s} s | ${r.best} | ${f2(r.best_vs_constant)} | ${r.verdict} |`),
    '',
    `p95 cost per forecast, worst case over all runs (target < ${P95_TARGET_MS} ms), and as a multiple of a reference loop timed in the same run (${referenceMs.toFixed(2)} ms): ` +
      Object.entries(maxP95).map(([k, v]) => `${k} ${v.toFixed(2)} ms (${(v / referenceMs).toFixed(1)}x)`).join(', ') + '.',
    '',
    '## Tables',
    '',
    ...rows.flatMap(table),
  ].join('\n');
  writeFileSync(join(OUT_DIR, 'predict.md'), md + '\n');
  console.log(`wrote ${join(OUT_DIR, 'predict.json')} and predict.md in ${f1(elapsedS)} s`);
}

// Written from the tables of this benchmark (re-read them after changing a predictor).
const SUMMARY_PARAGRAPH = [
  '**Which load predictor?** On smooth diurnal traffic (the 24 h ServeGen traces, 60-180 s intervals) `kalman` is the',
  'best default: about 8-13 % lower request-count sMAPE than `constant`, and 13-15 % with `kalman_r` raised toward the',
  'per-interval count variance (`kalman_r: 1000` here; the default 10 is far below the Poisson noise of hundreds of',
  'requests per interval, so the filter barely smooths) or with `load_predictor_log1p: true`. On bursty on/off traffic',
  '(the Azure code trace) `arima` is the best at 60 s (0.87x constant) thanks to its log1p switch, while a default',
  '`kalman` is worse than `constant` there; at 180 s a `kalman` with a large `kalman_r` wins (0.75x). The `prophet`',
  'stand-in (Holt-Winters / damped trend over `prophet_window_size` points) tracks `kalman` within a point of sMAPE and',
  'only finds a season when the window holds two of them. All predictors under-forecast about half of the intervals:',
  'they are unbiased, so SLA headroom must come from the SLA targets, not from the forecast. On the 14-day 10-minute',
  'aggregate rates nothing beats `constant` (the next 10 minutes look most like the last; the daily cycle is weak:',
  'lag-24 h autocorrelation 0.31-0.49), so the 10 % target is missed there, by every predictor. The 177 s Mooncake',
  'excerpt has only 3 intervals at 60 s and 1 at 180 s; at 10 s `arima` is best (0.83x). Cost: `constant`, `kalman`',
  'and the `prophet` stand-in take well under 0.1 ms per forecast on the long traces (p95; up to ~3 ms on the short',
  'ones); `arima` re-fits through the wasm `arima` package every 4 points (1-8 ms per fit depending on CPU',
  'contention) and re-selects its order every 64 points (13-180 ms, the max column). Its p95 was 0.2-2.2 ms on the',
  'long traces on a quiet machine (up to 8 ms with the 2 cores shared) and 8-21 ms on the 57-interval Azure run,',
  'where the order selections fall in the slowest 5 %: it misses the 5 ms p95 target on short traces and under load.',
].join('\n');

main().catch((err) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
