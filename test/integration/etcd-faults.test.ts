// The virtual environment under etcd faults, against a real etcd: a write that commits while its
// answer is lost, etcd down at start-up (actuator and the `run` process), a frozen etcd, a garbage
// acknowledgement and a second writer.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EtcdJson, VirtualActuator, plannerPrefix } from '../../src/actuate/virtual.js';
import { FakePrometheus, BUSY_TRAFFIC } from '../helpers/fakePrometheus.js';
import { freePort, startEtcd, waitFor, type Managed } from '../helpers/procs.js';
import { closeServer } from '../helpers/localServer.js';

/** A proxy in front of etcd that can forward a transaction and then never answer it. */
class LossyProxy {
  private server: Server | undefined;
  dropTxnAnswer = false;
  committedButUnanswered = 0;
  constructor(private readonly target: string) {}
  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const drop = this.dropTxnAnswer && req.url === '/v3/kv/txn';
        const up = request(this.target + req.url, { method: req.method, headers: { 'content-type': 'application/json' } }, (upRes) => {
          const body: Buffer[] = [];
          upRes.on('data', (c) => body.push(c));
          upRes.on('end', () => {
            if (drop) {
              // etcd has applied the transaction; its answer never reaches the planner.
              this.committedButUnanswered++;
              return;
            }
            res.writeHead(upRes.statusCode ?? 502, { 'content-type': 'application/json' }).end(Buffer.concat(body));
          });
        });
        up.end(Buffer.concat(chunks));
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    return this;
  }
  get url(): string {
    return `http://127.0.0.1:${(this.server!.address() as { port: number }).port}`;
  }
  async stop(): Promise<void> {
    await closeServer(this.server);
  }
}

