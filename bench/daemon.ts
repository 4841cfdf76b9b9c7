// Daemon benchmark: start-up, memory and CPU of `sla-planner run`, each next to a baseline
// measured in the same run (a bare Node HTTP server: the least a daemon with /metrics costs).
//   npm run bench:daemon  [-- --idle-s 30 --window-s 20 --profile-dir config/profile --cli dist/src/cli.js --compare <cli> --repeat 3 --idle-only]
// --compare <another build's dist/src/cli.js>: that build's idle daemon (virtual) side by side in the
// same run, for before/after figures. Writes bench/results/daemon.json.
// Scenarios:
//   idle: default intervals (throughput every 180 s, no load scaling), so after the first probe
//         nothing is due: RSS and peak RSS at --idle-s, CPU per second over the --window-s after it
//         (after start-up has settled: V8 compacts the heap ~15 s after the last allocation burst).
//   idle kubernetes: the same, as the DGD sidecar (the DGD read over HTTP from a stand-in API server).
//   busy: throughput every 2 s, load every 1 s with 10 router scrapes per interval: CPU per tick.
// Targets (issue 16): idle RSS < 60 MB and idle CPU < 1 ms/s with default node flags.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { benchFlag, benchNumber } from './args.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
const CLI = resolve(benchFlag('cli') ?? join(ROOT, 'dist/src/cli.js'));
const COMPARE = benchFlag('compare') === undefined ? undefined : resolve(benchFlag('compare')!);
const PROFILE = resolve(benchFlag('profile-dir') ?? join(ROOT, 'config/profile'));
const IDLE_S = benchNumber('bench/daemon', 'idle-s', 30, { min: 2 });
const WINDOW_S = benchNumber('bench/daemon', 'window-s', 20, { min: 1 });
const BUSY_S = 10;
// RSS at a fixed time depends on whether V8's memory reducer has already run (up to ~15 MB apart
// between two runs of the same build), so the idle daemons, this build and the compared one, are
// each started REPEAT times side by side and reported by their medians.
const REPEAT = benchNumber('bench/daemon', 'repeat', 3, { min: 1 });
const TARGET = { idleRssMb: 60, idleCpuMsPerS: 1 };

function sleep(ms: number) {
  return new Promise((r) => setTimeout(r, ms));
}

function status(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/**
 * Where the resident memory sits, from /proc/<pid>/smaps: pages of the node executable (code and
 * data paged in: JIT compilers, builtins' sources), the main malloc heap, anonymous mappings (V8's
 * heap pages, other threads' malloc arenas, stacks) and the rest (shared libraries).
 */
interface RssParts { nodeBinaryMb: number; mallocHeapMb: number; anonymousMb: number; otherMb: number }
const NODE_BINARY = realpathSync(process.execPath);
function rssParts(pid: number): RssParts {
  const parts: RssParts = { nodeBinaryMb: 0, mallocHeapMb: 0, anonymousMb: 0, otherMb: 0 };
  let part: keyof RssParts = 'otherMb';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const mapping = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (mapping) {
      const name = mapping[1];
      part = name === NODE_BINARY ? 'nodeBinaryMb' : name === '[heap]' ? 'mallocHeapMb' : name === '' ? 'anonymousMb' : 'otherMb';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) parts[part] += Number(rss[1]) / 1024;
  }
  return parts;
}

/** CPU time of a process in ms (all threads), from the scheduler's nanosecond counter. */
function cpuMs(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
}

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    try {
      if (await check()) return;
    } catch {
      /* not yet */
    }
    await sleep(5);
  }
  throw new Error('timed out waiting for /readyz');
}

/** config/deploy/dgd.yaml as the API server would answer it: Ready, every service at its replicas. */
function deployedDgd(): Record<string, unknown> {
  const dgd = parseAllDocuments(readFileSync(join(ROOT, 'config/deploy/dgd.yaml'), 'utf8')).map((d) => d.toJS()).find((d) => d?.kind === 'DynamoGraphDeployment');
  const services = Object.fromEntries(Object.entries(dgd.spec.services as Record<string, { replicas?: number }>).map(([k, v]) => [k, { availableReplicas: v.replicas ?? 1, readyReplicas: v.replicas ?? 1 }]));
  return { ...dgd, metadata: { ...dgd.metadata, namespace: 'bench', resourceVersion: '1' }, status: { conditions: [{ type: 'Ready', status: 'True' }], services } };
}

