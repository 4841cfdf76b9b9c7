// The closed loop with real parts: the mocker (a pool of mock engines) scraped every second by a real
// Prometheus, the daemon (`run`, virtual environment, 10 s interval) reading it and writing decisions
// to a real etcd, the mocker's fleet obeying them, and `replay` sending 30 s of a trace as streaming
// HTTP. The same slice and config go through `simulate`, and the two must agree.
//
// Tolerances, and why:
// - Replica targets per tick within 1 of simulate's: the daemon's ticks start when it does (up to
//   ~1 s from the trace's t = 0), and Prometheus's increase() over a 10 s window of 1 s scrapes
//   extrapolates to the window's edges, so the observed rate of a tick can differ by a request or
//   two, enough to move a rounded replica count by one.
// - SLA attainment within 0.2: a one-tick difference in when a prefill worker is added moves ~10 s of
//   this 30 s slice between one and two prefill workers, and the client measures TTFT with the HTTP
//   and timer lag (a few ms) on top of the model.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdJson } from '../../src/actuate/etcd.js';
import { instancePrefix } from '../../src/actuate/virtual.js';
import { resolveConfig } from '../../src/config/index.js';
import { loadInterpolators, runSimulation } from '../../src/sim/index.js';
import { freePort, startEtcd, startPrometheus, waitFor, type Managed } from '../helpers/procs.js';
import { FIXTURES, H100 } from '../helpers/fixtures.js';

const CLI = 'dist/src/cli.js';
const PROFILE = join(H100, 'llama-3.1-8b', 'npz');
const TRACE = join(FIXTURES, 'traces', 'mooncake_arxiv_first1000.jsonl');
const NS = 'mock-ns';
const P = `v1/${NS}/planner/`;
const SLICE = { durationS: 30, loadScale: 0.5 };
const COLD_START_S = 5;
const SEED = { prefill: 3, decode: 3 };
const CONFIG = {
  environment: 'virtual', namespace: NS, model_name: 'mock-model', ttft: 2000, itl: 30, throughput_adjustment_interval: 10,
  load_predictor: 'constant', num_req_source: 'started', max_gpu_budget: 8, min_endpoint: 1, prefill_engine_num_gpu: 1, decode_engine_num_gpu: 1, profile_results_dir: PROFILE,
};

interface Proc { child: ChildProcess; out: string[]; err: string[]; exit: Promise<number | null> }
const started = new Set<ChildProcess>();

function cli(args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  started.add(child);
  const out: string[] = [];
  const err: string[] = [];
  child.stdout!.on('data', (d) => out.push(String(d)));
  child.stderr!.on('data', (d) => err.push(String(d)));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => { started.delete(child); resolve(code); }));
  return { child, out, err, exit };
}

const jsonLines = (p: Proc) => p.out.join('').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, any>);

