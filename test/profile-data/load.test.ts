// Locating and validating profile data: every fixture in both layouts, the ConfigMap object,
// the npz-first rule, and one clear error per kind of bad data.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { buildInterpolators, loadProfileDir } from '../../src/profile-data/index.js';
import { writeNpz } from '../../src/profile-data/npz.js';
import { InputError } from '../../src/util/errors.js';

const FIX = 'test/fixtures';
const FIXTURES = [`${FIX}/h100/qwen3-0.6b`, `${FIX}/h100/llama-3.1-8b`, `${FIX}/dynamo/profiling_results/H200_TP1P_TP1D`];

const tmp = () => mkdtempSync(join(tmpdir(), 'sla-planner-profile-'));
const json = (path: string) => JSON.parse(readFileSync(path, 'utf8'));

describe.each(FIXTURES)('fixture %s', (base) => {
  it('loads the same numbers from the npz layout, the ConfigMap dir and the ConfigMap object', () => {
    const npz = loadProfileDir(`${base}/npz`);
    const dir = loadProfileDir(`${base}/configmap`);
    const cmFile = base.includes('H200') ? `${base}/planner-profile-data.configmap.json` : `${base}/configmap/planner-profile-data.configmap.json`;
    const cm = loadProfileDir(cmFile);
    expect(npz.source.prefill).toBe(join(`${base}/npz`, 'selected_prefill_interpolation/raw_data.npz'));
    expect(dir.source.decode).toBe(join(`${base}/configmap`, 'decode_raw_data.json'));
    expect(cm.source.prefill).toBe(`${cmFile} data.prefill_raw_data.json`);
    for (const other of [dir, cm]) {
      expect(other.prefill).toEqual(npz.prefill);
      expect(other.decode).toEqual(npz.decode);
    }
    const raw = json(`${base}/configmap/decode_raw_data.json`);
    expect(npz.decode.maxKvTokens).toBe(raw.max_kv_tokens);
    expect(npz.decode.itlMs).toEqual(raw.z_itl);
    expect(npz.prefill.isl).toEqual(json(`${base}/configmap/prefill_raw_data.json`).prefill_isl);
  });
});

describe('layouts', () => {
  it('accepts the ConfigMap object as YAML', () => {
    const cm = json(`${FIX}/h100/qwen3-0.6b/configmap/planner-profile-data.configmap.json`);
    const path = join(tmp(), 'planner-profile-data.yaml');
    writeFileSync(path, toYaml(cm));
    expect(loadProfileDir(path).decode.maxKvTokens).toBe(607545);
  });

  it('prefers the npz file over the JSON file when both exist, per part', () => {
    const dir = tmp();
    cpSync(`${FIX}/h100/qwen3-0.6b/configmap`, dir, { recursive: true });
    mkdirSync(join(dir, 'selected_prefill_interpolation'));
    writeNpz(join(dir, 'selected_prefill_interpolation', 'raw_data.npz'), {
      prefill_isl: { dtype: '<i8', data: [100, 200, 400, 800] },
      prefill_ttft: { dtype: '<f8', data: [10, 12, 15, 22] },
      prefill_thpt_per_gpu: { dtype: '<f8', data: [10000, 16666, 26666, 36363] },
    });
    const data = loadProfileDir(dir);
    expect(data.prefill.isl).toEqual([100, 200, 400, 800]);
    expect(data.source.prefill).toMatch(/selected_prefill_interpolation\/raw_data\.npz$/);
    expect(data.source.decode).toMatch(/decode_raw_data\.json$/);
  });

  it('accepts max_kv_tokens as a one-element list in JSON too (the npz shape)', () => {
    const dir = tmp();
    cpSync(`${FIX}/h100/qwen3-0.6b/configmap`, dir, { recursive: true });
    const raw = json(join(dir, 'decode_raw_data.json'));
    writeFileSync(join(dir, 'decode_raw_data.json'), JSON.stringify({ ...raw, max_kv_tokens: [raw.max_kv_tokens] }));
    expect(loadProfileDir(dir).decode.maxKvTokens).toBe(607545);
  });
});

