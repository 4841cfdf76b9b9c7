// `sla-planner run` as a process: start-up, readiness, signals, dry run, virtual JSONL output,
// bad input. Uses the built CLI (npm test builds it first).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakePrometheus, BUSY_TRAFFIC } from '../helpers/fakePrometheus.js';
import type { FakeKube } from '../helpers/fakeKube.js';
import { PROFILE_DIR, startFakeKube } from '../helpers/daemonHarness.js';
import { freePort, waitFor } from '../helpers/procs.js';
import { nonSnakeKeys } from '../helpers/jsonKeys.js';

const CLI = 'dist/src/cli.js';

function assertBuilt(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run 'npm run build' (npm test does it) before this test.`);
  for (const f of ['src/commands/run.ts', 'src/runtime/daemon.ts']) {
    const js = 'dist/' + f.replace(/\.ts$/, '.js');
    if (!existsSync(js) || statSync(js).mtimeMs < statSync(f).mtimeMs) throw new Error(`${js} is older than ${f}: run 'npm run build' first.`);
  }
}

interface Proc { child: ChildProcess; out: string[]; err: string[]; exit: Promise<{ code: number | null; at: number }> }

/** Every daemon this file starts, so none outlives a failed or timed-out test. */
const started = new Set<ChildProcess>();
afterAll(() => {
  for (const child of started) child.kill('SIGKILL');
});

function runCli(args: string[], env: Record<string, string>): Proc {
  const child = spawn(process.execPath, [CLI, 'run', ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: string[] = [];
  const err: string[] = [];
  let buf = '';
  child.stdout!.on('data', (d) => {
    buf += d;
    const parts = buf.split('\n');
    buf = parts.pop()!;
    out.push(...parts);
  });
  child.stderr!.on('data', (d) => err.push(String(d)));
  started.add(child);
  const exit = new Promise<{ code: number | null; at: number }>((r) => child.once('exit', (code) => { started.delete(child); r({ code, at: Date.now() }); }));
  return { child, out, err, exit };
}

const events = (p: Proc) => p.out.map((l) => JSON.parse(l) as Record<string, unknown>);

describe('sla-planner run (process)', () => {
  let prom: FakePrometheus;
  let kube: FakeKube;
  let env: Record<string, string>;
  let dir: string;

  beforeAll(async () => {
    assertBuilt();
    prom = await new FakePrometheus(BUSY_TRAFFIC, { model: 'qwen/qwen3-0.6b', dynamo_namespace: 'test-ns' }).start();
    const k = await startFakeKube();
    kube = k.kube;
    env = k.env;
    dir = mkdtempSync(join(tmpdir(), 'sla-cli-'));
  });
  afterAll(async () => {
    await prom?.stop();
    await kube?.stop();
  });

  const config = (extra: Record<string, unknown> = {}) => {
    const file = join(dir, `cfg-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, JSON.stringify({
      environment: 'kubernetes', namespace: 'test-ns', metric_pulling_prometheus_endpoint: prom.url, profile_results_dir: PROFILE_DIR,
      throughput_adjustment_interval: 1, load_predictor: 'constant', ttft: 300, itl: 25, max_gpu_budget: 16, ...extra,
    }));
    return file;
  };

  it('becomes ready fast, decides, and exits 0 within 5 s of SIGTERM', async () => {
    const port = await freePort();
    const t0 = Date.now();
    const p = runCli(['--config', config(), '--metrics-port', String(port)], env);
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200, 5000, '/readyz');
    const readyMs = Date.now() - t0;
    await waitFor(async () => events(p).some((e) => e.event === 'decision' && e.decided === true), 5000, 'a decision');
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toMatch(/^planner:predicted_num_p 4$/m);
    expect(kube.replicas('VllmPrefillWorker')).toBe(4);
    const sent = Date.now();
    p.child.kill('SIGTERM');
    const { code, at } = await p.exit;
    expect(code).toBe(0);
    expect(at - sent).toBeLessThan(5000);
    expect(events(p).at(-1)).toMatchObject({ event: 'stopped' });
    expect(events(p).find((e) => e.event === 'started')).toMatchObject({ environment: 'kubernetes', model: 'qwen/qwen3-0.6b', gpus_per_replica: { prefill: 1, decode: 1 } });
    expect(readyMs).toBeLessThan(5000);
  }, 20_000);

  it('--dry-run decides and logs but patches nothing; SIGINT also exits 0', async () => {
    kube.dgd.spec!.services!.VllmPrefillWorker.replicas = 1;
    kube.syncStatus(true);
    const writes0 = kube.writes().length;
    const p = runCli(['--config', config(), '--dry-run'], env);
    await waitFor(async () => events(p).filter((e) => e.event === 'decision' && e.decided === true).length >= 2, 6000, 'two decisions');
    expect(events(p).filter((e) => e.event === 'decision' && e.decided).every((e) => (e.actuation as { status: string }).status === 'dry_run')).toBe(true);
    expect(kube.writes().length).toBe(writes0);
    p.child.kill('SIGINT');
    expect((await p.exit).code).toBe(0);
  }, 20_000);

  it('SIGTERM during start-up (API server not answering) still exits 0 at once', async () => {
    const { createServer } = await import('node:http');
    let asked = false;
    const silent = createServer(() => { asked = true; /* never answers: start-up waits on the DGD read */ });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    try {
      const url = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
      const p = runCli(['--config', config()], { ...env, SLA_PLANNER_K8S_API_URL: url });
      // Start-up has reached the DGD read (a loaded machine may take seconds to get there).
      await waitFor(async () => asked, 15_000, 'the DGD read at start-up');
      expect(p.child.exitCode).toBeNull(); // still starting
      const sent = Date.now();
      p.child.kill('SIGTERM');
      const { code, at } = await p.exit;
      expect(code).toBe(0);
      expect(at - sent).toBeLessThan(2000);
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  }, 20_000);

  it('virtual environment writes decisions as JSON lines', async () => {
    const out = join(dir, 'decisions.jsonl');
    const p = runCli(['--config', config({ environment: 'virtual', model_name: 'Qwen/Qwen3-0.6B', prefill_engine_num_gpu: 1, decode_engine_num_gpu: 1, load_predictor_warmup_trace: 'test/fixtures/traces/mooncake_arxiv_first1000.jsonl' }), '--decisions-out', out], {});
    await waitFor(async () => existsSync(out) && readFileSync(out, 'utf8').trim().length > 0, 6000, 'a JSONL decision');
    p.child.kill('SIGTERM');
    expect((await p.exit).code).toBe(0);
    // 177 s of trace in 1 s intervals pre-fill the predictors before the first live interval.
    expect(events(p).find((e) => e.event === 'predictor_warmup')).toMatchObject({ intervals: 178 });
    const first = JSON.parse(readFileSync(out, 'utf8').trim().split('\n')[0]);
    expect(first).toMatchObject({ decision_id: 0, num_prefill_workers: 4, num_decode_workers: 2 });
    // Log lines and decision lines are JSON with snake_case keys.
    const documents = [...events(p), ...readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as unknown)];
    expect(documents.flatMap((d) => nonSnakeKeys(d))).toEqual([]);
  }, 20_000);

  it('--profile-dir overrides profile_results_dir; a missing one is exit 2 naming it', async () => {
    const out = join(dir, 'decisions-profile-dir.jsonl');
    const virtual = { environment: 'virtual', model_name: 'Qwen/Qwen3-0.6B', prefill_engine_num_gpu: 1, decode_engine_num_gpu: 1, profile_results_dir: join(dir, 'no-such-profile') };
    const p = runCli(['--config', config(virtual), '--profile-dir', PROFILE_DIR, '--decisions-out', out], {});
    await waitFor(async () => existsSync(out) && readFileSync(out, 'utf8').trim().length > 0, 10_000, 'a JSONL decision');
    p.child.kill('SIGTERM');
    expect((await p.exit).code).toBe(0);
    expect(JSON.parse(readFileSync(out, 'utf8').trim().split('\n')[0])).toMatchObject({ num_prefill_workers: 4, num_decode_workers: 2 });
    const q = runCli(['--config', config({ ...virtual, profile_results_dir: PROFILE_DIR }), '--profile-dir', join(dir, 'other-missing'), '--decisions-out', out], {});
    expect((await q.exit).code).toBe(2);
    expect(q.err.join('').trim().split('\n')).toHaveLength(1);
    expect(q.err.join('')).toMatch(/profile dir .*other-missing does not exist/);
  }, 30_000);

  it('--help lists --profile-dir and the exit codes', async () => {
    const p = runCli(['--help'], {});
    expect((await p.exit).code).toBe(0);
    const help = p.out.join('\n');
    expect(help).toMatch(/--profile-dir <dir>/);
    expect(help).toMatch(/Exit codes:\n\s+0\s+clean stop[\s\S]*\n\s+1\s+runtime failure[\s\S]*\n\s+2\s+usage or input error/);
  }, 20_000);

  it('bad input: one clear line on stderr and exit 2', async () => {
    const p = runCli(['--config', '{"environment": "kubernetes", "ttft": -5}'], env);
    const { code } = await p.exit;
    expect(code).toBe(2);
    const msg = p.err.join('');
    expect(msg.trim().split('\n')).toHaveLength(1);
    expect(msg).toMatch(/ttft/);
    const q = runCli(['--config', config({ environment: 'kubernetes' })], { ...env, DYN_PARENT_DGD_K8S_NAME: '' });
    expect((await q.exit).code).toBe(2);
    expect(q.err.join('')).toMatch(/DYN_PARENT_DGD_K8S_NAME/);
    const r = runCli(['--config', config({ metric_pulling_prometheus_ca_bundle: join(dir, 'no-such-ca.pem') })], env);
    expect((await r.exit).code).toBe(2);
    expect(r.err.join('').trim().split('\n')).toHaveLength(1);
    expect(r.err.join('')).toMatch(/metric_pulling_prometheus_ca_bundle: cannot read .*no-such-ca\.pem.*ENOENT/);
  }, 20_000);
});
