// Decision time per interval (throughput and load ticks, p50/p99) against a baseline measured in
// the same run, and heap after 1e6 load decisions (memory must stay flat).
//   npm run bench                      (build + run)
//   node dist/bench/decisions.js [--load-decisions 1000000] [--profile-dir <dir>]
// Targets (issue 5): throughput p99 < 1 ms, load p99 < 0.2 ms, no heap growth.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { resolveConfig } from '../src/config/index.js';
import { buildInterpolators, loadProfileDir } from '../src/profile-data/index.js';
import { Planner } from '../src/scaling/planner.js';
import type { IntervalObservation, RouterSnapshot } from '../src/scaling/observation.js';
import { benchFlag, benchNumber } from './args.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..'); // dist/bench -> repo root
const profileDir = benchFlag('profile-dir') ?? resolve(repo, 'test', 'fixtures', 'h100', 'llama-3.1-8b', 'configmap');
const LOAD_DECISIONS = benchNumber('bench/decisions', 'load-decisions', 1_000_000, { integer: true, min: 1 });

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Deterministic pseudo-random numbers so runs compare. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function quantiles(ns: Float64Array): { p50: number; p99: number; mean: number } {
  const sorted = Float64Array.from(ns).sort();
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] / 1e6;
  let sum = 0;
  for (const v of ns) sum += v;
  return { p50: at(0.5), p99: at(0.99), mean: sum / ns.length / 1e6 };
}

function timeEach(n: number, fn: (i: number) => unknown): Float64Array {
  const out = new Float64Array(n);
  let sink = 0;
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    const r = fn(i);
    out[i] = Number(process.hrtime.bigint() - t0);
    if (r !== undefined) sink++;
  }
  if (sink < 0) console.log(sink);
  return out;
}

const fmt = (ms: number) => `${(ms * 1000).toFixed(2)} µs`;

function report(label: string, t: ReturnType<typeof quantiles>, base: ReturnType<typeof quantiles>, targetMs: number) {
  const ok = t.p99 < targetMs ? 'ok' : 'OVER TARGET';
  console.log(
    `${label.padEnd(34)} p50 ${fmt(t.p50).padStart(10)}  p99 ${fmt(t.p99).padStart(10)}  (baseline p50 ${fmt(base.p50)}, p99 ${fmt(base.p99)}; ratio p99 ${(t.p99 / base.p99).toFixed(1)}x)  target p99 < ${targetMs} ms: ${ok}`,
  );
}

// --- throughput ticks ------------------------------------------------------------------------
const interpolators = buildInterpolators(loadProfileDir(profileDir));
const rand = rng(42);
const N_THPT = 20_000;
const observations: IntervalObservation[] = Array.from({ length: 1000 }, () => ({
  num_req: Math.floor(100 + rand() * 20000),
  isl: 100 + rand() * 8000,
  osl: 20 + rand() * 1500,
  ttft: 50 + rand() * 500,
  itl: 5 + rand() * 40,
  request_duration: 1 + rand() * 30,
}));
const current = { prefill: 2, decode: 3 };

function thptPlanner(predictor: 'constant' | 'kalman', correction: boolean, extra: Record<string, unknown> = {}) {
  const { config } = resolveConfig(
    { environment: 'virtual', prefill_engine_num_gpu: 1, decode_engine_num_gpu: 1, load_predictor: predictor, no_correction: !correction, max_gpu_budget: 64, ...extra },
    { env: {} },
  );
  return new Planner({ config, interpolators });
}

// Baseline: the same inputs through the demand arithmetic alone (what any planner must do),
// without forecasting, interpolation, correction or budget.
const baselineThpt = quantiles(
  timeEach(N_THPT, (i) => {
    const o = observations[i % observations.length];
    return Math.ceil(((o.num_req! * o.isl!) / 180 / 30000) + ((o.num_req! * o.osl!) / 180 / 3000));
  }),
);

