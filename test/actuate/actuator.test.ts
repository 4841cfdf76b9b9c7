import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GlobalPlannerActuator, type ScaleRequest } from '../../src/actuate/global.js';
import { SerialActuator } from '../../src/actuate/serial.js';
import { JsonlSink } from '../../src/actuate/virtual.js';
import { InputError } from '../../src/util/errors.js';
import type { Actuator, ApplyOutcome, ScaleTarget } from '../../src/actuate/types.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('SerialActuator', () => {
  it('never lets two writes interleave, in call order', async () => {
    const events: string[] = [];
    const inner: Actuator = {
      name: 'x',
      init: async () => ({ prefillGpus: 1, decodeGpus: 1, modelName: null, routerMetricsUrl: null, services: {} }),
      view: async () => ({ prefill: 1, decode: 1, ready: true }),
      apply: async (t: ScaleTarget): Promise<ApplyOutcome> => {
        events.push(`start ${JSON.stringify(t)}`);
        await sleep(t.prefill === 9 ? 60 : 5);
        events.push(`end ${JSON.stringify(t)}`);
        if (t.decode === 0) throw new Error('refused');
        return { status: 'applied', written: t };
      },
    };
    const s = new SerialActuator(inner);
    const results = await Promise.allSettled([
      s.apply({ prefill: 9 }, { blocking: false }),
      s.apply({ decode: 0 }, { blocking: true }),
      s.apply({ decode: 3 }, { blocking: true }),
    ]);
    expect(events).toEqual(['start {"prefill":9}', 'end {"prefill":9}', 'start {"decode":0}', 'end {"decode":0}', 'start {"decode":3}', 'end {"decode":3}']);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  });

  it('dry run writes nothing', async () => {
    let calls = 0;
    const inner = { name: 'x', init: async () => ({}) as never, view: async () => ({ prefill: 1, decode: 1, ready: true }), apply: async () => { calls++; return { status: 'applied' as const }; } };
    expect(await new SerialActuator(inner, true).apply({ prefill: 3 }, { blocking: false })).toEqual({ status: 'dry_run' });
    expect(calls).toBe(0);
  });
});

describe('GlobalPlannerActuator', () => {
  it('POSTs the original ScaleRequest JSON and reads the ScaleResponse', async () => {
    const got: ScaleRequest[] = [];
    let reply: Record<string, unknown> = { status: 'success', message: 'ok', current_replicas: { prefill: 2, decode: 3 } };
    const server = createServer((req, res) => {
      let b = '';
      req.on('data', (c) => (b += c));
      req.on('end', () => {
        got.push(JSON.parse(b));
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reply));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/scale_request`;
    const a = new GlobalPlannerActuator({
      url, callerNamespace: 'team-a-dgd', graphDeploymentName: 'dgd', k8sNamespace: 'team-a', mode: 'disagg',
      gpus: { prefill: 1, decode: 1 }, modelName: 'm', routerMetricsUrl: null, now: () => 1_700_000_000_000,
    });
    const out = await a.apply({ prefill: 2, decode: 3 }, { blocking: false, predictedLoad: { num_requests: 120, isl: 3000, osl: 150 } });
    expect(out).toEqual({ status: 'applied', written: { prefill: 2, decode: 3 }, message: 'ok' });
    expect(got[0]).toEqual({
      caller_namespace: 'team-a-dgd', graph_deployment_name: 'dgd', k8s_namespace: 'team-a',
      target_replicas: [
        { sub_component_type: 'prefill', component_name: null, desired_replicas: 2 },
        { sub_component_type: 'decode', component_name: null, desired_replicas: 3 },
      ],
      blocking: false, timestamp: 1_700_000_000, predicted_load: { num_requests: 120, isl: 3000, osl: 150 },
    });
    expect(await a.view()).toEqual({ prefill: 2, decode: 3, ready: true });
    reply = { status: 'rejected', message: 'over budget' };
    expect(await a.apply({ decode: 9 }, { blocking: false })).toMatchObject({ status: 'failed', errorKind: 'global_planner_rejected' });
    reply = { status: 'error', message: 'bad' };
    expect(await a.apply({ decode: 9 }, { blocking: false })).toMatchObject({ status: 'failed', errorKind: 'global_planner_error' });
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    expect(await a.apply({ decode: 9 }, { blocking: false })).toMatchObject({ status: 'failed', errorKind: 'global_planner_unreachable' });
  });
});

describe('JsonlSink', () => {
  it('refuses an unwritable --decisions-out at start-up with one sentence (exit 2 in the CLI)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sla-sink-'));
    const file = join(dir, 'plain-file');
    writeFileSync(file, '');
    expect(() => new JsonlSink(join(file, 'decisions.jsonl'))).toThrow(InputError);
    expect(() => new JsonlSink(join(file, 'decisions.jsonl'))).toThrow(/--decisions-out .*: cannot append to it \(ENOTDIR\)/);
    const ok = new JsonlSink(join(dir, 'decisions.jsonl'));
    ok.write({ decision_id: 0 });
    expect(readFileSync(join(dir, 'decisions.jsonl'), 'utf8')).toBe('{"decision_id":0}\n');
  });
});
