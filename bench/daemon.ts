// Daemon benchmark: start-up to ready, idle RSS and CPU per tick of `sla-planner run`, each next
// to a baseline measured in the same run (a bare Node process doing the least comparable work),
// in the virtual environment and in the kubernetes environment (a fake API server for one DGD).
// Usage: npm run bench:daemon  [-- --window-s 10] [-- --cli <another build's dist/src/cli.js>]
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { benchFlag, benchNumber } from './args.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
const CLI = resolve(benchFlag('cli') ?? join(ROOT, 'dist/src/cli.js'));
// The repository's own fixture, so the benchmark runs from any checkout.
const PROFILE = resolve(ROOT, 'test/fixtures/h100/llama-3.1-8b/npz');
const CLK_TCK = 100; // Linux USER_HZ

const WINDOW_S = benchNumber('bench/daemon', 'window-s', 10, { min: 1 });

function sleep(ms: number) {
  return new Promise((r) => setTimeout(r, ms));
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime + stime
}

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    try { if (await check()) return; } catch { /* not yet */ }
    await sleep(5);
  }
  throw new Error('timed out');
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

interface Measure { readyMs: number; idleRssMb: number; cpuS: number; exitCode: number | null; stopMs: number }

async function measure(args: string[], readyUrl: string, env: NodeJS.ProcessEnv = process.env): Promise<Measure> {
  const t0 = performance.now();
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'], env });
  await until(async () => (await fetch(readyUrl)).status === 200, 10_000);
  const readyMs = performance.now() - t0;
  await sleep(1000); // let start-up garbage settle
  const cpu0 = cpuSeconds(child.pid!);
  await sleep(WINDOW_S * 1000);
  const cpuS = cpuSeconds(child.pid!) - cpu0;
  const idleRssMb = rssMb(child.pid!);
  const s0 = performance.now();
  const exitCode = await stop(child);
  return { readyMs, idleRssMb, cpuS, exitCode, stopMs: performance.now() - s0 };
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function main() {
  const upstream = await fakeUpstream();
  const base = `http://127.0.0.1:${(upstream.address() as { port: number }).port}`;
  const dir = mkdtempSync(join(tmpdir(), 'sla-bench-daemon-'));
  const cfg = join(dir, 'planner.json');
  const throughputS = 2;
  const loadS = 1;
  const samples = 10;
  writeFileSync(cfg, JSON.stringify({
    environment: 'virtual', namespace: 'bench', model_name: 'm', metric_pulling_prometheus_endpoint: base, profile_results_dir: PROFILE,
    throughput_adjustment_interval: throughputS, load_predictor: 'constant', enable_load_scaling: true, load_adjustment_interval: loadS,
    load_metric_samples: samples, load_router_metrics_url: `${base}/metrics`, prefill_engine_num_gpu: 1, decode_engine_num_gpu: 1, max_gpu_budget: 16,
  }));

  // Baseline: a bare Node HTTP server answering /readyz, idle otherwise.
  const basePort = await freePort();
  const baselineSrc = `require('http').createServer((q,s)=>s.end('ok')).listen(${basePort},'127.0.0.1')`;
  const baseline = await measure(['-e', baselineSrc], `http://127.0.0.1:${basePort}/readyz`);

  const port = await freePort();
  const daemon = await measure([CLI, 'run', '--config', cfg, '--metrics-port', String(port), '--decisions-out', '/dev/null'], `http://127.0.0.1:${port}/readyz`);
  // Same daemon with a small V8 young generation (NODE_OPTIONS=--max-semi-space-size=1 in the image).
  const port2 = await freePort();
  const small = await measure(['--max-semi-space-size=1', CLI, 'run', '--config', cfg, '--metrics-port', String(port2), '--decisions-out', '/dev/null'], `http://127.0.0.1:${port2}/readyz`);
  // The kubernetes environment (the DGD sidecar): same traffic, the DGD read and patched over HTTP.
  const k8sCfg = join(dir, 'planner-k8s.json');
  writeFileSync(k8sCfg, JSON.stringify({ ...JSON.parse(readFileSync(cfg, 'utf8')), environment: 'kubernetes', model_name: null, prefill_engine_num_gpu: null, decode_engine_num_gpu: null }));
  writeFileSync(join(dir, 'token'), 'bench');
  writeFileSync(join(dir, 'namespace'), 'bench');
  const k8sEnv = { ...process.env, SLA_PLANNER_K8S_API_URL: base, SLA_PLANNER_K8S_TOKEN_FILE: join(dir, 'token'), SLA_PLANNER_K8S_NAMESPACE_FILE: join(dir, 'namespace'), DYN_PARENT_DGD_K8S_NAME: 'llama-disagg' };
  const port3 = await freePort();
  const k8s = await measure([CLI, 'run', '--config', k8sCfg, '--metrics-port', String(port3)], `http://127.0.0.1:${port3}/readyz`, k8sEnv);
  const port4 = await freePort();
  const k8sSmall = await measure(['--max-semi-space-size=1', CLI, 'run', '--config', k8sCfg, '--metrics-port', String(port4)], `http://127.0.0.1:${port4}/readyz`, k8sEnv);
  upstream.close();

  const ticks = WINDOW_S / throughputS + WINDOW_S / loadS;
  const scrapes = (WINDOW_S / loadS) * samples;
  const row = (name: string, d: number, b: number, unit: string, digits = 1) =>
    console.log(`${name.padEnd(30)} ${d.toFixed(digits).padStart(9)} ${unit.padEnd(5)} baseline ${b.toFixed(digits).padStart(9)} ${unit.padEnd(5)} ratio ${(d / b).toFixed(2)}x`);
  console.log(`measuring ${CLI}`);
  console.log(`sla-planner run (virtual, throughput every ${throughputS}s, load every ${loadS}s with ${samples} router scrapes/interval), window ${WINDOW_S}s`);
  console.log('baseline: bare `node -e` HTTP server, same machine, same run');
  row('start-up to ready', daemon.readyMs, baseline.readyMs, 'ms', 0);
  row('RSS after the window', daemon.idleRssMb, baseline.idleRssMb, 'MB');
  row('CPU over the window', daemon.cpuS * 1000, Math.max(baseline.cpuS * 1000, 1), 'ms', 0);
  console.log(`CPU per tick (${ticks} ticks, ${scrapes} router scrapes): ${((daemon.cpuS * 1000) / ticks).toFixed(2)} ms; per second ${((daemon.cpuS * 1000) / WINDOW_S).toFixed(2)} ms (${((daemon.cpuS / WINDOW_S) * 100).toFixed(2)}% of one core)`);
  console.log(`SIGTERM to exit: ${daemon.stopMs.toFixed(0)} ms, exit code ${daemon.exitCode}`);
  console.log('with node --max-semi-space-size=1:');
  row('  start-up to ready', small.readyMs, baseline.readyMs, 'ms', 0);
  row('  RSS after the window', small.idleRssMb, baseline.idleRssMb, 'MB');
  row('  CPU over the window', small.cpuS * 1000, Math.max(baseline.cpuS * 1000, 1), 'ms', 0);
  console.log('kubernetes environment (fake API server), default flags / --max-semi-space-size=1:');
  row('  start-up to ready', k8s.readyMs, baseline.readyMs, 'ms', 0);
  row('  RSS after the window', k8s.idleRssMb, baseline.idleRssMb, 'MB');
  row('  RSS, small young generation', k8sSmall.idleRssMb, baseline.idleRssMb, 'MB');
  const verdict = (m: Measure) => `idle RSS < 80 MB ${m.idleRssMb < 80 ? 'met' : 'NOT met'}, start-up to ready < 1000 ms ${m.readyMs < 1000 ? 'met' : 'NOT met'}`;
  console.log(`targets, default flags: ${verdict(daemon)}; small young generation: ${verdict(small)}`);
}

main().catch((err) => {
  console.error(`bench:daemon failed: ${(err as Error).message}`);
  process.exit(1);
});
