// Closed loop vs simulate: the daemon (`run`, virtual environment) reading a real Prometheus that
// scrapes the mocker every second, writing decisions to a real etcd that the mocker fleet obeys,
// while `replay` sends a slice of a shared trace as streaming HTTP; then `simulate` (in process, the
// same code as the command) on the same slice, config, cold start and initial replicas. Side by
// side: SLA attainment, GPU-hours and the throughput loop's decisions, per slice and strategy.
// Usage: npm run bench:closed-loop -- --traces <dir> [--duration-s 240] [--strategies sla,upstream] [--slices azure2023_code,servegen_mmid_day4] [--repeat 1]
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EtcdJson } from '../src/actuate/etcd.js';
import { resolveConfig } from '../src/config/index.js';
import { loadInterpolators, runSimulation } from '../src/sim/index.js';
import { benchFlag, benchNumber } from './args.js';
import { freePort, startEtcd, startPrometheus, waitFor, type Managed } from './procs.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
const CLI = join(ROOT, 'dist/src/cli.js');
const PROFILE = join(ROOT, 'test/fixtures/h100/llama-3.1-8b/npz');
const TRACES = resolve(benchFlag('traces') ?? join(ROOT, '../shared/traces'));
const OUT = resolve(benchFlag('out') ?? join(ROOT, 'bench/results'));
const DURATION_S = benchNumber('bench/closed-loop', 'duration-s', 240, { min: 30 });
const STRATEGIES = (benchFlag('strategies') ?? 'sla,upstream').split(',');
/** Runs per slice and strategy: the loop's timing differs run to run, simulate's does not. */
const REPEAT = benchNumber('bench/closed-loop', 'repeat', 1, { min: 1, integer: true });
const INTERVAL_S = 30;
const COLD_START_S = 20;
const NS = 'loop-ns';
const P = `v1/${NS}/planner/`;

/** Two slices of shared traces, scaled so that one mocker, the daemon, Prometheus, etcd and the load generator fit on 2 cores. */
const SLICES = [
  // Minutes 28-32 of the hour: traffic all through (the trace has idle minutes elsewhere).
  { name: 'azure2023_code', file: 'azure2023_code_1h.jsonl', startS: 1680, loadScale: 1.5, ttftMs: 500, itlMs: 12 },
  { name: 'servegen_mmid_day4', file: 'servegen_mmid_day4_24h_recon.jsonl.gz', startS: 43_200, loadScale: 2.5, ttftMs: 200, itlMs: 10 },
];

if (!existsSync(TRACES)) {
  process.stderr.write(`bench/closed-loop: the traces directory ${TRACES} does not exist; pass --traces <dir> holding ${SLICES.map((s) => s.file).join(' and ')}.\n`);
  process.exit(2);
}
for (const s of SLICES) {
  if (!existsSync(join(TRACES, s.file))) {
    process.stderr.write(`bench/closed-loop: ${join(TRACES, s.file)} is missing; pass --traces <dir> holding ${SLICES.map((x) => x.file).join(' and ')}.\n`);
    process.exit(2);
  }
}
if (STRATEGIES.some((s) => s !== 'sla' && s !== 'upstream')) {
  process.stderr.write('bench/closed-loop: --strategies takes a comma-separated list of sla and upstream.\n');
  process.exit(2);
}
if (!existsSync(CLI)) {
  process.stderr.write(`bench/closed-loop: ${CLI} is missing; run 'npm run build' first.\n`);
  process.exit(2);
}

interface Proc { child: ChildProcess; out: string[]; err: string[]; exit: Promise<number | null> }

/** Everything this run has started and not yet stopped, stopped on Ctrl-C or SIGTERM too. */
const running = new Set<() => Promise<void>>();
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    void Promise.all([...running].map((stopOne) => stopOne())).then(() => process.exit(1));
  });
}