/** Prometheus API + router /metrics + Kubernetes API stand-in: fixed busy traffic, two workers, one DGD. */
function fakeUpstream(): Promise<Server> {
  const dgd = JSON.stringify(deployedDgd());
  const values: Record<string, string> = { time_to_first_token: '0.12', inter_token_latency: '0.02', requests_total: '80', request_duration: '3.1', input_sequence: '3000', output_sequence: '150' };
  const gauges = [
    'dynamo_frontend_worker_active_prefill_tokens{worker_id="p1",dp_rank="0",worker_type="prefill"} 1200',
    'dynamo_frontend_worker_last_time_to_first_token_seconds{worker_id="p1",dp_rank="0",worker_type="prefill"} 0.2',
    'dynamo_frontend_worker_last_input_sequence_tokens{worker_id="p1",dp_rank="0",worker_type="prefill"} 3000',
    'dynamo_frontend_worker_active_decode_blocks{worker_id="d1",dp_rank="0",worker_type="decode"} 40',
    'dynamo_frontend_worker_last_inter_token_latency_seconds{worker_id="d1",dp_rank="0",worker_type="decode"} 0.02',
  ].join('\n') + '\n';
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/metrics') return void res.writeHead(200, { 'content-type': 'text/plain' }).end(gauges);
    if (url.pathname.startsWith('/apis/')) return void res.writeHead(200, { 'content-type': 'application/json' }).end(dgd);
    const q = url.searchParams.get('query') ?? '';
    const hit = Object.entries(values).find(([k]) => q.includes(k));
    const result = hit ? [{ metric: { model: 'm', dynamo_namespace: 'bench' }, value: [Date.now() / 1000, hit[1]] }] : [];
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result } }));
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(server)));
}