describe('virtual environment under etcd faults (real etcd)', () => {
  let etcd: Managed;
  let direct: EtcdJson;
  beforeAll(async () => {
    etcd = await startEtcd();
    direct = new EtcdJson(etcd.url);
  }, 30_000);
  afterAll(() => etcd?.stop());

  const make = (ns: string, client: EtcdJson) => new VirtualActuator({
    dynamoNamespace: ns, mode: 'disagg', modelName: 'm', gpus: { prefill: 1, decode: 1 }, routerMetricsUrl: null, etcd: client, checkIntervalMs: 50,
  });
  const state = async (ns: string) => {
    const kv = await direct.getPrefix(plannerPrefix(ns));
    const P = plannerPrefix(ns);
    return { prefill: kv[P + 'num_prefill_workers'], decode: kv[P + 'num_decode_workers'], id: kv[P + 'decision_id'] };
  };

  it('a write that commits while its answer is lost: the next decision reads etcd again, never "unchanged" on a stale cache', async () => {
    const proxy = await new LossyProxy(etcd.url).start();
    try {
      const ns = 'lost-ack';
      const a = make(ns, new EtcdJson(proxy.url, { timeoutMs: 400, backoffMs: 1 }));
      await a.init();
      expect(await a.apply({ prefill: 6, decode: 4 }, { blocking: false })).toMatchObject({ status: 'applied' });
      await direct.put(plannerPrefix(ns) + 'scaled_decision_id', '0');

      proxy.dropTxnAnswer = true;
      const lost = await a.apply({ prefill: 1, decode: 1 }, { blocking: false });
      expect(lost).toMatchObject({ status: 'failed', errorKind: 'etcd_timeout' });
      expect(lost.message).toContain('the write may have been applied');
      expect(proxy.committedButUnanswered).toBe(1);
      expect(await state(ns)).toEqual({ prefill: '1', decode: '1', id: '1' });
      proxy.dropTxnAnswer = false;
      await new Promise((r) => setTimeout(r, 20));

      // The planner wants 6/4 again. With the old cache it would log "unchanged" forever while
      // etcd says 1/1; it reads etcd, sees 1/1 under decision 1, and waits for that acknowledgement.
      expect(await a.view()).toMatchObject({ prefill: 1, decode: 1, ready: false });
      expect(await a.apply({ prefill: 6, decode: 4 }, { blocking: false })).toMatchObject({ status: 'pending_ack' });
      await direct.put(plannerPrefix(ns) + 'scaled_decision_id', '1');
      expect(await a.apply({ prefill: 6, decode: 4 }, { blocking: false })).toMatchObject({ status: 'applied', written: { prefill: 6, decode: 4 } });
      expect(await state(ns)).toEqual({ prefill: '6', decode: '4', id: '2' });
    } finally {
      await proxy.stop();
    }
  });

  it('a second writer moved decision_id: the guarded write is refused, then the state is read again', async () => {
    const ns = 'two-writers';
    const a = make(ns, new EtcdJson(etcd.url));
    await a.init();
    await a.apply({ prefill: 2, decode: 2 }, { blocking: false });
    await direct.put(plannerPrefix(ns) + 'scaled_decision_id', '0');
    await direct.put(plannerPrefix(ns) + 'decision_id', '7');
    expect(await a.apply({ prefill: 3, decode: 2 }, { blocking: false })).toMatchObject({ status: 'failed', errorKind: 'etcd_conflict' });
    expect((await state(ns)).id).toBe('7');
    await direct.put(plannerPrefix(ns) + 'scaled_decision_id', '7');
    expect(await a.apply({ prefill: 3, decode: 2 }, { blocking: false })).toMatchObject({ status: 'applied' });
    expect(await state(ns)).toEqual({ prefill: '3', decode: '2', id: '8' });
  });

  it('a garbage acknowledgement is reported and does not block writes for SCALING_MAX_WAIT_TIME', async () => {
    const ns = 'garbage-ack';
    const a = make(ns, new EtcdJson(etcd.url));
    await a.init();
    await a.apply({ prefill: 1, decode: 1 }, { blocking: false });
    // No acknowledgement yet: the protocol's wait.
    expect((await a.apply({ prefill: 2, decode: 1 }, { blocking: false })).status).toBe('pending_ack');
    await direct.put(plannerPrefix(ns) + 'scaled_decision_id', 'not-a-number');
    const out = await a.apply({ prefill: 2, decode: 1 }, { blocking: false });
    expect(out).toMatchObject({ status: 'applied', faults: [{ kind: 'etcd_bad_acknowledgement' }] });
    expect(out.faults![0].message).toContain("scaled_decision_id is 'not-a-number'");
    expect((await a.view()).ready).toBe(true);
  });

  it('a frozen etcd costs one timeout per back-off window, not one per call', async () => {
    const ns = 'frozen';
    const client = new EtcdJson(etcd.url, { timeoutMs: 300, backoffMs: 1500 });
    const a = make(ns, client);
    await a.init();
    await a.apply({ prefill: 1, decode: 1 }, { blocking: false });
    await direct.put(plannerPrefix(ns) + 'scaled_decision_id', '0');
    etcd.pause!();
    try {
      // Frozen for sure (a stopped process still accepts connections) before timing anything; on a
      // loaded machine SIGSTOP may land after a first probe has been answered, so probe until it times out.
      await waitFor(async () => {
        try {
          await new EtcdJson(etcd.url, { timeoutMs: 300 }).get('probe');
          return false;
        } catch (err) {
          return (err as { kind?: string }).kind === 'etcd_timeout';
        }
      }, 10_000, 'etcd to stop answering after SIGSTOP');
      let t0 = Date.now();
      expect(await a.apply({ prefill: 2, decode: 1 }, { blocking: false })).toMatchObject({ status: 'failed', errorKind: 'etcd_timeout' });
      expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
      t0 = Date.now();
      for (let i = 0; i < 5; i++) {
        const out = await a.apply({ prefill: 2, decode: 1 }, { blocking: false });
        expect(out).toMatchObject({ status: 'failed', errorKind: 'etcd_unreachable' });
        expect(out.message).toMatch(/etcd not called for [\d.]+ s more after a failure/);
      }
      // The serving workers cannot be counted: the view fails at once (a named hold in the daemon), not after a timeout.
      await expect(a.view()).rejects.toMatchObject({ kind: 'etcd_unreachable' });
      // Five skipped calls and a view together cost far less than one timeout each.
      expect(Date.now() - t0).toBeLessThan(300);
    } finally {
      etcd.resume!();
    }
    await waitFor(async () => (await a.apply({ prefill: 2, decode: 1 }, { blocking: false })).status === 'applied', 10_000, 'writes after etcd thaws');
    expect(await state(ns)).toEqual({ prefill: '2', decode: '1', id: '1' });
  });

  it('etcd down when the actuator starts: init succeeds, reads and writes fail as holds, and all works once etcd is up', async () => {
    const port = await freePort();
    const a = make('late', new EtcdJson(`127.0.0.1:${port}`, { timeoutMs: 300, backoffMs: 1 }));
    await a.init();
    await expect(a.connect()).rejects.toMatchObject({ kind: 'etcd_unreachable' });
    await expect(a.view()).rejects.toThrow(/etcd unreachable/);
    expect(await a.apply({ prefill: 1, decode: 1 }, { blocking: false })).toMatchObject({ status: 'failed', errorKind: 'etcd_unreachable' });
    const late = await startEtcd({ port });
    try {
      await waitFor(async () => { await a.connect(); return a.connected; }, 10_000, 'the actuator to connect');
      expect(await a.apply({ prefill: 1, decode: 1 }, { blocking: false })).toMatchObject({ status: 'applied' });
    } finally {
      await late.stop();
    }
  }, 40_000);
});

