// Fuzz: PlannerConfig input (JSON objects, YAML text, files through `sla-planner validate`). Every
// case is either a config that re-validates and can work, or one sentence naming the input.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import YAML from 'yaml';
import { describe, expect, it, vi } from 'vitest';
import { CONFIG_KEYS, CONFIG_MAX_BYTES, KEY_ALIASES, budgetShortfall, resolveConfig } from '../../src/config/index.js';
import { parseJsonText, parseYamlText } from '../../src/config/load.js';
import { SEED, expectOneSentence, limitMs, runs, tally } from './tally.js';

// Scaled with FUZZ_RUNS: the default budget fits vitest's 60 s.
vi.setConfig({ testTimeout: limitMs(), hookTimeout: limitMs() });

const ODD_NUMBERS = [0, -0, -1, 1, 0.5, -1e-300, 1e-300, 1e300, -1e300, 2 ** 31, 2 ** 53 + 2, Number.MAX_VALUE, 65536, 99999, 1e20];
const ODD_STRINGS = ['', ' ', 'yes', 'no', 'on', 'NaN', 'Infinity', '1e999', '0x10', '١٢', '\u0000', '${ENV}', '../../etc/passwd', 'http://', 'ftp://x', 'x'.repeat(5000)];

const key = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...CONFIG_KEYS) },
  { weight: 1, arbitrary: fc.constantFrom(...Object.keys(KEY_ALIASES)) },
  { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString') },
  { weight: 1, arbitrary: fc.string({ maxLength: 24 }) },
);
const value = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...ODD_NUMBERS) },
  { weight: 2, arbitrary: fc.constantFrom(...ODD_STRINGS) },
  { weight: 2, arbitrary: fc.integer({ min: -10, max: 200 }) },
  { weight: 1, arbitrary: fc.double() },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.constantFrom('disagg', 'agg', 'virtual', 'kubernetes', 'global-planner', 'arima', 'kalman', 'queueing', 'router') },
);
const configObject = fc.dictionary(key, value, { maxKeys: 14 });

/** A config that was accepted must be usable: it re-validates unchanged and, strictly, can work. */
function checkAccepted(config: ReturnType<typeof resolveConfig>['config'], strict: boolean): void {
  const again = resolveConfig(config, { env: {}, strict: false, origin: 'again' }).config;
  expect(again).toEqual(config);
  for (const [k, v] of Object.entries(config)) if (typeof v === 'number') expect(Number.isFinite(v), k).toBe(true);
  if (strict) expect(budgetShortfall(config, { prefill: config.prefill_engine_num_gpu, decode: config.decode_engine_num_gpu })).toBeNull();
}

function resolveOrSentence(input: unknown, origin: string, strict: boolean): void {
  let accepted: ReturnType<typeof resolveConfig> | undefined;
  try {
    accepted = resolveConfig(input, { env: {}, strict, origin });
  } catch (err) {
    expectOneSentence(err, origin);
    return;
  }
  checkAccepted(accepted.config, strict);
  for (const w of [...accepted.warnings, ...accepted.unworkable]) expect(w.includes('\n'), w).toBe(false);
}

describe('fuzz: config objects', () => {
  const t = tally('config: JSON objects, strict and lax');
  it('every object resolves to a workable config or one sentence naming the input', () => {
    fc.assert(fc.property(configObject, fc.boolean(), (obj, strict) => t.case(() => resolveOrSentence(obj, 'fuzz.json', strict))), { numRuns: runs(1500), seed: SEED });
  });
  it('objects that are not maps (arrays, scalars, nested junk) are one sentence', () => {
    fc.assert(fc.property(fc.oneof(fc.jsonValue(), fc.anything()), (v) => t.case(() => resolveOrSentence(v, 'fuzz.json', true))), { numRuns: runs(300), seed: SEED });
  });
});