describe('missing data', () => {
  it('says profiling results are required, naming the dir and the files looked for', () => {
    const dir = tmp();
    expect(() => loadProfileDir(dir)).toThrow(InputError);
    expect(() => loadProfileDir(dir)).toThrow(
      `profiling results are required: ${dir} has no selected_prefill_interpolation/raw_data.npz or prefill_raw_data.json, and no selected_decode_interpolation/raw_data.npz or decode_raw_data.json`,
    );
  });

  it('names the one missing part', () => {
    const dir = tmp();
    cpSync(`${FIX}/h100/qwen3-0.6b/configmap/prefill_raw_data.json`, join(dir, 'prefill_raw_data.json'));
    expect(() => loadProfileDir(dir)).toThrow(`${dir} has no selected_decode_interpolation/raw_data.npz or decode_raw_data.json;`);
  });

  it('reports a dir that does not exist', () => {
    expect(() => loadProfileDir('/nonexistent/profiling_results')).toThrow('profile dir /nonexistent/profiling_results does not exist; profiling results are required');
  });

  it('names a ConfigMap object whose data lacks a part', () => {
    const path = join(tmp(), 'cm.json');
    const prefill = readFileSync(`${FIX}/h100/qwen3-0.6b/configmap/prefill_raw_data.json`, 'utf8');
    writeFileSync(path, JSON.stringify({ kind: 'ConfigMap', data: { 'prefill_raw_data.json': prefill } }));
    expect(() => loadProfileDir(path)).toThrow(`${path} data.decode_raw_data.json: missing or not a string`);
  });
});

/** A copy of the qwen ConfigMap dir with one part edited. */
function edited(part: 'prefill' | 'decode', edit: (raw: Record<string, unknown>) => void): { dir: string; file: string } {
  const dir = tmp();
  cpSync(`${FIX}/h100/qwen3-0.6b/configmap`, dir, { recursive: true });
  const file = join(dir, `${part}_raw_data.json`);
  const raw = json(file);
  edit(raw);
  writeFileSync(file, JSON.stringify(raw));
  return { dir, file };
}

