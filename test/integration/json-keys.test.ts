// Every command's JSON output uses snake_case keys (the Dynamo planner's convention): each command is
// run as a process and every key of every JSON document it prints or writes is checked.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DECISION_VECTORS, H100 } from '../helpers/fixtures.js';
import { jsonDocuments, nonSnakeKeys } from '../helpers/jsonKeys.js';

const CLI = 'dist/src/cli.js';
const PROFILE = 'config/profile';
const TRACE = 'config/traces/azure2023_code_1h.jsonl';

function cli(args: string[]): unknown[] {
  const env = { ...process.env };
  for (const k of ['DYN_NAMESPACE', 'PROMETHEUS_ENDPOINT', 'PLANNER_PROMETHEUS_PORT']) delete env[k];
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env, maxBuffer: 64 << 20 });
  expect(r.status, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  const docs = jsonDocuments(r.stdout);
  expect(docs.length).toBeGreaterThan(0);
  return docs;
}

describe('JSON output keys are snake_case', () => {
  it('the checker finds a camelCase key however deep it sits', () => {
    expect(nonSnakeKeys({ ok_key: [{ nested: { badKey: 1, p99: 2 } }], 'kebab-key': 1 })).toEqual(['$.ok_key[0].nested.badKey', '$.kebab-key']);
  });

  const commands: Array<[string, string[]]> = [
    ['validate', ['validate', '--config', 'config/planner-config.json', '--profile-dir', PROFILE]],
    ['interpolate prefill', ['interpolate', '--profile-dir', PROFILE, '--isl', '3000']],
    ['interpolate decode at an ITL', ['interpolate', '--profile-dir', PROFILE, '--context', '3000', '--itl', '20']],
    ['interpolate decode at a concurrency', ['interpolate', '--profile-dir', PROFILE, '--context', '3000', '--concurrency', '8']],
    ['forecast', ['forecast', '--trace', TRACE, '--interval', '60', '--predictor', 'all']],
    ['simulate (one policy)', ['simulate', '--config', 'config/planner-config.json', '--profile-dir', PROFILE, '--trace', TRACE, '--duration', '900']],
    ['simulate (comparison)', ['simulate', '--config', 'config/planner-config.json', '--profile-dir', PROFILE, '--trace', TRACE, '--duration', '900', '--policy', 'planner,static:2,1,hpa,clairvoyant']],
  ];
  for (const vector of ['disagg-constant', 'prefill-only', 'idle-gaps', 'decode-kalman']) {
    const base = join(DECISION_VECTORS, vector);
    const profile = join(H100, readFileSync(`${base}.profile`, 'utf8').trim(), 'configmap');
    commands.push([`decide (${vector})`, ['decide', '--config', `${base}.config.json`, '--profile-dir', profile, '--observations', `${base}.observations.jsonl`]]);
  }
  {
    // Load and throughput scaling: the reasons carry the load rule's steps.
    const input = JSON.parse(readFileSync(join(DECISION_VECTORS, 'example-load_and_throughput_disagg.input.json'), 'utf8')) as { config: object; observations: object[] };
    const dir = mkdtempSync(join(tmpdir(), 'json-keys-decide-'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...input.config, load_router_metrics_url: 'http://127.0.0.1:1/metrics' }));
    writeFileSync(join(dir, 'obs.jsonl'), input.observations.map((o) => JSON.stringify(o)).join('\n') + '\n');
    commands.push(['decide (load and throughput scaling)', ['decide', '--config', join(dir, 'config.json'), '--profile-dir', join(H100, 'llama-3.1-8b', 'configmap'), '--observations', join(dir, 'obs.jsonl')]]);
  }
  for (const [what, args] of commands) {
    it(what, () => {
      const bad = cli(args).flatMap((doc) => nonSnakeKeys(doc));
      expect(bad).toEqual([]);
    }, 60_000);
  }

  it('profile: the JSON files it writes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'json-keys-profile-'));
    const r = spawnSync(process.execPath, [CLI, 'profile', '--model', 'qwen3-0.6b', '--gpu', 'h100-sxm', '--output-dir', dir], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    for (const file of ['prefill_raw_data.json', 'decode_raw_data.json', 'planner_config.json']) {
      expect(nonSnakeKeys(JSON.parse(readFileSync(join(dir, file), 'utf8')))).toEqual([]);
    }
  }, 60_000);
});
