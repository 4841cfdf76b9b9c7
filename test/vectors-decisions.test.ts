// Every decision case the original planner produced (../shared/reference/vectors/decisions),
// replayed interval by interval through our Planner.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config/index.js';
import { buildInterpolators, loadProfileDir } from '../src/profile/index.js';
import { Planner } from '../src/scaling/planner.js';
import { replayObservations, type ReplayLine } from '../src/scaling/replay.js';
import { parseObservation } from '../src/scaling/observation.js';

const SHARED = join(__dirname, '..', '..', 'shared');
const DIR = join(SHARED, 'reference', 'vectors', 'decisions');

interface Case {
  name: string;
  config: unknown;
  profileDir: string;
  observations: unknown[];
  expected: Record<string, unknown>[];
}

function jsonl(path: string): Record<string, unknown>[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

function loadCases(): Case[] {
  const files = readdirSync(DIR);
  const cases: Case[] = [];
  for (const f of files.filter((f) => f.endsWith('.config.json'))) {
    const name = f.replace(/\.config\.json$/, '');
    const model = readFileSync(join(DIR, `${name}.profile`), 'utf8').trim();
    cases.push({
      name,
      config: JSON.parse(readFileSync(join(DIR, f), 'utf8')),
      profileDir: join(SHARED, 'fixtures', 'h100', model, 'configmap'),
      observations: jsonl(join(DIR, `${name}.observations.jsonl`)),
      expected: jsonl(join(DIR, `${name}.expected.jsonl`)),
    });
  }
  for (const f of files.filter((f) => f.endsWith('.input.json'))) {
    const name = f.replace(/\.input\.json$/, '');
    const input = JSON.parse(readFileSync(join(DIR, f), 'utf8')) as { config: unknown; profile_dir: string; observations: unknown[] };
    cases.push({
      name,
      config: input.config,
      profileDir: join(SHARED, input.profile_dir),
      observations: input.observations,
      expected: jsonl(join(DIR, `${name}.expected.jsonl`)),
    });
  }
  return cases;
}

const profiles = new Map<string, ReturnType<typeof buildInterpolators>>();
function interpolatorsFor(dir: string) {
  let it = profiles.get(dir);
  if (!it) profiles.set(dir, (it = buildInterpolators(loadProfileDir(dir))));
  return it;
}

function replay(c: Case): ReplayLine[] {
  const { config } = resolveConfig(c.config, { env: {} });
  const planner = new Planner({ config, interpolators: interpolatorsFor(c.profileDir) });
  const observations = c.observations.map((o, i) => parseObservation(o, `${c.name} observation ${i}`));
  return [...replayObservations(planner, observations)];
}

/** Compare numbers to 1e-9 relative, everything else exactly. */
function close(actual: unknown, expected: unknown, path: string): void {
  if (typeof expected === 'number') {
    expect(typeof actual, path).toBe('number');
    const tol = 1e-9 * Math.max(1, Math.abs(expected));
    expect(Math.abs((actual as number) - expected), `${path}: ${String(actual)} vs ${expected}`).toBeLessThanOrEqual(tol);
  } else if (Array.isArray(expected)) {
    expect(Array.isArray(actual), path).toBe(true);
    expect((actual as unknown[]).length, `${path}.length`).toBe(expected.length);
    expected.forEach((e, i) => close((actual as unknown[])[i], e, `${path}[${i}]`));
  } else if (expected !== null && typeof expected === 'object') {
    for (const [k, e] of Object.entries(expected)) close((actual as Record<string, unknown>)?.[k], e, `${path}.${k}`);
  } else {
    expect(actual, path).toEqual(expected);
  }
}

const cases = loadCases();

describe('reference decision vectors', () => {
  it('finds every case', () => {
    expect(cases.length).toBe(10);
  });
  for (const c of cases) {
    it(`${c.name}: ${c.expected.length} intervals match the original`, () => {
      const lines = replay(c);
      expect(lines.length).toBe(c.expected.length);
      c.expected.forEach((exp, i) => close(lines[i], exp, `${c.name} interval ${i}`));
    });
  }
});