function stop(child: ChildProcess): Promise<number | null> {
  return new Promise((r) => {
    child.once('exit', (code) => r(code));
    child.kill('SIGTERM');
  });
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

interface Measure { readyMs: number; rssMb: number; peakRssMb: number; parts: RssParts; cpuMsPerS: number; stopMs: number; exitCode: number | null; metrics: string }

/**
 * Start `args` (a node script listening on `port`), wait for /readyz, then measure: RSS and peak
 * RSS at `atS` seconds after start, CPU over the `windowS` after that, one /metrics scrape after.
 */
async function measure(args: string[], port: number, atS: number, windowS: number, env: NodeJS.ProcessEnv = process.env): Promise<Measure> {
  const t0 = performance.now();
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'], env });
  const base = `http://127.0.0.1:${port}`;
  await until(async () => (await fetch(`${base}/readyz`)).status === 200, 15_000);
  const readyMs = performance.now() - t0;
  await sleep(Math.max(0, t0 + atS * 1000 - performance.now()));
  const rssMb = status(child.pid!, 'VmRSS');
  const peakRssMb = status(child.pid!, 'VmHWM');
  const parts = rssParts(child.pid!);
  const c0 = cpuMs(child.pid!);
  const w0 = performance.now();
  await sleep(windowS * 1000);
  const cpuMsPerS = (cpuMs(child.pid!) - c0) / ((performance.now() - w0) / 1000);
  const metrics = await (await fetch(`${base}/metrics`)).text();
  const s0 = performance.now();
  const exitCode = await stop(child);
  return { readyMs, rssMb, peakRssMb, parts, cpuMsPerS, stopMs: performance.now() - s0, exitCode, metrics };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Medians of each figure over several runs of the same daemon; the first run's scrape and exit. */
function medianMeasure(runs: Measure[]): Measure {
  const of = (k: 'readyMs' | 'rssMb' | 'peakRssMb' | 'cpuMsPerS' | 'stopMs') => median(runs.map((m) => m[k]));
  const failed = runs.find((m) => m.exitCode !== 0);
  const part = (k: keyof RssParts) => median(runs.map((m) => m.parts[k]));
  const parts = { nodeBinaryMb: part('nodeBinaryMb'), mallocHeapMb: part('mallocHeapMb'), anonymousMb: part('anonymousMb'), otherMb: part('otherMb') };
  return { ...runs[0], parts, readyMs: of('readyMs'), rssMb: of('rssMb'), peakRssMb: of('peakRssMb'), cpuMsPerS: of('cpuMsPerS'), stopMs: of('stopMs'), exitCode: failed ? failed.exitCode : 0 };
}

/** A baseline's CPU per second can be ~0; ratios use at least 0.05 ms/s. */
const CPU_FLOOR = 0.05;

async function main() {
  const upstream = await fakeUpstream();
  const base = `http://127.0.0.1:${(upstream.address() as { port: number }).port}`;
  const dir = mkdtempSync(join(tmpdir(), 'sla-bench-daemon-'));
  const common = { environment: 'virtual', namespace: 'bench', model_name: 'm', metric_pulling_prometheus_endpoint: base, profile_results_dir: PROFILE, prefill_engine_num_gpu: 1, decode_engine_num_gpu: 1, max_gpu_budget: 16, load_predictor: 'constant' };
  const idleCfg = join(dir, 'idle.json');
  writeFileSync(idleCfg, JSON.stringify(common));
  const busyCfg = join(dir, 'busy.json');
  const throughputS = 2;
  const loadS = 1;
  const samples = 10;
  writeFileSync(busyCfg, JSON.stringify({ ...common, throughput_adjustment_interval: throughputS, enable_load_scaling: true, load_adjustment_interval: loadS, load_metric_samples: samples, load_router_metrics_url: `${base}/metrics` }));
  const run = (cfg: string, port: number, cli = CLI) => [cli, 'run', '--config', cfg, '--metrics-port', String(port), '--decisions-out', '/dev/null'];
  // The kubernetes environment (the DGD sidecar): the DGD read and patched over HTTP.
  const k8sCfg = join(dir, 'idle-k8s.json');
  writeFileSync(k8sCfg, JSON.stringify({ ...common, environment: 'kubernetes', model_name: null, prefill_engine_num_gpu: null, decode_engine_num_gpu: null }));
  writeFileSync(join(dir, 'token'), 'bench');
  writeFileSync(join(dir, 'namespace'), 'bench');
  const k8sEnv = { ...process.env, SLA_PLANNER_K8S_API_URL: base, SLA_PLANNER_K8S_TOKEN_FILE: join(dir, 'token'), SLA_PLANNER_K8S_NAMESPACE_FILE: join(dir, 'namespace'), DYN_PARENT_DGD_K8S_NAME: 'llama-disagg' };

  // The baseline and the idle daemons run side by side (all idle); the busy daemon after them.
  const [bp, kp, sp] = [await freePort(), await freePort(), await freePort()];
  const repeated = async (cli: string) => {
    const ports = [];
    for (let i = 0; i < REPEAT; i++) ports.push(await freePort());
    return medianMeasure(await Promise.all(ports.map((port) => measure(run(idleCfg, port, cli), port, IDLE_S, WINDOW_S))));
  };
  const [baseline, idle, idleK8s, compared] = await Promise.all([
    measure(['-e', `require('http').createServer((q,s)=>s.end('ok')).listen(${bp},'127.0.0.1')`], bp, IDLE_S, WINDOW_S),
    repeated(CLI),
    measure(run(k8sCfg, kp), kp, IDLE_S, WINDOW_S, k8sEnv),
    COMPARE ? repeated(COMPARE) : undefined,
  ]);
  const busy = process.argv.includes('--idle-only') ? undefined : await measure(run(busyCfg, sp), sp, 1, BUSY_S);
  upstream.close();

  const row = (name: string, d: number, b: number, unit: string, digits = 1, floor = 0) =>
    console.log(`${name.padEnd(34)} ${d.toFixed(digits).padStart(8)} ${unit.padEnd(5)} baseline ${b.toFixed(digits).padStart(7)} ${unit.padEnd(5)} ratio ${(d / Math.max(b, floor)).toFixed(2)}x`);
  const partRows = (m: Measure, b: Measure) => {
    row('    node executable pages', m.parts.nodeBinaryMb, b.parts.nodeBinaryMb, 'MB');
    row('    anonymous (V8 heap, arenas)', m.parts.anonymousMb, b.parts.anonymousMb, 'MB');
    row('    main malloc heap', m.parts.mallocHeapMb, b.parts.mallocHeapMb, 'MB');
  };
  console.log(`sla-planner run (${CLI}), node ${process.version}, default flags; profile ${PROFILE}`);
  console.log('baseline: a bare `node -e` HTTP server, same machine, same run');
  console.log(`idle (throughput every 180 s, no load scaling), at ${IDLE_S} s, medians of ${REPEAT} daemons:`);
  row('  start-up to ready', idle.readyMs, baseline.readyMs, 'ms', 0);
  row('  RSS', idle.rssMb, baseline.rssMb, 'MB');
  partRows(idle, baseline);
  row('  peak RSS', idle.peakRssMb, baseline.peakRssMb, 'MB');
  row(`  CPU per second (${IDLE_S}-${IDLE_S + WINDOW_S} s)`, idle.cpuMsPerS, baseline.cpuMsPerS, 'ms/s', 2, CPU_FLOOR);
  if (compared) {
    console.log(`idle, the compared build (${COMPARE}), at ${IDLE_S} s, medians of ${REPEAT} daemons:`);
    row('  RSS', compared.rssMb, baseline.rssMb, 'MB');
    partRows(compared, baseline);
    row('  peak RSS', compared.peakRssMb, baseline.peakRssMb, 'MB');
    row(`  CPU per second (${IDLE_S}-${IDLE_S + WINDOW_S} s)`, compared.cpuMsPerS, baseline.cpuMsPerS, 'ms/s', 2, CPU_FLOOR);
    console.log(`  this build / compared build: RSS ${(idle.rssMb / compared.rssMb).toFixed(2)}x, peak RSS ${(idle.peakRssMb / compared.peakRssMb).toFixed(2)}x, CPU ${(idle.cpuMsPerS / Math.max(compared.cpuMsPerS, CPU_FLOOR)).toFixed(2)}x`);
  }
  console.log(`idle kubernetes environment (stand-in API server), at ${IDLE_S} s:`);
  row('  start-up to ready', idleK8s.readyMs, baseline.readyMs, 'ms', 0);
  row('  RSS', idleK8s.rssMb, baseline.rssMb, 'MB');
  row('  peak RSS', idleK8s.peakRssMb, baseline.peakRssMb, 'MB');
  row(`  CPU per second (${IDLE_S}-${IDLE_S + WINDOW_S} s)`, idleK8s.cpuMsPerS, baseline.cpuMsPerS, 'ms/s', 2, CPU_FLOOR);
  const ticks = BUSY_S / throughputS + BUSY_S / loadS;
  if (busy) {
    console.log(`busy (throughput every ${throughputS} s, load every ${loadS} s with ${samples} router scrapes per interval), ${BUSY_S} s:`);
    row('  start-up to ready', busy.readyMs, baseline.readyMs, 'ms', 0);
    row('  RSS', busy.rssMb, baseline.rssMb, 'MB');
    row('  CPU per second', busy.cpuMsPerS, baseline.cpuMsPerS, 'ms/s', 2, CPU_FLOOR);
    console.log(`  CPU per tick (${ticks} ticks and ${(BUSY_S / loadS) * samples} router scrapes in ${BUSY_S} s): ${((busy.cpuMsPerS * BUSY_S) / ticks).toFixed(2)} ms`);
  }
  console.log(`SIGTERM to exit: ${idle.stopMs.toFixed(0)} ms (exit code ${idle.exitCode}), kubernetes ${idleK8s.stopMs.toFixed(0)} ms (exit code ${idleK8s.exitCode})${busy ? `, busy ${busy.stopMs.toFixed(0)} ms (exit code ${busy.exitCode})` : ''}`);
  // The standard process metrics must still be there (collected when scraped).
  const standard = ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_start_time_seconds', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_version_info'];
  const missing = standard.filter((name) => !idle.metrics.includes(`\n${name}`));
  console.log(`standard process metrics on /metrics: ${missing.length ? `MISSING ${missing.join(', ')}` : 'present'}`);
  const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');
  const targets = (m: Measure) => `RSS < ${TARGET.idleRssMb} MB ${verdict(m.rssMb < TARGET.idleRssMb)}, CPU < ${TARGET.idleCpuMsPerS} ms/s ${verdict(m.cpuMsPerS < TARGET.idleCpuMsPerS)}`;
  console.log(`targets, idle virtual: ${targets(idle)}; idle kubernetes: ${targets(idleK8s)}`);
  const figures = (m: Measure | undefined) => m && {
    ready_ms: m.readyMs, rss_mb: m.rssMb, peak_rss_mb: m.peakRssMb, cpu_ms_per_s: m.cpuMsPerS,
    rss_parts_mb: { node_binary: m.parts.nodeBinaryMb, anonymous: m.parts.anonymousMb, malloc_heap: m.parts.mallocHeapMb, other: m.parts.otherMb },
  };
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench/results/daemon.json'), `${JSON.stringify({
    node: process.version, idle_s: IDLE_S, window_s: WINDOW_S, repeat: REPEAT, cli: CLI, compared_cli: COMPARE ?? null,
    baseline: figures(baseline), idle: figures(idle), idle_kubernetes: figures(idleK8s), compared_idle: figures(compared) ?? null,
    busy: busy ? { ...figures(busy), cpu_ms_per_tick: (busy.cpuMsPerS * BUSY_S) / ticks } : null,
    standard_metrics_missing: missing,
  }, null, 2)}\n`);
  if (missing.length || idle.exitCode !== 0 || idleK8s.exitCode !== 0 || (busy && busy.exitCode !== 0)) process.exitCode = 1;
}

main().catch((err) => {
  console.error(`bench:daemon failed: ${(err as Error).message}`);
  process.exit(1);
});