function cli(args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: string[] = [];
  const err: string[] = [];
  child.stdout!.on('data', (d) => out.push(String(d)));
  child.stderr!.on('data', (d) => err.push(String(d)));
  const exit = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  const p = { child, out, err, exit };
  const stopThis = () => stop(p);
  running.add(stopThis);
  void exit.then(() => running.delete(stopThis));
  return p;
}

/** Stop one child we started, by its PID (SIGTERM, SIGKILL after 5 s). */
async function stop(p: Proc | undefined): Promise<void> {
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
  const t = setTimeout(() => p.child.kill('SIGKILL'), 5000);
  p.child.kill('SIGTERM');
  await p.exit;
  clearTimeout(t);
}

const jsonLines = (p: Proc) => p.out.join('').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, any>);
type Counts = { prefill: number; decode: number };
const fmt = (c: Counts) => `${c.prefill}/${c.decode}`;

interface Row {
  slice: string;
  strategy: string;
  requests: number;
  loop: { sla_attainment: number; gpu_hours: number; ttft_p50_ms: number | null; itl_mean_ms: number | null; dropped: number; unfinished: number; targets: string[] };
  simulate: { sla_attainment: number; gpu_hours: number; ttft_p50_ms: number | null; itl_mean_ms: number | null; targets: string[] };
  ticks_equal: number;
  ticks_within_one: number;
  ticks: number;
  decisions_written: number;
  decisions_acknowledged: boolean;
  /** Every decision the daemon logged (both loops), for reading the table's targets against. */
  daemon_decisions: Array<{ loop: string; decided: boolean; target: unknown; reason: unknown }>;
}