/** YAML text with hostile constructs mixed into a real config. */
const yamlText = fc.tuple(configObject, fc.array(fc.constantFrom(
  'anchor', 'alias-bomb', 'merge', 'tag-binary', 'tag-python', 'duplicate', 'tab', 'bom', 'nul', 'deep-flow', 'deep-block', 'huge-number', 'inf', 'multi-doc', 'garbage', 'cut',
), { maxLength: 3 }), fc.nat()).map(([obj, mutations, n]) => {
  let text = YAML.stringify(obj, { aliasDuplicateObjects: false });
  for (const m of mutations) {
    switch (m) {
      case 'anchor': text = `base: &b {ttft: 100, itl: 10}\n${text}`; break;
      case 'alias-bomb': {
        const levels = ['a: &a [x, x, x, x, x, x, x, x, x]'];
        for (let i = 1; i < 9; i++) levels.push(`${'abcdefghi'[i]}: &${'abcdefghi'[i]} [${Array(9).fill(`*${'abcdefghi'[i - 1]}`).join(', ')}]`);
        text = `${levels.join('\n')}\n${text}`;
        break;
      }
      case 'merge': text = `base: &b {ttft: 100}\n<<: *b\n${text}`; break;
      case 'tag-binary': text += `ttft: !!binary aGVsbG8=\n`; break;
      case 'tag-python': text += `itl: !!python/object:os.system [rm -rf /]\n`; break;
      case 'duplicate': text += `ttft: 1\nttft: 2\n`; break;
      case 'tab': text = text.replace(/^(\s*)/m, '\t'); break;
      case 'bom': text = `\uFEFF${text}`; break;
      case 'nul': text = text.slice(0, n % (text.length + 1)) + '\u0000' + text.slice(n % (text.length + 1)); break;
      case 'deep-flow': text += `x: ${'['.repeat(2000 + (n % 20000))}${']'.repeat(2000 + (n % 20000))}\n`; break;
      case 'deep-block': text += Array.from({ length: 300 + (n % 3000) }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n') + ' 1\n'; break;
      case 'huge-number': text += `max_gpu_budget: 1${'0'.repeat(400)}\n`; break;
      case 'inf': text += `ttft: .inf\nitl: .nan\n`; break;
      case 'multi-doc': text += `---\nttft: 5\n`; break;
      case 'garbage': text = text.slice(0, n % (text.length + 1)) + '}{]["\':&*!|>%@`' + text.slice(n % (text.length + 1)); break;
      case 'cut': text = text.slice(0, n % (text.length + 1)); break;
    }
  }
  return text;
});

describe('fuzz: config YAML and JSON text', () => {
  const t = tally('config: YAML/JSON text');
  it('every text parses to a workable config or one sentence naming the file', () => {
    fc.assert(fc.property(yamlText, fc.boolean(), (text, strict) => t.case(() => {
      let data: unknown;
      try {
        data = parseYamlText(text, 'fuzz.yaml');
      } catch (err) {
        expectOneSentence(err, 'fuzz.yaml');
        return;
      }
      resolveOrSentence(data, 'fuzz.yaml', strict);
    })), { numRuns: runs(400), seed: SEED });
  });
  it('JSON text: deep nesting, cut-off documents, odd literals', () => {
    const json = fc.oneof(
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc.nat({ max: 300_000 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
      fc.nat({ max: 300_000 }).map((n) => `{"ttft": ${'['.repeat(n)}1${']'.repeat(n)}}`),
      fc.tuple(configObject, fc.nat()).map(([o, n]) => { const s = JSON.stringify(o); return s.slice(0, n % (s.length + 1)); }),
      fc.constantFrom('{"ttft": NaN}', '{"ttft": 1e400}', '{"ttft": -0}', '{"ttft": 0x10}', "{'ttft': 1}", '{"ttft": 1,}', '\uFEFF{}', '{"a":1}{"b":2}'),
    );
    fc.assert(fc.property(json, (text) => t.case(() => {
      let data: unknown;
      try {
        data = parseJsonText(text, 'fuzz.json');
      } catch (err) {
        expectOneSentence(err, 'fuzz.json');
        return;
      }
      resolveOrSentence(data, 'fuzz.json', true);
    })), { numRuns: runs(200), seed: SEED });
  });
});

describe('fuzz: hostile config files through `sla-planner validate` (process)', () => {
  const t = tally('config: files via validate (process)');
  const dir = mkdtempSync(join(tmpdir(), 'sla-fuzz-config-'));
  const files: [string, string | Buffer][] = [
    ['alias-bomb.yaml', 'a: &a ["x","x","x","x","x","x","x","x","x"]\n' + 'bcdefgh'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefgh'[i]}`).join(',')}]`).join('\n') + '\nttft: 200\n'],
    ['deep-flow.yaml', `x: ${'['.repeat(20000)}${']'.repeat(20000)}\n`],
    ['deep-block.yaml', Array.from({ length: 5000 }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n') + ' 1\n'],
    ['deep.json', '{"ttft": ' + '['.repeat(200000) + ']'.repeat(200000) + '}'],
    ['too-big.json', Buffer.alloc(CONFIG_MAX_BYTES + 1, 0x20)],
    ['binary.yaml', Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x80, 0x81, 0x0a, 0x3a, 0x3a])],
    ['budget.json', JSON.stringify({ environment: 'virtual', prefill_engine_num_gpu: 8, decode_engine_num_gpu: 8, max_gpu_budget: 8 })],
    ['tags.yaml', 'ttft: !!python/object:os.system ["id"]\n'],
    ['empty.yaml', ''],
    ['list.json', '[1,2,3]'],
    ['proto.json', '{"__proto__": {"polluted": true}, "ttft": 100}'],
    ['interval.json', JSON.stringify({ environment: 'virtual', prefill_engine_num_gpu: 1, decode_engine_num_gpu: 1, throughput_adjustment_interval: 3_000_000 })],
  ];
  for (const [name, content] of files) writeFileSync(join(dir, name), content);

  it.each(files.map(([name]) => name))('%s: exit 0 with a config, or exit 2 with one line naming the file', (name) => t.case(() => {
    const path = join(dir, name);
    const r = spawnSync(process.execPath, ['dist/src/cli.js', 'validate', '--config', path], { encoding: 'utf8', env: { PATH: process.env.PATH }, timeout: 30_000 });
    expect(r.signal, r.stderr).toBeNull();
    expect([0, 2]).toContain(r.status);
    expect(r.stderr).not.toMatch(/\n\s+at |FATAL|Error:/);
    if (r.status === 2) {
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain(path);
    } else {
      expect(JSON.parse(r.stdout)).toHaveProperty('ttft');
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    }
  }));
});