describe('bad data gives one clear error naming file and key', () => {
  const cases: Array<[string, 'prefill' | 'decode', (r: Record<string, any>) => void, string]> = [
    ['missing key', 'prefill', (r) => delete r.prefill_ttft, "missing key 'prefill_ttft'"],
    ['missing max_kv_tokens', 'decode', (r) => delete r.max_kv_tokens, "missing key 'max_kv_tokens'"],
    ['length mismatch', 'decode', (r) => r.z_itl.pop(), "key 'z_itl' has 53 values but 'x_kv_usage' has 54"],
    ['prefill length mismatch', 'prefill', (r) => r.prefill_thpt_per_gpu.push(1), "key 'prefill_thpt_per_gpu' has 12 values but 'prefill_isl' has 11"],
    ['null (NaN in JSON)', 'decode', (r) => (r.z_thpt_per_gpu[3] = null), "key 'z_thpt_per_gpu' has a non-finite value null at index 3"],
    ['string value', 'prefill', (r) => (r.prefill_isl[0] = '128'), "key 'prefill_isl' has a non-finite value \"128\" at index 0"],
    ['negative value', 'decode', (r) => (r.z_itl[5] = -1.5), "key 'z_itl' has a negative value -1.5 at index 5"],
    ['zero latency', 'prefill', (r) => (r.prefill_ttft[2] = 0), "key 'prefill_ttft' is 0 at index 2; it must be > 0"],
    ['not a list', 'decode', (r) => (r.x_kv_usage = 0.5), "key 'x_kv_usage' must be a list of numbers"],
    ['3 prefill points', 'prefill', (r) => ['prefill_isl', 'prefill_ttft', 'prefill_thpt_per_gpu'].forEach((k) => (r[k] = r[k].slice(0, 3))), "'prefill_isl' has 3 points; the cubic prefill interpolator needs at least 4 distinct ISLs"],
    ['duplicate ISL', 'prefill', (r) => (r.prefill_isl[1] = r.prefill_isl[0]), "'prefill_isl' has 128 twice (indexes 0 and 1)"],
    ['KV usage above 1', 'decode', (r) => (r.x_kv_usage[8] = 1.2), "'x_kv_usage' is 1.2 at index 8; KV usage is a fraction of max_kv_tokens and must lie in [0, 1] (up to 0.01 over is tolerated"],
    ['max_kv_tokens zero', 'decode', (r) => (r.max_kv_tokens = 0), "'max_kv_tokens' is 0; it must be the engine's KV capacity in tokens, > 0"],
    ['one context row only', 'decode', (r) => (r.y_context_length = r.y_context_length.map(() => 1024)), 'do not span an area (fewer than 3 distinct points, or all on one line)'],
    ['two points', 'decode', (r) => ['x_kv_usage', 'y_context_length', 'z_itl', 'z_thpt_per_gpu'].forEach((k) => (r[k] = r[k].slice(0, 2))), 'the 2 decode points'],
  ];
  it.each(cases)('%s', (_name, part, edit, message) => {
    const { dir, file } = edited(part, edit);
    expect(() => loadProfileDir(dir)).toThrow(InputError);
    expect(() => loadProfileDir(dir)).toThrow(`${file}: `);
    expect(() => loadProfileDir(dir)).toThrow(message);
  });

  it('tolerates KV usage a little above 1 (the profiler estimates it)', () => {
    const { dir } = edited('decode', (r: Record<string, any>) => (r.x_kv_usage[8] = 1.005));
    expect(loadProfileDir(dir).decode.kvUsage[8]).toBe(1.005);
  });

  it('rejects NaN inside an npz file, naming the npz and key', () => {
    const dir = tmp();
    cpSync(`${FIX}/h100/qwen3-0.6b/configmap`, dir, { recursive: true });
    mkdirSync(join(dir, 'selected_prefill_interpolation'));
    const file = join(dir, 'selected_prefill_interpolation', 'raw_data.npz');
    writeNpz(file, {
      prefill_isl: { dtype: '<i8', data: [100, 200, 400, 800] },
      prefill_ttft: { dtype: '<f8', data: [10, NaN, 15, 22] },
      prefill_thpt_per_gpu: { dtype: '<f8', data: [1, 2, 3, 4] },
    });
    expect(() => loadProfileDir(dir)).toThrow(`${file}: key 'prefill_ttft' has a non-finite value null at index 1`);
  });

  it('reports invalid JSON with the file name', () => {
    const dir = tmp();
    cpSync(`${FIX}/h100/qwen3-0.6b/configmap`, dir, { recursive: true });
    writeFileSync(join(dir, 'decode_raw_data.json'), '{"x_kv_usage": [0.1,');
    expect(() => loadProfileDir(dir)).toThrow(`${join(dir, 'decode_raw_data.json')}: not valid JSON`);
  });

  it('rejects throughputs of zero, values beyond any engine, and more points than the interpolators take', () => {
    const prefill = json(`${FIX}/h100/qwen3-0.6b/configmap/prefill_raw_data.json`);
    const cases: [Record<string, unknown>, string][] = [
      [{ prefill_thpt_per_gpu: prefill.prefill_thpt_per_gpu.map(() => 0) }, "key 'prefill_thpt_per_gpu' is 0 at index 0; it must be > 0"],
      [{ prefill_isl: prefill.prefill_isl.map((v: number, i: number) => v * 1e296 * (i + 1)) }, "key 'prefill_isl' is 1.28e+298 at index 0, beyond any engine (at most 100000000 tokens)"],
      [{ prefill_isl: Array.from({ length: 3000 }, (_, i) => i + 1), prefill_ttft: Array(3000).fill(5), prefill_thpt_per_gpu: Array(3000).fill(5) }, '3000 prefill points, more than the 2048'],
    ];
    for (const [change, message] of cases) {
      const dir = tmp();
      cpSync(`${FIX}/h100/qwen3-0.6b/configmap`, dir, { recursive: true });
      writeFileSync(join(dir, 'prefill_raw_data.json'), JSON.stringify({ ...prefill, ...change }));
      expect(() => loadProfileDir(dir)).toThrow(`${join(dir, 'prefill_raw_data.json')}: ${message}`);
    }
  });
});

describe('interpolated values stay physical', () => {
  it('a noisy decode sweep whose fit promises a negative ITL is refused, naming the file and the cell', () => {
    const decode = json(`${FIX}/h100/llama-3.1-8b/configmap/decode_raw_data.json`);
    let seed = 7;
    const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) - 0.5;
    // Measurement noise of the size the issue saw: the Clough-Tocher fit through it dips below zero.
    decode.z_itl = decode.z_itl.map((v: number) => Math.max(0.5, v * (1 + 3 * rnd())));
    const dir = tmp();
    cpSync(`${FIX}/h100/llama-3.1-8b/configmap`, dir, { recursive: true });
    writeFileSync(join(dir, 'decode_raw_data.json'), JSON.stringify(decode));
    const data = loadProfileDir(dir);
    expect(() => buildInterpolators(data)).toThrow(new RegExp(`^${join(dir, 'decode_raw_data.json').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: the decode points interpolate to an ITL of -?[\\d.e+-]+ ms at KV usage [\\d.]+, context \\d+, below [\\d.]+ ms \\(half the fastest measured\\)`));
  });

  it('every shipped and fixture profile passes the check unchanged', () => {
    for (const base of FIXTURES) for (const layout of ['npz', 'configmap']) expect(() => buildInterpolators(loadProfileDir(`${base}/${layout}`))).not.toThrow();
    expect(() => buildInterpolators(loadProfileDir('config/profile'))).not.toThrow();
  });
});