describe('sla-planner run with etcd down at start-up (process)', () => {
  let child: ChildProcess | undefined;
  let etcd: Managed | undefined;
  let prom: FakePrometheus;
  beforeAll(async () => {
    prom = await new FakePrometheus(BUSY_TRAFFIC, { model: 'm', dynamo_namespace: 'late-ns' }).start();
  });
  afterEach(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    await etcd?.stop();
  });
  afterAll(() => prom.stop());

  it('does not exit: /readyz is 503 and names etcd, every tick holds, and it becomes ready once etcd starts', async () => {
    const etcdPort = await freePort();
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'sla-late-etcd-'));
    const cfg = join(dir, 'planner.json');
    writeFileSync(cfg, JSON.stringify({
      environment: 'virtual', namespace: 'late-ns', model_name: 'm', metric_pulling_prometheus_endpoint: prom.url,
      profile_results_dir: 'test/fixtures/h100/llama-3.1-8b/npz', throughput_adjustment_interval: 1, load_predictor: 'constant',
      prefill_engine_num_gpu: 1, decode_engine_num_gpu: 1, max_gpu_budget: 16,
    }));
    const lines: string[] = [];
    child = spawn(process.execPath, ['dist/src/cli.js', 'run', '--config', cfg, '--metrics-port', String(port), '--metrics-host', '127.0.0.1', '--etcd-endpoints', `127.0.0.1:${etcdPort}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (c) => lines.push(...String(c).split('\n').filter(Boolean)));
    const readyz = async () => {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      return { status: res.status, body: await res.json() as { waiting_for: string[]; open_faults: string[] } };
    };
    await waitFor(async () => (await readyz()).body.open_faults.some((f) => f.startsWith('source:connect_etcd')), 15_000, 'the etcd connect fault in /readyz');
    const before = await readyz();
    expect(before.status).toBe(503);
    expect(before.body.waiting_for).toContain('virtual environment state (retrying with back-off)');
    await new Promise((r) => setTimeout(r, 2500));
    expect(child.exitCode).toBeNull();
    const decisions = lines.map((l) => JSON.parse(l)).filter((l) => l.event === 'decision');
    expect(decisions.length).toBeGreaterThanOrEqual(1);
    expect(decisions.every((d) => d.decided === false || d.actuation?.status === 'failed')).toBe(true);

    etcd = await startEtcd({ port: etcdPort });
    await waitFor(async () => (await readyz()).status === 200, 40_000, '/readyz 200 after etcd starts');
    expect(lines.some((l) => l.includes('"event":"environment_connected"'))).toBe(true);
  }, 90_000);
});
