// Process-level: the mistakes and accidents that used to end in a stack trace or the wrong exit
// code. Each is exit 2 with one sentence naming the input.
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const CLI = 'dist/src/cli.js';
const PROFILE = 'test/fixtures/h100/llama-3.1-8b/npz';
const VECTOR = 'test/fixtures/vectors/decisions/disagg-constant';
const dir = mkdtempSync(join(tmpdir(), 'sla-cli-faults-'));

function cli(args: string[], extraEnv: Record<string, string> = {}, timeout = 30_000) {
  const env = { PATH: process.env.PATH ?? '', ...extraEnv };
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env, timeout });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

function expectOneLine(r: ReturnType<typeof cli>, code: number, pattern: RegExp): void {
  expect(r.signal, r.stderr).toBeNull();
  expect(r.code, r.stderr).toBe(code);
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at |Error:/);
}

/** Run a command whose stdout reader has already gone away. */
function withClosedStdout(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.destroy();
    let stderr = '';
    child.stderr!.on('data', (c) => (stderr += c));
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

const virtualCfg = (extra: Record<string, unknown> = {}) => JSON.stringify({ environment: 'virtual', prefill_engine_num_gpu: 1, decode_engine_num_gpu: 1, profile_results_dir: PROFILE, ...extra });

describe('CLI faults', () => {
  it('stdout closed by its reader (`decide ... | head -1`): one sentence, exit 2, for every command that prints', async () => {
    const obs = join(dir, 'many.jsonl');
    const out = createWriteStream(obs);
    for (let i = 0; i < 50; i++) out.write(readFileSync(`${VECTOR}.observations.jsonl`, 'utf8'));
    await new Promise((r) => out.end(r));
    const commands: string[][] = [
      ['decide', '--config', `${VECTOR}.config.json`, '--observations', obs, '--profile-dir', PROFILE],
      ['validate', '--config', virtualCfg()],
      ['interpolate', '--profile-dir', PROFILE, '--isl', '3000'],
      ['forecast', '--trace', 'test/fixtures/traces/mooncake_arxiv_first1000.jsonl', '--interval', '60', '--predictor', 'constant'],
      ['profile', '--model', 'qwen3-0.6b', '--gpu', 'h100-sxm', '--dry-run'],
    ];
    for (const args of commands) {
      const r = await withClosedStdout(args);
      expect(r.code, `${args[0]}: ${r.stderr}`).toBe(2);
      expect(r.stderr.trim().split('\n'), args[0]).toEqual([`sla-planner ${args[0]}: stdout was closed before all output was written (EPIPE); output is incomplete.`]);
    }
  }, 120_000);

  it('--metrics-port out of range, a --metrics-host that is not an address, malformed URLs: exit 2 at once, no lookup', () => {
    expectOneLine(cli(['run', '--config', virtualCfg(), '--decisions-out', '-', '--metrics-port', '99999']), 2, /^sla-planner run: --metrics-port must be an integer from 0 to 65535, got '99999'\.$/);
    expectOneLine(cli(['run', '--config', virtualCfg(), '--decisions-out', '-', '--metrics-host', 'my laptop']), 2, /--metrics-host 'my laptop' is not an IP address/);
    for (const bad of ['http//etcd:2379', 'etcd 2379', '127.0.0.1;2379', 'http://etcd:2379/v3/kv', 'ftp://etcd']) {
      const t0 = Date.now();
      expectOneLine(cli(['run', '--config', virtualCfg(), '--etcd-endpoints', bad]), 2, new RegExp(`--etcd-endpoints: '${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}' is not an etcd client URL`));
      expect(Date.now() - t0).toBeLessThan(15_000);
    }
    expectOneLine(cli(['run', '--config', JSON.stringify({ environment: 'global-planner', global_planner_namespace: 'g', prefill_engine_num_gpu: 1, decode_engine_num_gpu: 1, profile_results_dir: PROFILE }), '--global-planner-url', 'not a url'], { DYN_PARENT_DGD_K8S_NAME: 'dgd', POD_NAMESPACE: 'ns' }), 2, /--global-planner-url 'not a url' is not an http\(s\) URL/);
    expectOneLine(cli(['run', '--config', JSON.stringify({ profile_results_dir: PROFILE }), '--api-server', 'ftp://k8s'], { DYN_PARENT_DGD_K8S_NAME: 'dgd' }), 2, /--api-server 'ftp:\/\/k8s' is not an http\(s\) URL/);
  }, 120_000);

  it('log_dir that is a file: exit 2 naming it', () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    expectOneLine(cli(['run', '--config', virtualCfg({ log_dir: file }), '--decisions-out', '-']), 2, new RegExp(`log_dir '${file}': cannot write ${file}/planner.jsonl \\(it \\(or a parent\\) is a file, not a directory\\)`));
  });

  it('an observation line over the limit is refused by line number before it is held in memory', () => {
    const obs = join(dir, 'long.jsonl');
    writeFileSync(obs, '{"num_req": 1}\n' + 'x'.repeat(17 * 1024 * 1024) + '\n');
    expectOneLine(cli(['decide', '--config', `${VECTOR}.config.json`, '--observations', obs, '--profile-dir', PROFILE]), 2, new RegExp(`${obs} line 2: longer than 16777216 bytes`));
  });

  it('a config that cannot work: validate refuses it, run starts but says so on stderr', async () => {
    const cfg = virtualCfg({ prefill_engine_num_gpu: 8, decode_engine_num_gpu: 8, max_gpu_budget: 8 });
    expectOneLine(cli(['validate', '--config', cfg]), 2, /max_gpu_budget 8 cannot hold min_endpoint 1 of each managed pool/);
    const child = spawn(process.execPath, [CLI, 'run', '--config', cfg, '--decisions-out', '/dev/null', '--metrics-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    child.stderr!.on('data', (c) => (stderr += c));
    child.stdout!.on('data', (c) => (stdout += c));
    await new Promise((r) => setTimeout(r, 4000));
    expect(child.exitCode).toBeNull();
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
    expect(stderr).toMatch(/^sla-planner run: warning: inline --config JSON: max_gpu_budget 8 cannot hold/);
    expect(stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((l) => l.event === 'config_cannot_work')).toMatchObject({ level: 'error' });
  }, 30_000);
});
