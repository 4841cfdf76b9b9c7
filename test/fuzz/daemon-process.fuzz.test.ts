// Fuzz at process level: `sla-planner run` against a Prometheus and a router endpoint that turn
// hostile in phases (millions of series, a 400 MB body, a trickle, a hang, an HTML page, JSON null,
// 503, garbage text). The process stays up and healthy, every tick of a phase is a hold named by
// the fault, and its peak resident memory stays under the stated cap (the issue saw 3 GB).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, waitFor } from '../helpers/procs.js';
import { tally } from './tally.js';

/** The stated cap on the daemon's peak resident memory under hostile answers. */
const DAEMON_MEMORY_CAP_MB = 200;

type Phase = 'ok' | 'series-3M' | 'body-400MB' | 'trickle' | 'hang' | 'html200' | 'json-null' | 'http503' | 'garbage';

const GOOD_GAUGES = [
  'dynamo_frontend_worker_active_prefill_tokens{worker_id="p1",dp_rank="0",worker_type="prefill"} 1200',
  'dynamo_frontend_worker_last_time_to_first_token_seconds{worker_id="p1",dp_rank="0",worker_type="prefill"} 0.2',
  'dynamo_frontend_worker_last_input_sequence_tokens{worker_id="p1",dp_rank="0",worker_type="prefill"} 3000',
  'dynamo_frontend_worker_active_decode_blocks{worker_id="d1",dp_rank="0",worker_type="decode"} 40',
  'dynamo_frontend_worker_last_inter_token_latency_seconds{worker_id="d1",dp_rank="0",worker_type="decode"} 0.02',
].join('\n') + '\n';

/** Write `chunk` until the client goes away (or `limitBytes`), without buffering it here. */
function stream(res: ServerResponse, head: string, unit: string, limitBytes: number): void {
  const chunk = unit.repeat(Math.max(1, Math.floor(64 * 1024 / unit.length)));
  res.write(head);
  let sent = head.length;
  const pump = () => {
    while (sent < limitBytes && !res.destroyed) {
      sent += chunk.length;
      if (!res.write(chunk)) return void res.once('drain', pump);
    }
    if (!res.destroyed) res.end();
  };
  pump();
}