async function closedLoop(slice: (typeof SLICES)[number], strategy: string): Promise<Row> {
  const trace = join(TRACES, slice.file);
  const base = {
    namespace: NS, model_name: 'mock-model', ttft: slice.ttftMs, itl: slice.itlMs, throughput_adjustment_interval: INTERVAL_S, strategy,
    max_gpu_budget: 16, min_endpoint: 1, prefill_engine_num_gpu: 1, decode_engine_num_gpu: 1, profile_results_dir: PROFILE,
  };
  const shaping = { startS: slice.startS, durationS: DURATION_S, loadScale: slice.loadScale };
  const sliceArgs = ['--start', String(slice.startS), '--duration', String(DURATION_S), '--load-scale', String(slice.loadScale)];
  let etcd: Managed | undefined;
  let prom: Managed | undefined;
  let mocker: Proc | undefined;
  let daemon: Proc | undefined;
  let replay: Proc | undefined;
  try {
    etcd = await startEtcd();
    running.add(etcd.stop);
    const client = new EtcdJson(etcd.url);
    // A deployment running 1 prefill + 1 decode worker, its last decision acknowledged.
    for (const [k, v] of [['num_prefill_workers', '1'], ['num_decode_workers', '1'], ['decision_id', '0'], ['scaled_decision_id', '0']]) await client.put(P + k, v);
    const port = await freePort();
    const mockUrl = `http://127.0.0.1:${port}`;
    prom = await startPrometheus([{ address: `127.0.0.1:${port}`, labels: { dynamo_namespace: NS } }]);
    running.add(prom.stop);
    mocker = cli(['mocker', '--profile-dir', PROFILE, '--port', String(port), '--model', 'mock-model', '--prefill', '1', '--decode', '1',
      '--cold-start', String(COLD_START_S), '--etcd-endpoints', etcd.url, '--namespace', NS, '--poll-ms', '250']);
    await waitFor(async () => (await fetch(`${mockUrl}/health`)).ok, 15_000, 'mocker up');
    await waitFor(async () => {
      const r = (await (await fetch(`${prom!.url}/api/v1/query?query=up`)).json()) as any;
      return r.data.result.some((s: any) => s.value[1] === '1');
    }, 15_000, 'first scrape');
    daemon = cli(['run', '--config', JSON.stringify({ ...base, environment: 'virtual', metric_pulling_prometheus_endpoint: prom.url, load_router_metrics_url: `${mockUrl}/metrics` }), '--etcd-endpoints', etcd.url,
      '--metrics-port', '0'], { SCALING_CHECK_INTERVAL: '1' });
    await waitFor(async () => jsonLines(daemon!).some((l) => l.event === 'started') || daemon!.child.exitCode !== null, 15_000, 'daemon started');
    if (daemon.child.exitCode !== null) throw new Error(`the daemon exited ${daemon.child.exitCode}: ${daemon.err.join('').trim()}`);
    // GPU-hours over the window simulate integrates: from the replay's t = 0 to the slice's end.
    const gpuSeconds = async () => Number(/^sla_mocker_gpu_seconds_total (\S+)$/m.exec(await (await fetch(`${mockUrl}/metrics`)).text())![1]);
    const gpuAtStart = await gpuSeconds();
    const startedMs = performance.now();
    replay = cli(['replay', '--trace', trace, '--url', mockUrl, ...sliceArgs, '--ttft', String(slice.ttftMs), '--itl', String(slice.itlMs)]);
    const code = await replay.exit;
    if (code !== 0) throw new Error(`replay exited ${code}: ${replay.err.join('').trim()}`);
    const summary = JSON.parse(replay.out.join(''));
    await new Promise((r) => setTimeout(r, Math.max(0, startedMs + DURATION_S * 1000 - performance.now())));
    const loopGpuHours = (await gpuSeconds() - gpuAtStart) / 3600;
    const ticks = Math.ceil(DURATION_S / INTERVAL_S);
    const throughput = () => jsonLines(daemon!).filter((l) => l.event === 'decision' && l.loop === 'throughput');
    // A tick that scales waits for the new workers (blocking scaling), so ticks can fall behind the
    // trace's clock: wait a while for the last ones, then compare the ticks there are.
    await waitFor(async () => throughput().length >= ticks, 1000 * (INTERVAL_S + COLD_START_S + 10), `${ticks} throughput ticks`).catch(() => undefined);
    // The fleet acknowledges the last decision once its workers are ready: a cold start at most.
    let keys: Record<string, string> = {};
    await waitFor(async () => {
      keys = await client.getPrefix(P);
      return keys[P + 'scaled_decision_id'] === keys[P + 'decision_id'];
    }, 1000 * (COLD_START_S + 5), 'the last decision acknowledged').catch(() => undefined);
    const decisions = jsonLines(daemon).filter((l) => l.event === 'decision' && l.actuation?.status === 'applied').length;
    const { config } = resolveConfig({ ...base, environment: 'kubernetes', metric_pulling_prometheus_endpoint: 'http://127.0.0.1:1' }, { env: {} });
    const sim = await runSimulation({
      config, interpolators: loadInterpolators(PROFILE), trace, policy: 'planner', shaping, coldStartS: COLD_START_S,
      initial: { prefill: 1, decode: 1 }, numReqSource: config.num_req_source, log: () => undefined, warn: () => undefined,
    });
    const simTargets = sim.timeline.map((r) => ({ prefill: r.prefill_target, decode: r.decode_target }));
    let prev: Counts = { prefill: 1, decode: 1 };
    const loopTargets = throughput().slice(0, simTargets.length).map((d) => {
      prev = d.decided && d.target ? { prefill: d.target.prefill ?? prev.prefill, decode: d.target.decode ?? prev.decode } : prev;
      return prev;
    });
    const n = Math.min(simTargets.length, loopTargets.length);
    let equal = 0;
    let within = 0;
    for (let i = 0; i < n; i++) {
      const dp = Math.abs(simTargets[i].prefill - loopTargets[i].prefill);
      const dd = Math.abs(simTargets[i].decode - loopTargets[i].decode);
      if (dp === 0 && dd === 0) equal++;
      if (dp <= 1 && dd <= 1) within++;
    }
    return {
      slice: slice.name, strategy, requests: summary.requests,
      loop: { sla_attainment: summary.sla_attainment, gpu_hours: loopGpuHours, ttft_p50_ms: summary.ttft_ms.p50, itl_mean_ms: summary.itl_ms.mean, dropped: summary.dropped, unfinished: summary.unfinished, targets: loopTargets.map(fmt) },
      simulate: { sla_attainment: sim.summary.sla_attainment, gpu_hours: sim.summary.gpu_hours, ttft_p50_ms: sim.summary.ttft_ms.p50, itl_mean_ms: sim.summary.itl_ms.mean, targets: simTargets.map(fmt) },
      ticks_equal: equal, ticks_within_one: within, ticks: n,
      decisions_written: decisions, decisions_acknowledged: keys[P + 'scaled_decision_id'] === keys[P + 'decision_id'],
      daemon_decisions: jsonLines(daemon).filter((l) => l.event === 'decision').map((d) => ({ loop: d.loop, decided: d.decided, target: d.target, reason: d.reasons ?? d.reason ?? d.binding ?? null })),
    };
  } finally {
    for (const p of [replay, daemon, mocker]) await stop(p);
    for (const m of [prom, etcd]) {
      if (!m) continue;
      running.delete(m.stop);
      await m.stop();
    }
  }
}

