// Predictor notices of the one-shot commands (simulate, forecast, decide) are log lines in the
// daemon's JSON format on stderr, filtered by --log-level (default warn), never plain text.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const CLI = 'dist/src/cli.js';
const TRACE = 'config/traces/azure2023_code_1h.jsonl';
const ARIMA = JSON.stringify({ environment: 'virtual', prefill_engine_num_gpu: 1, decode_engine_num_gpu: 1, ttft: 300, itl: 20, throughput_adjustment_interval: 60, load_predictor: 'arima' });

function run(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, lines };
}

function observationsFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'log-level-'));
  const file = join(dir, 'obs.jsonl');
  // A ramp long enough for ARIMA to select an order.
  const lines = Array.from({ length: 40 }, (_, i) => JSON.stringify({ num_req: 100 + 10 * i + (i % 3) * 7, isl: 3000, osl: 150, ttft: 80, itl: 10, request_duration: 2, current_prefill: 1, current_decode: 1 }));
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

/** The output without the measured forecast costs, the figures that differ between runs. */
const withoutTimings = (stdout: string) => stdout.replace(/"(p95|max)_predict_ms": [0-9.e+-]+/g, '"$1_predict_ms": 0');

const commands: Array<[string, string[]]> = [
  ['simulate', ['simulate', '--config', ARIMA, '--profile-dir', 'config/profile', '--trace', TRACE, '--duration', '1800', '--policy', 'planner']],
  ['forecast', ['forecast', '--trace', TRACE, '--interval', '60', '--predictor', 'arima']],
  ['decide', ['decide', '--config', ARIMA, '--profile-dir', 'config/profile', '--observations', observationsFile()]],
];

describe('--log-level of the one-shot commands', () => {
  for (const [name, args] of commands) {
    it(`${name}: info notices hidden by default, JSON log lines at --log-level info`, () => {
      const quiet = run(args);
      expect(quiet.code, quiet.stderr).toBe(0);
      expect(quiet.stderr).not.toMatch(/selected order/);
      // Whatever is left on stderr at the default level is warn or above, as JSON log lines.
      for (const line of quiet.lines) expect(['warn', 'error']).toContain((JSON.parse(line) as { level: string }).level);

      const loud = run([...args, '--log-level', 'info']);
      expect(loud.code, loud.stderr).toBe(0);
      const records = loud.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      const notices = records.filter((r) => r.event === 'predictor_notice' && r.level === 'info');
      expect(notices.length).toBeGreaterThan(0);
      expect(notices[0]).toMatchObject({ ts: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), message: expect.stringMatching(/^arima: selected order \(\d,\d,\d\)/) });
      // The command's own output on stdout is untouched by logging.
      expect(withoutTimings(loud.stdout)).toBe(withoutTimings(quiet.stdout));
    }, 60_000);
  }

  it('a forecast that fails is a warn line even at the default level', () => {
    // The shipped trace at 60 s makes one ARIMA fit diverge (the notice falls back to the last value).
    const r = run(['forecast', '--trace', TRACE, '--interval', '60', '--predictor', 'arima']);
    const warned = r.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((x) => x.level === 'warn');
    expect(warned.length).toBeGreaterThan(0);
    expect(warned[0]).toMatchObject({ event: 'predictor_notice', message: expect.stringMatching(/^arima: forecast failed \(.*\); using the last value/) });
  }, 60_000);

  it('a bad level is exit 2 naming the choices', () => {
    const r = run(['forecast', '--trace', TRACE, '--interval', '60', '--log-level', 'loud']);
    expect(r.code).toBe(2);
    expect(r.lines).toHaveLength(1);
    expect(r.stderr).toMatch(/--log-level must be one of debug, info, warn, error, got 'loud'/);
  });
});
