// `sla-planner interpolate` through the CLI dispatcher: output shape, values, exit codes.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/main.js';

const H200 = 'test/fixtures/dynamo/profiling_results/H200_TP1P_TP1D';
const expected = JSON.parse(readFileSync(`${H200}/expected-interpolation.upstream-4159c6fdd.json`, 'utf8'));

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((stdout += String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((stderr += String(chunk)), true));
  const code = await main(['interpolate', ...args]);
  vi.restoreAllMocks();
  return { code, stdout, stderr };
}

afterEach(() => vi.restoreAllMocks());

describe('sla-planner interpolate', () => {
  it('prefill: prints {isl, ttft_ms, thpt_per_gpu} as the original computes them', async () => {
    const want = expected.prefill.find((p: { isl: number }) => p.isl === 3000);
    const { code, stdout, stderr } = await cli(['--profile-dir', `${H200}/npz`, '--isl', '3000']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const out = JSON.parse(stdout);
    expect(Object.keys(out)).toEqual(['isl', 'ttft_ms', 'thpt_per_gpu']);
    expect(out.isl).toBe(3000);
    expect(out.ttft_ms).toBeCloseTo(want.ttft_ms, 9);
    expect(out.thpt_per_gpu).toBeCloseTo(want.thpt_per_gpu, 6);
  });

  it('decode: best throughput/GPU under an ITL target at a context', async () => {
    const want = expected.decode_best[0]; // ITL 10 ms at context 3150
    const { code, stdout } = await cli(['--profile-dir', `${H200}/configmap`, '--context', String(want.context_length), '--itl', String(want.itl_target_ms)]);
    expect(code).toBe(0);
    const out = JSON.parse(stdout);
    expect(Object.keys(out)).toEqual(['context', 'itl_target_ms', 'thpt_per_gpu', 'itl_ms', 'kv_usage']);
    expect(out.kv_usage).toBe(want.kv_usage);
    expect(out.thpt_per_gpu).toBeCloseTo(want.thpt_per_gpu, 6);
    expect(out.itl_ms).toBeCloseTo(want.itl_ms, 9);
  });

  it('decode: ITL and throughput at a concurrency, from a ConfigMap object file', async () => {
    const want = expected.decode_itl[2]; // 100 requests at context 3150
    const { code, stdout } = await cli(['--profile-dir', `${H200}/planner-profile-data.configmap.json`, '--context', '3150', '--concurrency', '100']);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({ context: 3150, concurrency: 100, itl_ms: expect.closeTo(want.itl_ms, 9), thpt_per_gpu: expect.closeTo(want.thpt_per_gpu, 6) });
  });

  it.each([
    [['--profile-dir', H200, '--isl', '100', '--context', '300', '--itl', '10'], 'give either --isl, or --context with --itl or --concurrency'],
    [['--profile-dir', H200, '--context', '300'], 'a decode query needs --context and exactly one of --itl or --concurrency'],
    [['--profile-dir', H200, '--itl', '10'], 'a decode query needs --context'],
    [['--isl', '100'], '--profile-dir is required'],
    [['--profile-dir', H200, '--isl', 'many'], "--isl must be a number >= 0, got 'many'"],
  ])('usage mistake %j exits 2 with one line', async (args, message) => {
    const { code, stdout, stderr } = await cli(args);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain(message);
    expect(stderr.trim().split('\n')).toHaveLength(1);
  });

  it('a dir without profile data exits 2 naming what was looked for', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sla-planner-interp-'));
    const { code, stderr } = await cli(['--profile-dir', dir, '--isl', '100']);
    expect(code).toBe(2);
    expect(stderr).toContain(`profiling results are required: ${dir} has no selected_prefill_interpolation/raw_data.npz or prefill_raw_data.json`);
  });

  it('--help prints the usage and exits 0', async () => {
    const { code, stdout } = await cli(['--help']);
    expect(code).toBe(0);
    expect(stdout).toContain('Usage: sla-planner interpolate --profile-dir <dir> (--isl N | --context N --itl MS');
  });
});