const r3 = (x: number | null) => (x === null ? 'n/a' : x.toFixed(3));
const r1 = (x: number | null) => (x === null ? 'n/a' : x.toFixed(1));

function markdown(rows: Row[]): string {
  const lines = [
    `| slice | strategy | requests | attainment loop / simulate | GPU-hours loop / simulate | TTFT p50 ms loop / simulate | ITL mean ms loop / simulate | targets per ${INTERVAL_S} s tick (prefill/decode), loop | simulate | ticks equal (within 1) |`,
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    lines.push(`| ${r.slice} | ${r.strategy} | ${r.requests} | ${r3(r.loop.sla_attainment)} / ${r3(r.simulate.sla_attainment)} | ${r3(r.loop.gpu_hours)} / ${r3(r.simulate.gpu_hours)} | ${r1(r.loop.ttft_p50_ms)} / ${r1(r.simulate.ttft_p50_ms)} | ${r1(r.loop.itl_mean_ms)} / ${r1(r.simulate.itl_mean_ms)} | ${r.loop.targets.join(' ')} | ${r.simulate.targets.join(' ')} | ${r.ticks_equal}/${r.ticks} (${r.ticks_within_one}/${r.ticks}) |`);
  }
  return lines.join('\n') + '\n';
}

const rows: Row[] = [];
const conditions = {
  duration_s: DURATION_S, repeat: REPEAT, throughput_adjustment_interval_s: INTERVAL_S, cold_start_s: COLD_START_S, initial: '1/1', scrape_interval_s: 1,
  profile: 'test/fixtures/h100/llama-3.1-8b/npz', slices: SLICES,
};
mkdirSync(OUT, { recursive: true });
const only = benchFlag('slices')?.split(',');
for (const strategy of STRATEGIES) {
  for (const slice of SLICES.filter((s) => !only || only.includes(s.name))) for (let run = 1; run <= REPEAT; run++) {
    process.stderr.write(`bench/closed-loop: ${slice.name} with strategy ${strategy}, run ${run} of ${REPEAT} (${DURATION_S} s of real time)...\n`);
    const row = await closedLoop(slice, strategy);
    rows.push(row);
    process.stderr.write(`${JSON.stringify(row)}\n`);
    // Written after every run, so a partial run keeps what it measured.
    writeFileSync(join(OUT, 'closed-loop.json'), JSON.stringify({ conditions, rows }, null, 2) + '\n');
    writeFileSync(join(OUT, 'closed-loop.md'), markdown(rows));
  }
}
process.stdout.write(markdown(rows));