describe('fuzz: `sla-planner run` against hostile Prometheus and router answers (process)', () => {
  const t = tally(`daemon process: hostile phases (peak RSS < ${DAEMON_MEMORY_CAP_MB} MB)`);
  let server: Server;
  let child: ChildProcess;
  let phase: Phase = 'ok';
  let port = 0;
  const timers: NodeJS.Timeout[] = [];
  const lines: Record<string, unknown>[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const router = url.pathname === '/metrics';
      switch (phase) {
        case 'ok': {
          if (router) return void res.writeHead(200, { 'content-type': 'text/plain' }).end(GOOD_GAUGES);
          const q = url.searchParams.get('query') ?? '';
          const v = q.includes('requests_total') ? '80' : q.includes('sequence') ? '2000' : '0.05';
          return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [{ metric: { model: 'm', dynamo_namespace: 'hostile' }, value: [1, v] }] } }));
        }
        case 'series-3M':
          res.writeHead(200, { 'content-type': router ? 'text/plain' : 'application/json' });
          if (router) return stream(res, '', 'dynamo_frontend_worker_active_decode_blocks{worker_id="w",worker_type="decode"} 1\n', 3e6 * 80);
          return stream(res, '{"status":"success","data":{"resultType":"vector","result":[', '{"metric":{"model":"m","dynamo_namespace":"hostile","pod":"p"},"value":[1,"1"]},', 3e6 * 80);
        case 'body-400MB':
          res.writeHead(200, { 'content-type': router ? 'text/plain' : 'application/json' });
          return stream(res, router ? '' : '{"status":"success","data":{"resultType":"vector","result":[]}}', ' '.repeat(64 * 1024), 400 * 1024 * 1024);
        case 'trickle': {
          res.writeHead(200, { 'content-type': 'application/json' });
          const t = setInterval(() => res.write(' '), 100);
          timers.push(t);
          res.on('close', () => clearInterval(t));
          return;
        }
        case 'hang':
          return;
        case 'html200':
          return void res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>Sign in to continue</body></html>');
        case 'json-null':
          return void res.writeHead(200, { 'content-type': 'application/json' }).end('null');
        case 'http503':
          return void res.writeHead(503, { 'content-type': 'text/html' }).end('<h1>503 Service Unavailable</h1>');
        case 'garbage':
          return void res.writeHead(200, { 'content-type': 'text/plain' }).end('\u0000\u0001 {{{ not metrics ]]] \n'.repeat(50));
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const dir = mkdtempSync(join(tmpdir(), 'sla-fuzz-daemon-'));
    const cfg = join(dir, 'planner.json');
    writeFileSync(cfg, JSON.stringify({
      environment: 'virtual', namespace: 'hostile', model_name: 'm', metric_pulling_prometheus_endpoint: base,
      profile_results_dir: 'test/fixtures/h100/llama-3.1-8b/npz', throughput_adjustment_interval: 2, load_predictor: 'constant',
      enable_load_scaling: true, load_adjustment_interval: 1, load_metric_samples: 4, load_router_metrics_url: `${base}/metrics`,
      prefill_engine_num_gpu: 1, decode_engine_num_gpu: 1, max_gpu_budget: 16,
    }));
    port = await freePort();
    child = spawn(process.execPath, ['dist/src/cli.js', 'run', '--config', cfg, '--metrics-port', String(port), '--metrics-host', '127.0.0.1', '--decisions-out', '/dev/null', '--prometheus-timeout-ms', '1000'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    child.stdout!.on('data', (c) => {
      buf += String(c);
      const parts = buf.split('\n');
      buf = parts.pop()!;
      for (const p of parts) if (p.trim()) lines.push(JSON.parse(p));
    });
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200, 30_000, 'the daemon ready');
  }, 60_000);

  afterAll(async () => {
    for (const x of timers) clearInterval(x);
    if (child?.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
  });

  const peakRssMb = () => {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : Number.POSITIVE_INFINITY;
  };

  const PHASES: [Phase, RegExp, RegExp][] = [
    ['series-3M', /^prometheus_too_large$/, /^router_too_large$/],
    ['body-400MB', /^prometheus_too_large$/, /^router_too_large$/],
    ['trickle', /^prometheus_timeout$/, /^router_(timeout|parse)$/],
    ['hang', /^prometheus_timeout$/, /^router_timeout$/],
    ['html200', /^prometheus_bad_response$/, /^router_parse$/],
    ['json-null', /^prometheus_bad_response$/, /^router_(parse|unreachable)$|^$/],
    ['http503', /^prometheus_unavailable$/, /^router_http$/],
    ['garbage', /^prometheus_bad_response$/, /^router_parse$/],
  ];

  it.each(PHASES)('%s: alive and healthy, every throughput tick a named hold', async (p, promKind, routerKind) => t.caseAsync(async () => {
    phase = p;
    const n0 = lines.length;
    await new Promise((r) => setTimeout(r, 5500));
    expect(child.exitCode).toBeNull();
    const t0 = Date.now();
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    expect(Date.now() - t0).toBeLessThan(1500);
    const during = lines.slice(n0).filter((l) => l.event === 'decision' && l.loop === 'throughput');
    // A tick that began in the previous phase may still have read its answers; from the first
    // tick that met this phase's fault on, every tick is a hold of that kind.
    const first = during.findIndex((l) => promKind.test(String(l.error_kind)));
    const held = first < 0 ? [] : during.slice(first);
    expect(held.length, JSON.stringify(lines.slice(n0).filter((l) => l.event !== 'decision' || l.loop === 'throughput').slice(-8))).toBeGreaterThanOrEqual(1);
    for (const d of held) {
      expect(d.decided).toBe(false);
      expect(String(d.error_kind)).toMatch(promKind);
    }
    const routerFaults = lines.slice(n0).filter((l) => l.event === 'fault' && String(l.fault).startsWith('source:router_')).map((l) => String(l.kind));
    for (const k of routerFaults) expect(k).toMatch(routerKind);
    expect(peakRssMb()).toBeLessThan(DAEMON_MEMORY_CAP_MB);
    phase = 'ok';
    await new Promise((r) => setTimeout(r, 2500));
  }), 30_000);

  it('after every phase: ticks on data again, and the peak resident memory stayed under the cap', async () => {
    const n0 = lines.length;
    await waitFor(async () => lines.slice(n0).some((l) => l.event === 'decision' && l.loop === 'throughput' && l.observation !== undefined), 15_000, 'a throughput tick on data after the faults')
      .catch((err) => { throw new Error(`${(err as Error).message}; last records: ${JSON.stringify(lines.slice(-6))}`); });
    const peak = peakRssMb();
    process.stdout.write(`daemon peak RSS over all hostile phases: ${peak.toFixed(1)} MB (cap ${DAEMON_MEMORY_CAP_MB} MB)\n`);
    expect(peak).toBeLessThan(DAEMON_MEMORY_CAP_MB);
  }, 30_000);
});
