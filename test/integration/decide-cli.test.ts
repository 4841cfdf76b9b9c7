// `sla-planner decide` end to end: spawns the built CLI (`npx tsc -p tsconfig.json` first;
// `npm test` does that).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const CLI = 'dist/src/cli.js';
import { DECISION_VECTORS, H100 } from '../helpers/fixtures.js';

const VECTORS = DECISION_VECTORS;
const LLAMA = join(H100, 'llama-3.1-8b', 'configmap');

function decide(args: string[], input?: string) {
  const env = { ...process.env };
  delete env.DYN_NAMESPACE;
  delete env.PROMETHEUS_ENDPOINT;
  delete env.PLANNER_PROMETHEUS_PORT;
  const r = spawnSync(process.execPath, [CLI, 'decide', ...args], { encoding: 'utf8', input, env });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function tempFile(name: string, text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'sla-planner-decide-')), name);
  writeFileSync(path, text);
  return path;
}

function expectRejected(run: ReturnType<typeof decide>, ...fragments: string[]) {
  expect(run.code, run.stderr).toBe(2);
  expect(run.stderr).not.toMatch(/\n\s+at /);
  const lines = run.stderr.trimEnd().split('\n');
  expect(lines.length, run.stderr).toBe(1);
  for (const f of fragments) expect(lines[0]).toContain(f);
}

const config = join(VECTORS, 'disagg-constant.config.json');
const observations = join(VECTORS, 'disagg-constant.observations.jsonl');

describe('sla-planner decide', () => {
  it("reproduces the original's disagg-constant decisions, one line per interval", () => {
    const run = decide(['--config', config, '--profile-dir', LLAMA, '--observations', observations]);
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
    const expected = readFileSync(join(VECTORS, 'disagg-constant.expected.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines.length).toBe(expected.length);
    expect(lines.map((l) => [l.prefill, l.decode, l.decided])).toEqual(expected.map((e) => [e.prefill, e.decode, e.decided]));
    // Every line explains itself.
    expect(lines[0].reason).toMatchObject({ code: 'scale', predicted: { num_req: 3073 }, binding: expect.any(String) });
    expect(lines[0].events).toEqual([{ t: 180.2, interval: 0, prefill: lines[0].prefill, decode: lines[0].decode, source: 'throughput' }]);
  });

  it('reads observations from stdin with -', () => {
    const input = readFileSync(observations, 'utf8').split('\n').slice(0, 3).join('\n');
    const run = decide(['--config', config, '--profile-dir', LLAMA, '--observations', '-'], input);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.trimEnd().split('\n')).toHaveLength(3);
  });

  it('holds on an idle line and says why', () => {
    const input = '{"num_req": 900, "isl": 1000, "osl": 200, "ttft": 50, "itl": 12, "request_duration": 3, "current_prefill": 3, "current_decode": 4}\n{"num_req": null, "isl": null, "osl": null, "ttft": null, "itl": null, "request_duration": null}\n';
    const run = decide(['--config', config, '--profile-dir', LLAMA, '--observations', '-'], input);
    expect(run.code, run.stderr).toBe(0);
    const [first, idle] = run.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(idle).toMatchObject({ prefill: first.prefill, decode: first.decode, decided: false, predicted: null, events: [], reason: { code: 'hold_invalid_metrics' } });
  });

  it('rejects a bad line with its line number and exit 2', () => {
    const file = tempFile('obs.jsonl', '{"num_req": 10, "isl": 100, "osl": 10, "ttft": 5, "itl": 5, "request_duration": 1}\n\n{"num_req": 10, "isl": -4}\n');
    expectRejected(decide(['--config', config, '--profile-dir', LLAMA, '--observations', file]), `${file} line 3`, "'isl'", '>= 0');
    expectRejected(decide(['--config', config, '--profile-dir', LLAMA, '--observations', '-'], '{"num_req": 1,\n'), 'stdin line 1', 'not valid JSON');
    expectRejected(decide(['--config', config, '--profile-dir', LLAMA, '--observations', '-'], '{"ttft_ms": 1}\n'), "unknown field 'ttft_ms'");
    // A directory opens fine and only fails on the first read.
    const dir = mkdtempSync(join(tmpdir(), 'sla-planner-decide-'));
    expectRejected(decide(['--config', config, '--profile-dir', LLAMA, '--observations', dir]), `--observations ${dir}`, 'EISDIR');
    expectRejected(decide(['--config', config, '--profile-dir', LLAMA, '--observations', '-'], '{"current_decode": 1.5}\n'), "'current_decode'", 'whole number');
  });

  it('rejects missing flags, files and GPU counts clearly', () => {
    expectRejected(decide(['--config', config, '--profile-dir', LLAMA]), '--observations is required');
    expectRejected(decide(['--config', config, '--profile-dir', LLAMA, '--observations', '/nonexistent/obs.jsonl']), '/nonexistent/obs.jsonl');
    const noGpus = tempFile('c.json', JSON.stringify({ mode: 'decode', environment: 'virtual', load_predictor: 'constant' }));
    expectRejected(decide(['--config', noGpus, '--profile-dir', LLAMA, '--observations', observations]), 'decode_engine_num_gpu is required');
  });
});
