// `sla-planner simulate` end to end through the CLI dispatcher: output, files and exit codes.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/main.js';

const CONFIG = JSON.stringify({ environment: 'virtual', prefill_engine_num_gpu: 1, decode_engine_num_gpu: 1, ttft: 300, itl: 20, throughput_adjustment_interval: 60, load_predictor: 'constant' });

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
  try {
    const code = await main(['simulate', ...args]);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

afterEach(() => vi.restoreAllMocks());

describe('sla-planner simulate', () => {
  it('runs the shipped trace slice and writes timeline.csv and report.html', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sim-cli-'));
    const { code, stdout } = await cli(['--config', CONFIG, '--profile-dir', 'config/profile', '--trace', 'config/traces/azure2023_code_1h.jsonl', '--duration', '600', '--policy', 'static:2,1', '--out', dir]);
    expect(code).toBe(0);
    const summary = JSON.parse(stdout);
    expect(summary.policy).toBe('static:2,1');
    expect(summary.requests).toBeGreaterThan(100);
    expect(summary.gpu_hours).toBeCloseTo((3 * 600) / 3600, 9);
    for (const key of ['sla_attainment', 'ttft_ms', 'itl_ms', 'gpus', 'scale_up', 'scale_down', 'dropped', 'unfinished']) expect(summary).toHaveProperty(key);
    expect(readFileSync(join(dir, 'timeline.csv'), 'utf8').trim().split('\n')).toHaveLength(1 + 10);
    expect(readFileSync(join(dir, 'report.html'), 'utf8')).toContain('<svg');
  });

  it('reads the Azure CSV and Mooncake formats', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sim-cli-'));
    const csv = join(dir, 'azure.csv');
    writeFileSync(csv, 'TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.3180000,1000,20\n2023-11-16 18:17:04.3180000,2000,10\n');
    const mooncake = join(dir, 'mc.jsonl');
    writeFileSync(mooncake, '{"timestamp": 0, "input_length": 1000, "output_length": 20}\n{"timestamp": 1000, "input_length": 2000, "output_length": 10}\n');
    for (const trace of [csv, mooncake]) {
      const { code, stdout } = await cli(['--config', CONFIG, '--profile-dir', 'config/profile', '--trace', trace, '--policy', 'static:1,1']);
      expect(code).toBe(0);
      expect(JSON.parse(stdout)).toMatchObject({ requests: 2, completed: 2, sla_attainment: 1 });
    }
  });

  it('bad input exits 2 with one line naming the flag', async () => {
    const missing = await cli(['--config', CONFIG, '--profile-dir', 'config/profile']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--trace is required/);
    const policy = await cli(['--config', CONFIG, '--profile-dir', 'config/profile', '--trace', 'config/traces/azure2023_code_1h.jsonl', '--policy', 'bogus']);
    expect(policy.code).toBe(2);
    expect(policy.stderr).toMatch(/--policy 'bogus' is not a policy/);
    expect(policy.stderr.trim().split('\n')).toHaveLength(1);
    const scale = await cli(['--config', CONFIG, '--profile-dir', 'config/profile', '--trace', 'config/traces/azure2023_code_1h.jsonl', '--load-scale', '0']);
    expect(scale.code).toBe(2);
    expect(scale.stderr).toMatch(/--load-scale must be a number > 0/);
    const trace = await cli(['--config', CONFIG, '--profile-dir', 'config/profile', '--trace', 'no/such/trace.jsonl']);
    expect(trace.code).toBe(2);
    expect(trace.stderr).toMatch(/no\/such\/trace\.jsonl/);
    // An --out that cannot be a directory is refused before any simulation time is spent.
    const blocker = join(mkdtempSync(join(tmpdir(), 'sim-cli-')), 'a-file');
    writeFileSync(blocker, 'x');
    const out = await cli(['--config', CONFIG, '--profile-dir', 'config/profile', '--trace', 'config/traces/azure2023_code_1h.jsonl', '--out', join(blocker, 'report')]);
    expect(out.code).toBe(2);
    expect(out.stdout).toBe('');
    expect(out.stderr).toMatch(/--out .*a-file\/report: cannot create or write this directory \(ENOTDIR\)/);
    // Epoch seconds in a seconds-since-start trace used to mean ~28 million empty intervals (a hang).
    const epoch = join(mkdtempSync(join(tmpdir(), 'sim-cli-')), 'epoch.jsonl');
    writeFileSync(epoch, '{"t": 1700000000, "isl": 100, "osl": 10}\n');
    const hang = await cli(['--config', CONFIG, '--profile-dir', 'config/profile', '--trace', epoch, '--policy', 'static:1,1']);
    expect(hang.code).toBe(2);
    expect(hang.stderr).toMatch(/more than a year after the trace start/);
  });

  it('runs several policies on one trace and prints a comparison with GPU-hours against the clairvoyant', async () => {
    const { code, stdout } = await cli(['--config', CONFIG, '--profile-dir', 'config/profile', '--trace', 'config/traces/azure2023_code_1h.jsonl', '--duration', '600', '--policy', 'static:2,1,static:1,1,clairvoyant']);
    expect(code).toBe(0);
    const out = JSON.parse(stdout);
    expect(out.comparison.map((r: { policy: string }) => r.policy)).toEqual(['static:2,1', 'static:1,1', 'clairvoyant']);
    expect(out.summaries).toHaveLength(3);
    const [two, , cv] = out.comparison;
    expect(two.gpu_hours).toBeCloseTo((3 * 600) / 3600, 9);
    expect(two.gpu_hours_vs_clairvoyant).toBeCloseTo(two.gpu_hours / cv.gpu_hours, 12);
    expect(cv.gpu_hours_vs_lower_bound).toBeGreaterThanOrEqual(1);
    for (const key of ['sla_attainment', 'feasible_sla_attainment', 'ttft_p99_ms', 'itl_p99_ms', 'preemptions', 'scale_events']) expect(two).toHaveProperty(key);
  });

  it('static:cheapest finds the fewest GPUs reaching the planner\'s attainment; --out writes one comparison report', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sim-cli-'));
    const { code, stdout } = await cli(['--config', CONFIG, '--profile-dir', 'config/profile', '--trace', 'config/traces/azure2023_code_1h.jsonl', '--duration', '1200', '--policy', 'planner,static:cheapest,hpa', '--out', dir]);
    expect(code).toBe(0);
    const out = JSON.parse(stdout);
    const [planner, found] = out.comparison;
    expect(out.comparison.map((r: { policy: string }) => r.policy)).toEqual(['planner:constant', found.policy, 'hpa:0.7']);
    expect(out.static_search).toMatchObject({ policy: found.policy, goal_sla_attainment: planner.sla_attainment, reference_policy: 'planner:constant', reached: true });
    expect(found.sla_attainment).toBeGreaterThanOrEqual(planner.sla_attainment);
    // No allocation with fewer GPUs reaches the goal: check every one of them.
    const [p, d] = found.policy.replace('static:', '').split(',').map(Number);
    const cheaper: string[] = [];
    for (let pp = 1; pp < p + d; pp++) for (let dd = 1; pp + dd < p + d; dd++) cheaper.push(`static:${pp},${dd}`);
    if (cheaper.length > 0) {
      const check = await cli(['--config', CONFIG, '--profile-dir', 'config/profile', '--trace', 'config/traces/azure2023_code_1h.jsonl', '--duration', '1200', '--policy', cheaper.join(',')]);
      const rows = cheaper.length === 1 ? [JSON.parse(check.stdout)] : JSON.parse(check.stdout).comparison;
      for (const r of rows) expect(r.sla_attainment).toBeLessThan(planner.sla_attainment);
    }
    const html = readFileSync(join(dir, 'report.html'), 'utf8');
    for (const policy of ['planner:constant', found.policy, 'hpa:0.7']) expect(html).toContain(`Replicas of ${policy}`);
    expect(html).toContain('static:cheapest: the fewest GPUs reaching');
    for (const sub of ['planner_constant', found.policy.replace(/[^A-Za-z0-9._-]+/g, '_'), 'hpa_0.7']) {
      expect(readFileSync(join(dir, sub, 'timeline.csv'), 'utf8').split('\n')[0]).toContain('ttft_p99_ms');
      expect(readFileSync(join(dir, sub, 'events.csv'), 'utf8').split('\n')[0]).toBe('t_s,pool,from,to,reason');
    }
  });

  it('the demo (npm start) compares its policies in one report', async () => {
    const start = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: { start: string } }).scripts.start;
    const args = start.replace(/^node dist\/src\/cli\.js simulate /, '').split(' ');
    const dir = mkdtempSync(join(tmpdir(), 'sim-demo-'));
    args[args.indexOf('--out') + 1] = dir;
    const { code, stdout } = await cli(args);
    expect(code).toBe(0);
    const out = JSON.parse(stdout);
    const policies = args[args.indexOf('--policy') + 1].split(',');
    expect(out.comparison).toHaveLength(policies.length);
    expect(out.static_search.reached).toBe(true);
    const html = readFileSync(join(dir, 'report.html'), 'utf8');
    for (const row of out.comparison) expect(html).toContain(`Replicas of ${row.policy}`);
    expect(html.match(/<figure class="chart"/g)).toHaveLength(policies.length + 5);
  });

  it('static:cheapest alone has nothing to match: exit 2', async () => {
    const r = await cli(['--config', CONFIG, '--profile-dir', 'config/profile', '--trace', 'config/traces/azure2023_code_1h.jsonl', '--policy', 'static:cheapest,static:1,1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/static:cheapest needs a scaling policy in the list/);
  });

  it('hostile input exits 2 with one sentence naming the flag, file or field (never a crash, a hang or attainment 1 of nothing)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sim-cli-'));
    const file = (name: string, content: string) => {
      const path = join(dir, name);
      writeFileSync(path, content);
      return path;
    };
    const run = async (args: string[]) => {
      const r = await cli(['--config', CONFIG, '--profile-dir', 'config/profile', ...args]);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      return r.stderr;
    };
    const trace = 'config/traces/azure2023_code_1h.jsonl';
    expect(await run(['--trace', trace, '--initial', '100000000,1'])).toMatch(/--initial 100000000,1 needs 100000001 GPUs, more than max_gpu_budget 8/);
    expect(await run(['--trace', trace, '--policy', 'static:100000000,1'])).toMatch(/--policy static:100000000,1 needs/);
    expect(await run(['--trace', file('neg.jsonl', '{"t": -5, "isl": 1, "osl": 1}\n{"t": -1, "isl": 1, "osl": 1}\n')])).toMatch(/neg\.jsonl: line 1: "t" must be a finite number >= 0/);
    expect(await run(['--trace', file('header.csv', 'TIMESTAMP,ContextTokens,GeneratedTokens\n')])).toMatch(/header\.csv holds no request/);
    expect(await run(['--trace', trace, '--start', '1e6', '--policy', 'static:1,1'])).toMatch(/--start 1000000 s is past the end of trace .*azure2023_code_1h\.jsonl/);
    expect(await run(['--trace', trace, '--load-scale', '1e-300', '--policy', 'static:1,1'])).toMatch(/--load-scale 1e-300 kept none of the 8819 requests/);
    expect(await run(['--trace', file('date.csv', 'TIMESTAMP,ContextTokens,GeneratedTokens\n2023-02-30 00:00:00,1,1\n')])).toMatch(/date\.csv: line 2: TIMESTAMP '2023-02-30 00:00:00' is not a valid datetime/);
    expect(await run(['--trace', trace, '--kv-watermark', '1'])).toMatch(/--kv-watermark must be a share of the KV cache in \[0, 1\)/);
  });

  it('a 2-line trace spanning 104 days at a 1 s interval finishes quickly: idle intervals are skipped', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sim-cli-'));
    const path = join(dir, 'gap.jsonl');
    writeFileSync(path, `{"t": 0, "isl": 100, "osl": 10}\n{"t": ${104 * 86400}, "isl": 100, "osl": 10}\n`);
    const config = JSON.stringify({ ...JSON.parse(CONFIG), throughput_adjustment_interval: 1 });
    const { code, stdout } = await cli(['--config', config, '--profile-dir', 'config/profile', '--trace', path]);
    expect(code).toBe(0);
    const s = JSON.parse(stdout);
    expect(s.completed).toBe(2);
    expect(s.idle_intervals_skipped).toBeGreaterThan(104 * 86400 - 4000);
  });
});