console.log(`decision benchmark (profile ${profileDir}; node ${process.version})`);
const RECOMMENDED = { prefill_sizing: 'queueing', num_req_source: 'started', scale_down_window: 3, forecast_quantile: 0.9 };
for (const [predictor, correction, extra] of [['constant', false, {}], ['constant', true, {}], ['kalman', true, {}], ['kalman', false, RECOMMENDED]] as const) {
  const planner = thptPlanner(predictor, correction, extra);
  timeEach(2000, (i) => planner.decideThroughput(observations[i % observations.length], current)); // warm-up
  const t = quantiles(timeEach(N_THPT, (i) => planner.decideThroughput(observations[i % observations.length], current)));
  const label = `${predictor}${correction ? ', correction' : ''}${extra === RECOMMENDED ? ', queueing sizing + forecast quantile' : ''}`;
  report(`throughput tick (${label})`, t, baselineThpt, 1);
}

// --- load ticks ------------------------------------------------------------------------------
const { config: loadConfig } = resolveConfig(
  {
    environment: 'virtual',
    prefill_engine_num_gpu: 1,
    decode_engine_num_gpu: 1,
    enable_load_scaling: true,
    enable_throughput_scaling: false,
    load_router_metrics_url: 'http://router:8000/metrics',
    ttft: 200,
    itl: 20,
    max_gpu_budget: 64,
  },
  { env: {} },
);
const WORKERS = 4;
function snapshot(r: () => number): RouterSnapshot {
  const prefill: NonNullable<RouterSnapshot['prefill']> = {};
  const decode: NonNullable<RouterSnapshot['decode']> = {};
  for (let w = 0; w < WORKERS; w++) {
    const tokens = r() * 20000;
    const blocks = r() * 1200;
    prefill[`p${w}`] = { active_prefill_tokens: tokens, last_ttft: (20 + 0.01 * (tokens + 3000)) / 1000, last_isl: 3000 };
    decode[`d${w}`] = { active_decode_blocks: blocks, last_itl: (5 + 0.02 * blocks) / 1000 };
  }
  return { prefill, decode };
}
const lr = rng(7);
const snapshots = Array.from({ length: 500 }, () => snapshot(lr));
const windows = Array.from({ length: 490 }, (_, i) => snapshots.slice(i, i + loadConfig.load_metric_samples));
const loadCurrent = { prefill: WORKERS, decode: WORKERS };

// Baseline: the same sample windows scanned once for the per-worker maxima (the least a
// load decision must read), without regression or decision.
const baselineLoad = quantiles(
  timeEach(50_000, (i) => {
    let m = 0;
    for (const s of windows[i % windows.length]) {
      for (const g of Object.values(s.prefill!)) m = Math.max(m, g.active_prefill_tokens);
      for (const g of Object.values(s.decode!)) m = Math.max(m, g.active_decode_blocks);
    }
    return m;
  }),
);
const loadPlanner = new Planner({ config: loadConfig });
timeEach(5000, (i) => loadPlanner.decideLoad(windows[i % windows.length], loadCurrent));
const loadTimes = quantiles(timeEach(50_000, (i) => loadPlanner.decideLoad(windows[i % windows.length], loadCurrent)));
report(`load tick (${WORKERS}+${WORKERS} workers, ${loadConfig.load_metric_samples} scrapes)`, loadTimes, baselineLoad, 0.2);

// --- memory over 1e6 load decisions ------------------------------------------------------------
const memPlanner = new Planner({ config: loadConfig });
for (let i = 0; i < 10_000; i++) memPlanner.decideLoad(windows[i % windows.length], loadCurrent);
gc();
const before = process.memoryUsage().heapUsed;
const t0 = process.hrtime.bigint();
for (let i = 0; i < LOAD_DECISIONS; i++) memPlanner.decideLoad(windows[i % windows.length], loadCurrent);
const elapsedS = Number(process.hrtime.bigint() - t0) / 1e9;
gc();
const after = process.memoryUsage().heapUsed;
const growth = after - before;
const holds = memPlanner.state().holds;
console.log(
  `heap after ${LOAD_DECISIONS.toExponential(0)} load decisions: ${(before / 2 ** 20).toFixed(2)} MiB -> ${(after / 2 ** 20).toFixed(2)} MiB (growth ${(growth / 1024).toFixed(1)} KiB; ${(elapsedS * 1e6 / LOAD_DECISIONS).toFixed(2)} µs/decision)  ${Math.abs(growth) < 1024 * 1024 ? 'ok: no growth' : 'GROWTH'}`,
);
console.log(`load decisions: ${JSON.stringify(holds)} holds; the rest scaled`);