describe('closed loop: daemon + Prometheus + etcd + mocker fleet + replay, against simulate', () => {
  let etcd: Managed;
  let prom: Managed;
  let mocker: Proc;
  let daemon: Proc;
  let replay: Proc;
  let mockUrl: string;
  let summary: Record<string, any>;
  let decisions: Record<string, any>[];

  beforeAll(async () => {
    if (!existsSync(CLI) || statSync(`dist/src/mocker/host.js`).mtimeMs < statSync('src/mocker/host.ts').mtimeMs) throw new Error(`${CLI} is missing or stale: run 'npm run build' first.`);
    etcd = await startEtcd();
    // A deployment already running 3 prefill + 3 decode workers, its last decision acknowledged: more than
    // this light slice needs, so the first decision writes a change however the ticks fall on a loaded machine.
    const client = new EtcdJson(etcd.url);
    for (const [k, v] of [['num_prefill_workers', String(SEED.prefill)], ['num_decode_workers', String(SEED.decode)], ['decision_id', '0'], ['scaled_decision_id', '0']]) await client.put(P + k, v);
    const port = await freePort();
    mockUrl = `http://127.0.0.1:${port}`;
    prom = await startPrometheus([{ address: `127.0.0.1:${port}`, labels: { dynamo_namespace: NS } }]);
    const dir = mkdtempSync(join(tmpdir(), 'sla-loop-'));
    mocker = cli(['mocker', '--profile-dir', PROFILE, '--port', String(port), '--model', 'mock-model', '--prefill', String(SEED.prefill), '--decode', String(SEED.decode),
      '--cold-start', String(COLD_START_S), '--etcd-endpoints', etcd.url, '--namespace', NS, '--poll-ms', '250']);
    await waitFor(async () => (await fetch(`${mockUrl}/health`)).ok, 10_000, 'mocker up');
    // Prometheus has scraped the mocker once before the daemon's first look.
    await waitFor(async () => {
      const r = await (await fetch(`${prom.url}/api/v1/query?query=up`)).json();
      return r.data.result.some((s: any) => s.value[1] === '1');
    }, 10_000, 'first scrape');
    daemon = cli(['run', '--config', JSON.stringify({ ...CONFIG, metric_pulling_prometheus_endpoint: prom.url }), '--etcd-endpoints', etcd.url,
      '--metrics-port', '0', '--decisions-out', join(dir, 'decisions.jsonl')], { SCALING_CHECK_INTERVAL: '1' });
    await waitFor(async () => jsonLines(daemon).some((l) => l.event === 'started'), 10_000, 'daemon started');
    replay = cli(['replay', '--trace', TRACE, '--url', mockUrl, '--duration', String(SLICE.durationS), '--load-scale', String(SLICE.loadScale),
      '--ttft', String(CONFIG.ttft), '--itl', String(CONFIG.itl)]);
    expect(await replay.exit).toBe(0);
    summary = JSON.parse(replay.out.join(''));
    // The tick at 30 s has seen the slice's last interval.
    await waitFor(async () => jsonLines(daemon).filter((l) => l.event === 'decision' && l.loop === 'throughput').length >= 3, 15_000, 'three throughput ticks');
    decisions = jsonLines(daemon).filter((l) => l.event === 'decision' && l.loop === 'throughput');
    // The fleet acknowledges the last decision once its workers are ready (a cold start at most).
    const client2 = new EtcdJson(etcd.url);
    await waitFor(async () => {
      const k = await client2.getPrefix(P);
      return k[P + 'scaled_decision_id'] === k[P + 'decision_id'];
    }, 1000 * (COLD_START_S + 5), 'the last decision acknowledged');
    if (process.env.MOCKER_LOOP_DEBUG) console.log(JSON.stringify({ summary, decisions: decisions.map((d) => ({ target: d.target, decided: d.decided, obs: d.observation, act: d.actuation })) }, null, 1));
  }, 100_000);

  afterAll(async () => {
    for (const p of [replay, daemon, mocker]) if (p && p.child.exitCode === null) { p.child.kill('SIGTERM'); await p.exit; }
    for (const child of started) child.kill('SIGKILL');
    await prom?.stop();
    await etcd?.stop();
  }, 30_000);

  it('replays the slice without loss: every request served, the frontend counted what the client sent', async () => {
    expect(summary).toMatchObject({ policy: 'replay', dropped: 0, unfinished: 0, short_streams: 0 });
    expect(summary.completed).toBe(summary.requests);
    const q = async (expr: string) => Number((await (await fetch(`${prom.url}/api/v1/query?query=${encodeURIComponent(expr)}`)).json()).data.result[0]?.value[1]);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await q(`dynamo_frontend_requests_started_total{dynamo_namespace="${NS}"}`)).toBe(summary.requests);
    expect(await q(`dynamo_frontend_requests_total{dynamo_namespace="${NS}",status="success"}`)).toBe(summary.requests);
    // What the daemon observed: finished requests per 10 s window, as increase() extrapolates them.
    const observed = decisions.slice(0, 3).reduce((a, d) => a + (d.observation?.num_req ?? 0), 0);
    const finishedBy30 = await q(`dynamo_frontend_requests_total{dynamo_namespace="${NS}",status="success"} @ ${(Date.now() / 1000 - 1).toFixed(0)}`);
    expect(observed).toBeGreaterThan(0.6 * summary.requests);
    expect(observed).toBeLessThanOrEqual(1.2 * finishedBy30);
  });

  it('loses no decision: each one the daemon wrote was applied by the fleet and acknowledged', async () => {
    const client = new EtcdJson(etcd.url);
    const keys = await client.getPrefix(P);
    const lastId = Number(keys[P + 'decision_id']);
    expect(keys[P + 'scaled_decision_id']).toBe(String(lastId));
    // Decision 0 was the seeded deployment: every write since is one id, none skipped, none waiting.
    const all = jsonLines(daemon).filter((l) => l.event === 'decision');
    const written = all.filter((d) => d.actuation?.status === 'applied');
    expect(written.length).toBeGreaterThan(0);
    expect(lastId).toBe(written.length);
    expect(all.filter((d) => d.actuation?.status === 'pending_ack' || d.actuation?.status === 'failed')).toEqual([]);
    const metrics = await (await fetch(`${mockUrl}/metrics`)).text();
    const target = (pool: string) => Number(new RegExp(`sla_mocker_workers\\{pool="${pool}",state="target"\\} (\\d+)`).exec(metrics)![1]);
    expect(target('prefill')).toBe(Number(keys[P + 'num_prefill_workers']));
    expect(target('decode')).toBe(Number(keys[P + 'num_decode_workers']));
    expect(mocker.err.join('')).toContain(`decision ${lastId} done: acknowledged`);
  });

  it('the daemon\'s current counts are the workers the fleet registered as serving, as simulate passes the ready ones', async () => {
    const client = new EtcdJson(etcd.url);
    const metrics = await (await fetch(`${mockUrl}/metrics`)).text();
    const ready = (pool: string) => Number(new RegExp(`sla_mocker_workers\\{pool="${pool}",state="ready"\\} (\\d+)`).exec(metrics)![1]);
    expect(await client.count(instancePrefix(NS, 'vllm', 'prefill'))).toBe(ready('prefill'));
    expect(await client.count(instancePrefix(NS, 'vllm', 'decode'))).toBe(ready('decode'));
    // Every tick read registered workers; none fell back to the decided counts.
    expect(jsonLines(daemon).filter((l) => l.event === 'worker_counts')).toEqual([]);
  });

  it('agrees with simulate on the same slice and config: replica targets within 1 per tick, attainment within 0.2', async () => {
    const { config } = resolveConfig({ ...CONFIG, environment: 'kubernetes', metric_pulling_prometheus_endpoint: 'http://127.0.0.1:1' }, { env: {} });
    const sim = await runSimulation({
      config, interpolators: loadInterpolators(PROFILE), trace: TRACE, policy: 'planner', shaping: SLICE, coldStartS: COLD_START_S,
      initial: SEED, numReqSource: config.num_req_source, log: () => undefined, warn: () => undefined,
    });
    if (process.env.MOCKER_LOOP_DEBUG) console.log(JSON.stringify({ sim: sim.summary, timeline: sim.timeline }, null, 1));
    const simTargets = sim.timeline.map((r) => ({ prefill: r.prefill_target, decode: r.decode_target }));
    const loopTargets = decisions.slice(0, simTargets.length).map((d) => (d.decided ? d.target : null));
    let prev = { ...SEED };
    for (let i = 0; i < simTargets.length; i++) {
      const got = loopTargets[i] ? { prefill: loopTargets[i]!.prefill ?? prev.prefill, decode: loopTargets[i]!.decode ?? prev.decode } : prev;
      prev = got;
      expect(Math.abs(got.prefill - simTargets[i].prefill), `tick ${i + 1} prefill: loop ${got.prefill}, simulate ${simTargets[i].prefill}`).toBeLessThanOrEqual(1);
      expect(Math.abs(got.decode - simTargets[i].decode), `tick ${i + 1} decode: loop ${got.decode}, simulate ${simTargets[i].decode}`).toBeLessThanOrEqual(1);
    }
    expect(summary.requests).toBe(sim.summary.requests);
    expect(Math.abs(summary.sla_attainment - sim.summary.sla_attainment)).toBeLessThanOrEqual(0.2);
    // The client's ITL is the model's plus timer lag spread over the tokens: within 20%.
    expect(summary.itl_ms.mean / sim.summary.itl_ms.mean!).toBeGreaterThan(0.8);
    expect(summary.itl_ms.mean / sim.summary.itl_ms.mean!).toBeLessThan(1.2);
  });
});
